/**
 * The multiclass SVM loss in CS231n's form (https://cs231n.github.io/linear-classify/). The other losses of the
 * classic models are the shared ones in ops (`crossEntropy`, `binaryCrossEntropyWithLogits`).
 */
import { ShapeError } from '../errors.js'
import { gatherElements, relu } from '../ops/index.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'

/** Class targets as int32 (labels stored as floats are accepted). */
export const classTargets = (target: Tensor): Tensor => (target.dtype === 'int32' ? target : target.to('int32'))

/** Class indices (N) as int32 (N, 1), checked against (N, C) scores. */
export function classIndex(scores: Tensor, target: Tensor, what: string): Tensor {
  if (scores.rank !== 2 || target.rank !== 1 || target.shape[0] !== scores.shape[0])
    throw new ShapeError(
      `${what}: expected scores (N, C) and class indices (N), got ${fmt(scores.shape)} and ${fmt(target.shape)}`,
    )
  return classTargets(target).reshape([-1, 1])
}

/**
 * Multiclass SVM (hinge) loss (CS231n): L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin), averaged
 * over samples. The j = y_i term of the full sum is max(0, margin) = margin for every sample, so it
 * is subtracted rather than masked (same value and gradient).
 * NOTE: unlike torch's MultiMarginLoss (ops.multiMarginLoss), the sum is not divided by the number
 * of classes: this is CS231n's definition (Weston & Watkins 1999).
 */
export function multiclassHingeLoss(scores: Tensor, target: Tensor, margin = 1): Tensor {
  const y = classIndex(scores, target, 'multiclassHingeLoss')
  const correct = gatherElements(scores, 1, y) // (N, 1)
  return relu(scores.sub(correct).add(margin)).sum(1).sub(margin).mean()
}

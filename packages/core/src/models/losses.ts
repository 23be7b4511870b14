/**
 * The losses of the classic models, written from ops so autograd differentiates them. Each takes
 * raw scores (logits), never probabilities, for numerical stability.
 */
import { ShapeError } from '../errors.js'
import { gatherElements, logSoftmax, relu, softplus } from '../ops/index.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'

/** Class indices (N) as int32, checked against (N, C) scores. */
function classIndex(scores: Tensor, target: Tensor, what: string): Tensor {
  if (scores.rank !== 2 || target.rank !== 1 || target.shape[0] !== scores.shape[0])
    throw new ShapeError(`${what}: expected scores (N, C) and class indices (N), got ${fmt(scores.shape)} and ${fmt(target.shape)}`)
  return (target.dtype === 'int32' ? target : target.to('int32')).reshape([-1, 1])
}

/** Softmax cross-entropy -mean_i log softmax(s_i)[y_i] (notes 001: categorical cross-entropy). */
export function softmaxCrossEntropy(scores: Tensor, target: Tensor): Tensor {
  const y = classIndex(scores, target, 'softmaxCrossEntropy')
  return gatherElements(logSoftmax(scores, 1), 1, y).mean().neg()
}

/**
 * Binary cross-entropy from logits z and 0/1 targets y: mean of log(1 + e^z) - y z, which equals
 * -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] (notes 001, logistic loss).
 * NOTE: written with softplus (stable for any z) instead of log(sigmoid(z)), which gives -Infinity
 * once sigmoid(z) rounds to 0; the gradient is sigmoid(z) - y.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor): Tensor {
  if (logits.size !== target.size) throw new ShapeError(`binaryCrossEntropyWithLogits: logits ${fmt(logits.shape)} and targets ${fmt(target.shape)} differ in size`)
  const y = target.to(logits.dtype).reshape([...logits.shape])
  return softplus(logits).sub(logits.mul(y)).mean()
}

/**
 * Multiclass SVM (hinge) loss, notes 003: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin), averaged
 * over samples. The j = y_i term of the full sum is max(0, margin) = margin for every sample, so it
 * is subtracted rather than masked (same value and gradient).
 */
export function multiclassHingeLoss(scores: Tensor, target: Tensor, margin = 1): Tensor {
  const y = classIndex(scores, target, 'multiclassHingeLoss')
  const correct = gatherElements(scores, 1, y) // (N, 1)
  return relu(scores.sub(correct).add(margin)).sum(1).sub(margin).mean()
}

/**
 * Self-training (自学习), the common semi-supervised algorithm (Scudder 1965; Stanford CS 329P,
 * "Data labeling", https://c.d2l.ai/stanford-cs329p/): train on the labelled data, predict the unlabelled data, adopt
 * the predictions the model is confident about (probability >= threshold) as pseudo-labels, retrain on the enlarged
 * set, and repeat until no new sample passes the threshold. The key point is keeping the pseudo-labels reliable: a high
 * threshold trades fewer adopted samples for fewer wrong labels.
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { concat, gather, sigmoid, softmax } from '../ops/index.js'
import { fmt } from '../shape.js'
import { Tensor, tensor } from '../tensor.js'
import { type FitOptions, fit, predict } from './fit.js'
import type { History } from './history.js'
import type { AnyModule } from './types.js'

export interface SelfTrainingOptions extends Omit<FitOptions, 'trainData'> {
  /** Confidence a prediction needs to become a pseudo-label (default 0.9). */
  threshold?: number
  /** Most rounds of pseudo-labelling after the first fit (default 5). */
  maxRounds?: number
}

export interface SelfTrainingResult {
  /** Pseudo-label of each unlabelled sample, -1 where none was adopted. */
  pseudoLabels: Int32Array
  /** Samples adopted in each round. */
  added: number[]
  /** One History per fit (the first on labelled data only). */
  histories: History[]
}

/** Class probabilities from model outputs: softmax over (N, C) scores, sigmoid of a single logit. */
function probabilities(out: Tensor): { label: Int32Array; confidence: Float64Array } {
  const n = out.shape[0]!
  if (out.rank === 1 || (out.rank === 2 && out.shape[1] === 1)) {
    const p = sigmoid(out).data
    const label = Int32Array.from({ length: n }, (_, i) => (Number(p[i]) >= 0.5 ? 1 : 0))
    return { label, confidence: Float64Array.from({ length: n }, (_, i) => Math.max(Number(p[i]), 1 - Number(p[i]))) }
  }
  if (out.rank !== 2) throw new ShapeError(`selfTraining expects (N, C) or (N) outputs, got ${fmt(out.shape)}`)
  const p = softmax(out, 1)
  const label = p.argmax(1).data as Int32Array
  const best = p.max(1).data
  return { label, confidence: Float64Array.from(best as ArrayLike<number>) }
}

/**
 * Self-train `model` from `labeled` = [x, y] and unlabelled inputs `unlabeled`. The target dtype of
 * the pseudo-labels follows y's (class indices, or 0/1 floats for a binary model).
 */
export function selfTraining(
  model: AnyModule,
  labeled: [Tensor, Tensor],
  unlabeled: Tensor,
  opts: SelfTrainingOptions,
): SelfTrainingResult {
  const { threshold = 0.9, maxRounds = 5, ...fitOpts } = opts
  if (!(threshold > 0 && threshold <= 1))
    throw new ArgumentError(`selfTraining: threshold must be in (0, 1], got ${threshold}`)
  const [x0, y0] = labeled
  const n = unlabeled.shape[0]!
  const pseudoLabels = new Int32Array(n).fill(-1)
  const histories = [fit(model, { ...fitOpts, trainData: [x0, y0] })]
  const added: number[] = []
  for (let round = 0; round < maxRounds; round++) {
    const remaining = Int32Array.from(pseudoLabels.keys()).filter((i) => pseudoLabels[i] === -1)
    if (remaining.length === 0) break
    const xr = gather(unlabeled, 0, tensor(remaining, { dtype: 'int32' }))
    const { label, confidence } = probabilities(predict(model, xr))
    let count = 0
    remaining.forEach((i, j) => {
      if (confidence[j]! >= threshold) {
        pseudoLabels[i] = label[j]!
        count++
      }
    })
    added.push(count)
    if (count === 0) break
    // Retrain on the labelled data plus every pseudo-labelled sample so far.
    const chosen = Int32Array.from(pseudoLabels.keys()).filter((i) => pseudoLabels[i]! >= 0)
    const xp = gather(unlabeled, 0, tensor(chosen, { dtype: 'int32' }))
    const yp = new Tensor(
      Int32Array.from(chosen, (i) => pseudoLabels[i]!),
      [chosen.length],
    )
      .to(y0.dtype)
      .reshape([chosen.length, ...y0.shape.slice(1)])
    histories.push(fit(model, { ...fitOpts, trainData: [concat([x0, xp], 0), concat([y0, yp], 0)] }))
  }
  return { pseudoLabels, added, histories }
}

/**
 * The SSD training loss (Liu et al. 2016, https://arxiv.org/abs/1512.02325, section 2.2; the
 * formulation of torchvision's SSD.compute_loss):
 * - classification: softmax cross-entropy over the positive anchors plus the hardest negatives,
 *   at most `negPosRatio` (3) per positive per image (hard negative mining);
 * - localisation: smooth L1 (β = 1) on the encoded offsets of the positive anchors;
 * both summed and divided by the number of positives (at least 1).
 */
import { ArgumentError, ShapeError, type Tensor, crossEntropy, noGrad, smoothL1Loss, tensor } from '@refnets/core'

export interface SsdLossTargets {
  /** (N, A) int32 labels per anchor: 0 background, c > 0 the class column of the logits. */
  labels: Tensor
  /** (N, A, 4) regression targets (offsets); only rows with a positive label count. */
  offsets: Tensor
}

export interface SsdLoss {
  classification: Tensor
  bboxRegression: Tensor
  total: Tensor
}

/** SSD loss of logits (N, A, C) and offsets (N, A, 4) against per-anchor targets. */
export function ssdLoss(
  clsLogits: Tensor,
  bboxRegression: Tensor,
  targets: SsdLossTargets,
  { negPosRatio = 3 } = {},
): SsdLoss {
  const [n, a, c] = clsLogits.shape as [number, number, number]
  if (
    clsLogits.rank !== 3 ||
    bboxRegression.rank !== 3 ||
    bboxRegression.shape[0] !== n ||
    bboxRegression.shape[1] !== a ||
    bboxRegression.shape[2] !== 4
  )
    throw new ShapeError(
      `ssdLoss: expected logits (N, A, C) and offsets (N, A, 4), got [${clsLogits.shape}] and [${bboxRegression.shape}]`,
    )
  if (targets.labels.shape.join() !== `${n},${a}` || targets.offsets.shape.join() !== `${n},${a},4`)
    throw new ShapeError(
      `ssdLoss: targets must be labels (${n}, ${a}) and offsets (${n}, ${a}, 4), got [${targets.labels.shape}] and [${targets.offsets.shape}]`,
    )
  if (!(negPosRatio >= 0)) throw new ArgumentError(`ssdLoss: negPosRatio must be >= 0, got ${negPosRatio}`)
  const labels = targets.labels.data as Int32Array
  // (N A, C) logits against (N A) labels; crossEntropy checks the class range.
  const ce = crossEntropy(clsLogits.reshape(n * a, c), targets.labels.reshape(n * a), { reduction: 'none' }).reshape(
    n,
    a,
  )
  const ceVals = noGrad(() => ce.data)
  const pos = new Float64Array(n * a)
  const sel = new Float64Array(n * a)
  let numPos = 0
  for (let i = 0; i < n; i++) {
    const neg: number[] = []
    let p = 0
    for (let j = 0; j < a; j++) {
      if (labels[i * a + j]! > 0) {
        pos[i * a + j] = 1
        sel[i * a + j] = 1
        p++
      } else neg.push(i * a + j)
    }
    numPos += p
    // hardest negatives first (stable for ties)
    neg.sort((u, v) => ceVals[v]! - ceVals[u]! || u - v)
    for (const k of neg.slice(0, negPosRatio * p)) sel[k] = 1
  }
  const dt = clsLogits.dtype
  const denom = Math.max(1, numPos)
  const classification = ce
    .mul(tensor(sel, { shape: [n, a] }).to(dt))
    .sum()
    .div(denom)
  const l1 = smoothL1Loss(bboxRegression, targets.offsets.to(dt), 1, 'none').sum(2)
  const bbox = l1
    .mul(tensor(pos, { shape: [n, a] }).to(dt))
    .sum()
    .div(denom)
  return { classification, bboxRegression: bbox, total: classification.add(bbox) }
}

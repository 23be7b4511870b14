/**
 * Semantic segmentation metrics (FCN, Long et al. 2015, Section 5): from the confusion matrix
 * n[i][j] = number of pixels of true class i predicted as class j,
 *   pixel accuracy = sum_i n_ii / sum_ij n_ij
 *   IoU of class i = n_ii / (t_i + sum_j n_ji - n_ii), t_i = sum_j n_ij (pixels of class i)
 *   mean IoU       = the mean of IoU over the classes that occur (in the target or the prediction).
 * Pixels labelled `ignoreIndex` (PASCAL VOC marks object borders 255) are left out. The matrix is
 * core's `metrics.confusionMatrix(target, pred)` (truth first, as everywhere in refnets).
 */
import { ShapeError, type Tensor, argmax, metrics } from '@refnets/core'

export interface SegmentationMetricOptions {
  /** Target label to leave out (default 255, PASCAL VOC's border label). */
  ignoreIndex?: number
}

/** Predicted labels (B, H, W) from labels or from scores (B, numClasses, H, W) by argmax over classes. */
function labels(pred: Tensor, target: Tensor): Tensor {
  if (pred.rank === target.rank + 1) return argmax(pred, 1)
  if (pred.rank !== target.rank)
    throw new ShapeError(
      `segmentation metrics: expected predictions (B, H, W) or scores (B, C, H, W) for targets ${JSON.stringify(target.shape)}, got ${JSON.stringify(pred.shape)}`,
    )
  return pred
}

/**
 * The (numClasses, numClasses) pixel confusion matrix, rows = true class, columns = predicted class,
 * flattened row-major: core's `metrics.confusionMatrix(yTrue, yPred)` over the pixels.
 */
function pixelConfusion(
  pred: Tensor,
  target: Tensor,
  numClasses: number,
  { ignoreIndex = 255 }: SegmentationMetricOptions,
): Float64Array {
  const p = labels(pred, target)
  if (p.size !== target.size)
    throw new ShapeError(`segmentation metrics: predictions have ${p.size} pixels, targets ${target.size}`)
  return Float64Array.from(
    metrics.confusionMatrix(target.reshape([target.size]), p.reshape([p.size]), numClasses, { ignoreIndex }).flat(),
  )
}

/** Fraction of (non-ignored) pixels whose predicted class is right. */
export function pixelAccuracy(
  pred: Tensor,
  target: Tensor,
  numClasses: number,
  opts: SegmentationMetricOptions = {},
): number {
  const m = pixelConfusion(pred, target, numClasses, opts)
  let right = 0
  let total = 0
  for (let i = 0; i < numClasses; i++) right += m[i * numClasses + i]!
  for (const v of m) total += v
  return total === 0 ? 0 : right / total
}

/** IoU per class (NaN for a class absent from both the target and the prediction). */
export function classIoU(
  pred: Tensor,
  target: Tensor,
  numClasses: number,
  opts: SegmentationMetricOptions = {},
): number[] {
  const m = pixelConfusion(pred, target, numClasses, opts)
  return Array.from({ length: numClasses }, (_, i) => {
    let row = 0
    let col = 0
    for (let j = 0; j < numClasses; j++) {
      row += m[i * numClasses + j]!
      col += m[j * numClasses + i]!
    }
    const union = row + col - m[i * numClasses + i]!
    return union === 0 ? Number.NaN : m[i * numClasses + i]! / union
  })
}

/** Mean IoU over the classes present in the target or the prediction. */
export function meanIoU(
  pred: Tensor,
  target: Tensor,
  numClasses: number,
  opts: SegmentationMetricOptions = {},
): number {
  const ious = classIoU(pred, target, numClasses, opts).filter((v) => !Number.isNaN(v))
  return ious.length === 0 ? 0 : ious.reduce((a, b) => a + b, 0) / ious.length
}

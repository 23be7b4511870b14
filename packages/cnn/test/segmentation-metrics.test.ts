/**
 * Pixel accuracy and mean IoU (FCN, Long et al. 2015, Section 5) on hand-counted examples.
 */
import { ArgumentError, ShapeError, metrics, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import * as cnn from '../src/index.js'
import { classIoU, meanIoU, pixelAccuracy } from '../src/index.js'

// One 3x4 image, 3 classes.
const target = tensor(
  [
    [
      [0, 0, 1, 1],
      [0, 2, 1, 1],
      [2, 2, 2, 255],
    ],
  ],
  { dtype: 'int32' },
)
const pred = tensor(
  [
    [
      [0, 1, 1, 1],
      [0, 2, 2, 1],
      [2, 2, 0, 0],
    ],
  ],
  { dtype: 'int32' },
)

describe('segmentation metrics', () => {
  it("counts pixels with core's confusion matrix (truth first; rows = truth, columns = prediction), leaving out the ignore label", () => {
    expect(metrics.confusionMatrix(target.reshape([12]), pred.reshape([12]), 3, { ignoreIndex: 255 })).toEqual([
      [2, 1, 0], // truth 0: two right, one called 1
      [0, 3, 1], // truth 1: three right, one called 2
      [1, 0, 3], // truth 2: three right, one called 0
    ])
    // One confusion matrix in refnets: cnn no longer has its own (with the opposite argument order).
    expect('confusionMatrix' in cnn).toBe(false)
  })

  it('pixel accuracy = right / counted; IoU = n_ii / (row_i + col_i - n_ii); mean over present classes', () => {
    expect(pixelAccuracy(pred, target, 3)).toBeCloseTo(8 / 11, 15)
    const ious = classIoU(pred, target, 3)
    expect(ious[0]).toBeCloseTo(2 / (3 + 3 - 2), 15)
    expect(ious[1]).toBeCloseTo(3 / (4 + 4 - 3), 15)
    expect(ious[2]).toBeCloseTo(3 / (4 + 4 - 3), 15)
    expect(meanIoU(pred, target, 3)).toBeCloseTo((0.5 + 0.6 + 0.6) / 3, 15)
    // A class absent from both truth and prediction has no IoU and does not count in the mean.
    expect(Number.isNaN(classIoU(pred, target, 4)[3])).toBe(true)
    expect(meanIoU(pred, target, 4)).toBeCloseTo(meanIoU(pred, target, 3), 15)
    // Without the ignore label, the 255 pixel is out of range.
    expect(() => pixelAccuracy(pred, target, 3, { ignoreIndex: -1 })).toThrow(ArgumentError)
  })

  it('takes class scores (B, C, H, W) and predicts by argmax over classes', () => {
    const scores = tensor([[[[0.9, 0.1]], [[0.05, 0.8]], [[0.05, 0.1]]]]) // (1, 3, 1, 2): classes 0, 1
    const t = tensor([[[0, 2]]], { dtype: 'int32' })
    expect(pixelAccuracy(scores, t, 3)).toBe(0.5)
    expect(meanIoU(scores, t, 3)).toBeCloseTo((1 + 0 + 0) / 3, 15)
    expect(() => pixelAccuracy(tensor([1, 2]), t, 3)).toThrow(ShapeError)
  })
})

/** NMS against torchvision.ops.nms / batched_nms (ties, identical boxes), its variants and bad input. */
import { ArgumentError, ShapeError, tensor, zeros } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { BoxError, batchedNms, detect, nms } from '../src/index.js'
import { f64, fx } from './helpers/golden.js'

const boxes = f64(fx.nms.boxes)
const scores = f64(fx.nms.scores)

describe('greedy NMS against torchvision', () => {
  type Case = { iou_threshold: number; keep: number[]; batched_keep: number[] }
  it.each((fx.nms.cases as Case[]).map((c) => [c.iou_threshold, c] as [number, Case]))('iou threshold %s', (thr, c) => {
    expect(nms(boxes, scores, thr)).toEqual(c.keep)
    expect(batchedNms(boxes, scores, fx.nms.classes, thr)).toEqual(c.batched_keep)
  })

  it('keeps one of two identical boxes, and both when they are in different classes', () => {
    const b = f64([
      [0, 0, 2, 2],
      [0, 0, 2, 2],
    ])
    const s = f64([0.9, 0.9])
    expect(nms(b, s, 0.99)).toEqual([0])
    expect(batchedNms(b, s, [0, 1], 0.5)).toEqual([0, 1])
  })
})

describe('detect: thresholds, top-k, max detections and NMS variants', () => {
  const b = f64([
    [0, 0, 10, 10],
    [1, 0, 11, 10],
    [20, 20, 30, 30],
    [0, 0, 10, 9],
    [12, 0, 22, 10],
  ])
  const s = f64([0.9, 0.8, 0.7, 0.3, 0.6])
  it('greedy with a score threshold, top-k and max detections', () => {
    expect(detect(b, s, { iouThreshold: 0.5 }).indices).toEqual([0, 2, 4])
    expect(detect(b, s, { iouThreshold: 0.5, scoreThreshold: 0.65 }).indices).toEqual([0, 2])
    expect(detect(b, s, { iouThreshold: 0.5, maxDetections: 2 }).indices).toEqual([0, 2])
    expect(detect(b, s, { iouThreshold: 0.5, topK: 2 }).indices).toEqual([0])
    expect(detect(b, s, { classes: [0, 1, 0, 0, 0] }).indices).toEqual([0, 1, 2, 4])
  })

  it('soft-NMS decays overlapping scores instead of dropping them', () => {
    const lin = detect(b, s, { method: 'soft-linear', iouThreshold: 0.3 })
    const iou01 = 90 / 110
    expect(lin.indices).toEqual([0, 2, 4, 1, 3])
    expect(lin.scores[3]).toBeCloseTo(0.8 * (1 - iou01), 12)
    const g = detect(b, s, { method: 'soft-gaussian', sigma: 0.5, scoreThreshold: 0.01 })
    expect(g.indices[0]).toBe(0)
    expect(g.scores[g.indices.indexOf(1)]).toBeCloseTo(0.8 * Math.exp(-(iou01 ** 2) / 0.5), 12)
  })

  it('DIoU-NMS keeps an overlapping box whose centre is far away', () => {
    // IoU of the two is 0.4; DIoU subtracts the centre-distance term, so at threshold 0.35 only greedy suppresses.
    const bb = f64([
      [0, 0, 10, 10],
      [0, 4.2857142857142865, 10, 14.285714285714286],
    ])
    const ss = f64([0.9, 0.8])
    expect(detect(bb, ss, { iouThreshold: 0.35 }).indices).toEqual([0])
    expect(detect(bb, ss, { method: 'diou', iouThreshold: 0.35 }).indices).toEqual([0, 1])
  })
})

describe('bad input', () => {
  it('empty in, empty out', () => {
    const e = zeros([0, 4], { dtype: 'float64' })
    expect(nms(e, zeros([0], { dtype: 'float64' }), 0.5)).toEqual([])
    expect(detect(e, zeros([0], { dtype: 'float64' }), { method: 'soft-gaussian' })).toEqual({
      indices: [],
      scores: [],
    })
  })
  it('typed errors for x2 < x1, NaN scores, mismatched shapes, bad class ids and thresholds', () => {
    expect(() => nms(f64([[3, 0, 1, 1]]), f64([1]), 0.5)).toThrow(BoxError)
    expect(() => nms(f64([[0, 0, 1, 1]]), f64([NaN]), 0.5)).toThrow(/score 0 is NaN/)
    expect(() => nms(f64([[0, 0, 1, 1]]), f64([1, 2]), 0.5)).toThrow(ShapeError)
    expect(() => batchedNms(f64([[0, 0, 1, 1]]), f64([1]), [-1], 0.5)).toThrow(ArgumentError)
    expect(() => batchedNms(f64([[0, 0, 1, 1]]), f64([1]), tensor([0.5]), 0.5)).toThrow(ArgumentError)
    expect(() => nms(f64([[0, 0, 1, 1]]), f64([1]), 1.5)).toThrow(ArgumentError)
    expect(() => detect(f64([[0, 0, 1, 1]]), f64([1]), { method: 'fast' as 'greedy' })).toThrow(ArgumentError)
  })
})

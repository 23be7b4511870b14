/** The synthetic data set (seeded, COCO JSON) and drawing boxes with labels (PNG). */
import { ArgumentError, ShapeError, zeros } from '@refnets/core'
import { decodePng } from '@refnets/cnn/image'
import { describe, expect, it } from 'vitest'
import {
  cocoEvaluate,
  parseCocoDataset,
  syntheticDetectionData,
  toCoco,
  toCocoResults,
  writeCocoJson,
} from '../src/index.js'
import { drawBoxes, drawBoxesPng } from '../src/draw.js'

describe('synthetic detection data', () => {
  const a = syntheticDetectionData({ count: 6, size: 48, seed: 3 })
  it('is the same for the same seed, different for another, with boxes inside the image', () => {
    const b = syntheticDetectionData({ count: 6, size: 48, seed: 3 })
    const c = syntheticDetectionData({ count: 6, size: 48, seed: 4 })
    expect([...a[5]!.image.data]).toEqual([...b[5]!.image.data])
    expect(a.map((s) => s.boxes)).toEqual(b.map((s) => s.boxes))
    expect(a.map((s) => s.boxes)).not.toEqual(c.map((s) => s.boxes))
    for (const s of a) {
      expect(s.image.shape).toEqual([3, 48, 48])
      expect(s.boxes.length).toBeGreaterThanOrEqual(1)
      expect(s.boxes.length).toBe(s.labels.length)
      for (const [x1, y1, x2, y2] of s.boxes)
        expect(x1! >= 0 && y1! >= 0 && x2! <= 48 && y2! <= 48 && x2! > x1! && y2! > y1!).toBe(true)
    }
  })
  it('writes COCO JSON that the evaluator reads (ground truth as results gives AP 1)', () => {
    const coco = parseCocoDataset(writeCocoJson(toCoco(a)))
    expect(coco.images.length).toBe(6)
    expect(coco.annotations.length).toBe(a.reduce((s, x) => s + x.boxes.length, 0))
    const results = a.flatMap((s, i) =>
      toCocoResults(
        i + 1,
        s.boxes,
        s.boxes.map(() => 1),
        s.labels.map((l) => l + 1),
      ),
    )
    expect(cocoEvaluate(coco, results).stats[1]).toBeCloseTo(1, 12)
  })
  it('rejects a negative count', () => {
    expect(() => syntheticDetectionData({ count: -1 })).toThrow(ArgumentError)
  })
})

describe('drawing', () => {
  it('outlines boxes in their colour and writes a label tab; PNG round-trips', () => {
    const img = zeros([3, 20, 30])
    const out = drawBoxes(img, [[2, 8, 12, 18]], ['A1'], [0], { palette: [[1, 0, 0]] })
    const px = (c: number, y: number, x: number) => out.data[(c * 20 + y) * 30 + x]
    expect([px(0, 18, 5), px(1, 18, 5), px(2, 18, 5)]).toEqual([1, 0, 0]) // bottom edge
    expect(px(0, 13, 7)).toBe(0) // inside stays
    expect(px(0, 1, 2)).toBe(1) // tab above the box
    const back = decodePng(drawBoxesPng(img, [[2, 8, 12, 18]], ['A1']))
    expect(back.shape).toEqual([3, 20, 30])
    expect(img.data.every((v) => v === 0)).toBe(true) // the input is not changed
  })
  it('rejects a non-image and non-finite boxes', () => {
    expect(() => drawBoxes(zeros([20, 30]), [])).toThrow(ShapeError)
    expect(() => drawBoxes(zeros([3, 4, 4]), [[0, 0, NaN, 1]])).toThrow(ArgumentError)
  })
})

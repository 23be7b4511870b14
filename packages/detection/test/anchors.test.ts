/**
 * Anchors: d2l's multibox prior and multibox target (values printed in d2l.ai's "Anchor Boxes"),
 * SSD default boxes (torchvision's SSD300 layout), YOLO anchors, offset round trips, k-means.
 */
import { ArgumentError, Generator, rand, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  assignAnchors,
  decodeBoxes,
  encodeBoxes,
  kmeansAnchors,
  multiboxPrior,
  multiboxTarget,
  ssdBoxesPerLevel,
  ssdDefaultBoxes,
  yoloAnchors,
} from '../src/index.js'
import { f64, maxDiff } from './helpers/golden.js'

describe("d2l's anchors", () => {
  it('multiboxPrior: 561 x 728 image, sizes [0.75, 0.5, 0.25], ratios [1, 2, 0.5]', () => {
    const Y = multiboxPrior(561, 728, [0.75, 0.5, 0.25], [1, 2, 0.5])
    expect(Y.shape).toEqual([2042040, 4])
    // d2l: boxes = Y.reshape(h, w, 5, 4); boxes[250, 250, 0, :] = [0.06, 0.07, 0.63, 0.82]
    const row = (250 * 728 + 250) * 5
    const got = [...Y.data.subarray(4 * row, 4 * row + 4)].map((v) => Math.round(v * 100) / 100)
    expect(got).toEqual([0.06, 0.07, 0.63, 0.82])
  })

  it("multiboxTarget: d2l's five anchors and two ground truths", () => {
    const gt = tensor([
      [0, 0.1, 0.08, 0.52, 0.92],
      [1, 0.55, 0.2, 0.9, 0.88],
    ])
    const anchors = tensor([
      [0, 0.1, 0.2, 0.3],
      [0.15, 0.2, 0.4, 0.4],
      [0.63, 0.05, 0.88, 0.98],
      [0.66, 0.45, 0.8, 0.8],
      [0.57, 0.3, 0.92, 0.9],
    ])
    const t = multiboxTarget(anchors, gt)
    expect([...t.labels]).toEqual([0, 1, 2, 0, 2])
    expect([...t.mask.data]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    const printed = [0, 0, 0, 0, 1.4, 10, 2.59, 7.18, -1.2, 0.269, 1.68, -1.57, 0, 0, 0, 0, -0.571, -1, 4.17e-6, 0.626]
    const o = [...t.offsets.data]
    printed.forEach((v, i) => {
      expect(o[i]).toBeCloseTo(v, Math.abs(v) < 1e-3 ? 6 : Math.abs(v) < 1 ? 3 : 2)
    })
  })

  it('assignAnchors: every ground truth gets an anchor even below the threshold; none for no ground truth', () => {
    const anchors = f64([
      [0, 0, 1, 1],
      [5, 5, 6, 6],
    ])
    expect([...assignAnchors(anchors, f64([[0.5, 0.5, 3, 3]]), 0.9)]).toEqual([0, -1])
    expect([...assignAnchors(anchors, f64([]).reshape(0, 4))]).toEqual([-1, -1])
  })

  it('multiboxTarget rejects negative or fractional class ids', () => {
    expect(() => multiboxTarget(f64([[0, 0, 1, 1]]), f64([[-1, 0, 0, 1, 1]]))).toThrow(ArgumentError)
    expect(() => multiboxTarget(f64([[0, 0, 1, 1]]), f64([[0.5, 0, 0, 1, 1]]))).toThrow(ArgumentError)
  })
})

describe('offsets', () => {
  it('decodeBoxes inverts encodeBoxes, for any weights', () => {
    const g = new Generator(1)
    const xy = rand([20, 2], { dtype: 'float64', generator: g })
    const a = tensor(
      [...xy.data].flatMap((v, i) =>
        i % 2 ? [] : [v, xy.data[i + 1]!, v + 0.1 + (i % 7) / 10, xy.data[i + 1]! + 0.2],
      ),
      { dtype: 'float64', shape: [20, 4] },
    )
    const b = a.add(0.03)
    for (const w of [
      [10, 10, 5, 5],
      [1, 1, 1, 1],
    ] as const) {
      const off = encodeBoxes(a, b, [...w], 0)
      expect(maxDiff(decodeBoxes(a, off, [...w]).data, b.data)).toBeLessThan(1e-12)
    }
  })
})

describe('SSD and YOLO anchors', () => {
  const SSD300 = {
    aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    steps: [8, 16, 32, 64, 100, 300],
  }
  it('SSD300 has 8732 default boxes; the first is centred at (4, 4) with side 0.07 * 300', () => {
    const grids: [number, number][] = [
      [38, 38],
      [19, 19],
      [10, 10],
      [5, 5],
      [3, 3],
      [1, 1],
    ]
    expect(ssdBoxesPerLevel(SSD300.aspectRatios)).toEqual([4, 6, 6, 6, 4, 4])
    const d = ssdDefaultBoxes(grids, [300, 300], SSD300)
    expect(d.shape).toEqual([8732, 4])
    const first = [...d.data.subarray(0, 4)]
    expect(first.map((v) => Math.round(v * 1e4) / 1e4)).toEqual([-6.5, -6.5, 14.5, 14.5])
  })
  it('YOLO anchors are centred on the cells', () => {
    const a = yoloAnchors(2, 3, 32, [[10, 20]])
    expect(a.shape).toEqual([6, 4])
    expect([...a.data.subarray(20, 24)]).toEqual([80 - 5, 48 - 10, 80 + 5, 48 + 10])
  })
})

describe('k-means anchors', () => {
  it('recovers three well separated size clusters with high mean IoU', () => {
    const g = new Generator(5)
    const sizes: [number, number][] = []
    for (const [w, h] of [
      [10, 10],
      [40, 20],
      [100, 120],
    ])
      for (let i = 0; i < 30; i++) sizes.push([w * (0.95 + 0.1 * g.random()), h * (0.95 + 0.1 * g.random())])
    const k = kmeansAnchors(sizes, 3, { seed: 2 })
    expect(k.anchors.map(([w, h]) => [Math.round(w / 10), Math.round(h / 10)])).toEqual([
      [1, 1],
      [4, 2],
      [10, 12],
    ])
    expect(k.meanIou).toBeGreaterThan(0.9)
    expect(() => kmeansAnchors(sizes.slice(0, 2), 3)).toThrow(ArgumentError)
    expect(() =>
      kmeansAnchors(
        [
          [0, 1],
          [1, 1],
        ],
        1,
      ),
    ).toThrow(ArgumentError)
  })
})

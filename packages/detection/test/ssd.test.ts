/** Tiny SSD shapes and anchors, the SSD loss (hard negative mining; gradcheck), post-processing. */
import { Generator, ShapeError, gradcheck, noGrad, randn, tensor, zeros } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { TinySsd, encodeBoxes, postprocessDetections, ssdLoss } from '../src/index.js'

describe('tiny SSD', () => {
  it("gives d2l's 5444 anchors and predictions for a 256x256 image", () => {
    const m = new TinySsd({ numClasses: 1 }).eval()
    const [cls, box] = noGrad(() => m.call(randn([1, 3, 256, 256], { generator: new Generator(0) })))
    expect(cls.shape).toEqual([1, 5444, 2])
    expect(box.shape).toEqual([1, 5444, 4])
    expect(m.anchors(256, 256).shape).toEqual([5444, 4])
    expect(m.anchors(64, 64).shape[0]).toBe((64 + 16 + 4 + 1 + 1) * 4)
  })
})

describe('SSD loss', () => {
  const g = new Generator(3)
  const logits = randn([2, 6, 3], { dtype: 'float64', generator: g })
  const offsets = randn([2, 6, 4], { dtype: 'float64', generator: g })
  const labels = tensor(
    [
      [0, 2, 0, 0, 0, 0],
      [1, 0, 0, 2, 0, 0],
    ],
    { dtype: 'int32' },
  )
  const target = randn([2, 6, 4], { dtype: 'float64', generator: g })

  it('counts positives and the 3 hardest negatives per positive, divided by the number of positives', () => {
    const l = ssdLoss(logits, offsets, { labels, offsets: target })
    // by hand: cross-entropy per anchor, pick per image
    const lp = logits.data
    const ce = (i: number, j: number, y: number) => {
      const row = [0, 1, 2].map((k) => lp[(i * 6 + j) * 3 + k]!)
      const m = Math.max(...row)
      return Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m - row[y]!
    }
    let total = 0
    for (const [i, posJ, cnt] of [
      [0, [1], 3],
      [1, [0, 3], 4],
    ] as [number, number[], number][]) {
      for (const j of posJ) total += ce(i, j, labels.data[i * 6 + j]!)
      const negs = [0, 1, 2, 3, 4, 5]
        .filter((j) => !posJ.includes(j))
        .map((j) => ce(i, j, 0))
        .sort((a, b) => b - a)
      total += negs.slice(0, cnt).reduce((s, v) => s + v, 0)
    }
    expect(l.classification.item()).toBeCloseTo(total / 3, 12)
  })

  it('passes gradcheck', () => {
    const r = gradcheck((a, b) => ssdLoss(a!, b!, { labels, offsets: target }).total, [logits, offsets])
    expect(r.relError).toBeLessThan(1e-7)
  })

  it('no positives: loss of 0 negatives, finite; wrong shapes and class ids are errors', () => {
    const none = ssdLoss(logits, offsets, { labels: zeros([2, 6], { dtype: 'int32' }), offsets: target })
    expect(none.total.item()).toBe(0)
    expect(() => ssdLoss(logits, offsets.slice(1, 0, 5), { labels, offsets: target })).toThrow(ShapeError)
    expect(() =>
      ssdLoss(logits, offsets, {
        labels: tensor(
          [
            [0, 5, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
          ],
          { dtype: 'int32' },
        ),
        offsets: target,
      }),
    ).toThrow(/out of range/)
  })
})

describe('post-processing', () => {
  it('decodes, drops the background and keeps one box per object after NMS', () => {
    const anchors = tensor(
      [
        [0, 0, 10, 10],
        [1, 0, 11, 10],
        [20, 20, 30, 30],
      ],
      { dtype: 'float64' },
    )
    const gt = tensor(
      [
        [0, 0, 10, 10],
        [0, 0, 10, 10],
        [21, 20, 31, 30],
      ],
      { dtype: 'float64' },
    )
    const off = encodeBoxes(anchors, gt, [10, 10, 5, 5], 0)
    const logits = tensor(
      [
        [0, 5, 0],
        [0, 4, 0],
        [0, 0, 6],
      ],
      { dtype: 'float64' },
    )
    const d = postprocessDetections(logits, off, anchors, { scoreThreshold: 0.5 })
    expect(d.labels).toEqual([1, 0])
    expect(d.boxes[1]!.map((v) => Math.round(v * 1e9) / 1e9)).toEqual([0, 0, 10, 10])
    expect(
      postprocessDetections(
        tensor([[9, 0, 0]], { dtype: 'float64' }),
        zeros([1, 4], { dtype: 'float64' }),
        anchors.slice(0, 0, 1),
      ).boxes,
    ).toEqual([])
  })
})

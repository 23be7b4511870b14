/**
 * Box formats, the IoU family, its losses and the focal loss against torchvision 0.14 (float64,
 * 1e-10), gradcheck of every IoU loss, and the bad-input contract.
 */
import { ArgumentError, DTypeError, ShapeError, gradcheck, tensor, zeros } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  BoxError,
  type BoxFormat,
  ciouAlpha,
  boxArea,
  boxConvert,
  boxIou,
  checkXyxy,
  clipBoxesToImage,
  completeBoxIou,
  completeBoxIouLoss,
  distanceBoxIou,
  distanceBoxIouLoss,
  generalizedBoxIou,
  generalizedBoxIouLoss,
  pairedBoxIou,
  pairedCompleteBoxIou,
  pairedDistanceBoxIou,
  pairedGeneralizedBoxIou,
  removeSmallBoxes,
  sigmoidFocalLoss,
} from '../src/index.js'
import { expectClose, f64, fx } from './helpers/golden.js'

describe('box formats', () => {
  it('converts between xyxy, xywh and cxcywh as torchvision.ops.box_convert', () => {
    const b = f64(fx.box_convert.boxes)
    for (const [key, out] of Object.entries(fx.box_convert.out)) {
      const [from, to] = key.split('->') as [BoxFormat, BoxFormat]
      expectClose(boxConvert(b, from, to), out as number[][])
    }
  })

  it('computes areas, clips to the image and removes small boxes', () => {
    const b = f64([
      [1, 2, 4, 8],
      [-3, -1, 20, 5],
      [0, 0, 0.5, 9],
    ])
    expect(boxArea(b).toArray()).toEqual([18, 138, 4.5])
    expect(clipBoxesToImage(b, [6, 10]).toArray()).toEqual([
      [1, 2, 4, 6],
      [0, 0, 10, 5],
      [0, 0, 0.5, 6],
    ])
    expect(removeSmallBoxes(b, 1)).toEqual([0, 1])
  })

  it('rejects a wrong shape, an integer dtype, unknown formats, x2 < x1 and NaN coordinates', () => {
    expect(() => boxConvert(zeros([3, 5]), 'xyxy', 'xywh')).toThrow(ShapeError)
    expect(() => boxArea(tensor([[1, 2, 3, 4]], { dtype: 'int32' }))).toThrow(DTypeError)
    expect(() => boxConvert(zeros([3, 4]), 'xyxy', 'yxyx' as BoxFormat)).toThrow(ArgumentError)
    expect(() =>
      checkXyxy(
        f64([
          [0, 0, 1, 1],
          [5, 0, 4, 1],
        ]),
      ),
    ).toThrow(/box 1 = \[5, 0, 4, 1\]/)
    expect(() => checkXyxy(f64([[0, NaN, 1, 1]]))).toThrow(BoxError)
    expect(() => checkXyxy(f64([[2, 2, 2, 2]]))).not.toThrow()
  })
})

describe('IoU family (pairwise) against torchvision', () => {
  const a = f64(fx.pairwise.boxes1)
  const b = f64(fx.pairwise.boxes2)
  it.each([
    ['box_iou', boxIou],
    ['generalized_box_iou', generalizedBoxIou],
    ['distance_box_iou', distanceBoxIou],
    ['complete_box_iou', completeBoxIou],
  ] as const)('%s', (name, fn) => {
    expectClose(fn(a, b), fx.pairwise[name])
  })

  it('paired versions are the diagonal of the pairwise matrices', () => {
    const n = 5
    const bb = b.slice(0, 0, n)
    for (const [pw, pd] of [
      [boxIou, pairedBoxIou],
      [generalizedBoxIou, pairedGeneralizedBoxIou],
      [distanceBoxIou, pairedDistanceBoxIou],
      [completeBoxIou, pairedCompleteBoxIou],
    ] as const) {
      const m = pw(a, bb).data
      const d = pd(a, bb).data
      for (let i = 0; i < n; i++) expect(d[i]).toBeCloseTo(m[i * n + i]!, 12)
    }
  })

  it('gives an empty matrix for no boxes', () => {
    expect(boxIou(zeros([0, 4], { dtype: 'float64' }), b).shape).toEqual([0, 7])
    expect(completeBoxIou(a, zeros([0, 4], { dtype: 'float64' })).shape).toEqual([5, 0])
  })
})

describe('IoU losses against torchvision, with gradients', () => {
  const l = fx.losses
  const p1 = f64(l.boxes1)
  const p2 = f64(l.boxes2)
  const w = f64(l.weights)
  it.each([
    ['generalized_box_iou_loss', generalizedBoxIouLoss],
    ['distance_box_iou_loss', distanceBoxIouLoss],
    ['complete_box_iou_loss', completeBoxIouLoss],
  ] as const)('%s: values, reductions, autograd gradient and gradcheck', (name, fn) => {
    const ref = l[name]
    expectClose(fn(p1, p2), ref.none)
    expect(Math.abs(fn(p1, p2, 'mean').item() - ref.mean)).toBeLessThan(1e-10)
    expect(Math.abs(fn(p1, p2, 'sum').item() - ref.sum)).toBeLessThan(1e-10)
    const a = p1.clone().requireGrad()
    const c = p2.clone().requireGrad()
    fn(a, c).mul(w).sum().backward()
    expectClose(a.grad!, ref.grad1)
    expectClose(c.grad!, ref.grad2)
    // gradcheck away from the kinks (disjoint and identical pairs have one-sided max/min/relu).
    // CIoU's α carries no gradient by definition, so it is checked with α fixed at its value.
    const [q1, q2] = [p1.slice(0, 0, 5), p2.slice(0, 0, 5)]
    const alpha = ciouAlpha(q1, q2)
    const r = gradcheck(
      (x, y) => (fn === completeBoxIouLoss ? completeBoxIouLoss(x!, y!, 'none', 1e-7, alpha) : fn(x!, y!)),
      [q1, q2],
    )
    expect(r.relError).toBeLessThan(1e-7)
  })

  it('mean of no boxes is 0, not NaN', () => {
    const e = zeros([0, 4], { dtype: 'float64' })
    expect(completeBoxIouLoss(e, e, 'mean').item()).toBe(0)
    expect(generalizedBoxIouLoss(e, e, 'sum').item()).toBe(0)
  })

  it('rejects an unknown reduction', () => {
    expect(() => generalizedBoxIouLoss(p1, p2, 'avg' as 'mean')).toThrow(ArgumentError)
  })
})

describe('sigmoid focal loss against torchvision', () => {
  const x = f64(fx.focal.inputs)
  const t = f64(fx.focal.targets)
  it('matches for the default, alpha < 0 with gamma 0, and a mean reduction', () => {
    expectClose(sigmoidFocalLoss(x, t), fx.focal.default)
    expectClose(sigmoidFocalLoss(x, t, { alpha: -1, gamma: 0 }), fx.focal['alpha_-1_gamma_0'])
    expect(
      Math.abs(
        sigmoidFocalLoss(x, t, { alpha: 0.5, gamma: 1.5, reduction: 'mean' }).item() -
          fx.focal['alpha_0.5_gamma_1.5_mean'],
      ),
    ).toBeLessThan(1e-10)
  })
  it('passes gradcheck', () => {
    expect(gradcheck((a) => sigmoidFocalLoss(a!, t), [x]).relError).toBeLessThan(1e-7)
  })
})

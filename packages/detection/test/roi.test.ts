/** RoI align and RoI pool against torchvision 0.14 (forward and backward, float64), gradcheck, bad input. */
import { ArgumentError, Generator, ShapeError, gradcheck, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { assignLevels, boxesToRois, multiScaleRoiAlign, roiAlign, roiPool } from '../src/index.js'
import { expectClose, f64, fx } from './helpers/golden.js'

const x = f64(fx.roi.input)
const rois = f64(fx.roi.rois)

describe('roiAlign against torchvision.ops.roi_align', () => {
  type Case = {
    output_size: [number, number]
    spatial_scale: number
    sampling_ratio: number
    aligned: boolean
    out: number[]
    grad_output: number[]
    grad_input: number[]
  }
  it.each(
    (fx.roi.align as Case[]).map(
      (c) =>
        [`${c.output_size} scale ${c.spatial_scale} ratio ${c.sampling_ratio} aligned ${c.aligned}`, c] as [
          string,
          Case,
        ],
    ),
  )('%s', (_n, c) => {
    const xi = x.clone().requireGrad()
    const y = roiAlign(xi, rois, {
      outputSize: c.output_size,
      spatialScale: c.spatial_scale,
      samplingRatio: c.sampling_ratio,
      aligned: c.aligned,
    })
    expectClose(y, c.out)
    y.backward(f64(c.grad_output))
    expectClose(xi.grad!, c.grad_input)
  })

  it('passes gradcheck (forward and its adjoint)', () => {
    const small = randn([1, 2, 5, 6], { dtype: 'float64', generator: new Generator(3) })
    const r = f64([
      [0, 0.5, 0.7, 4.2, 3.9],
      [0, 2.1, 1.0, 5.5, 4.4],
    ])
    expect(
      gradcheck((a) => roiAlign(a!, r, { outputSize: 2, samplingRatio: 2, aligned: true }), [small]).relError,
    ).toBeLessThan(1e-7)
    expect(gradcheck((a) => roiAlign(a!, r, { outputSize: [3, 2], spatialScale: 0.8 }), [small]).relError).toBeLessThan(
      1e-7,
    )
  })
})

describe('roiPool against torchvision.ops.roi_pool', () => {
  type Case = {
    output_size: [number, number]
    spatial_scale: number
    out: number[]
    grad_output: number[]
    grad_input: number[]
  }
  it.each((fx.roi.pool as Case[]).map((c) => [`${c.output_size} scale ${c.spatial_scale}`, c] as [string, Case]))(
    '%s',
    (_n, c) => {
      const xi = x.clone().requireGrad()
      const y = roiPool(xi, rois, { outputSize: c.output_size, spatialScale: c.spatial_scale })
      expectClose(y, c.out)
      y.backward(f64(c.grad_output))
      expectClose(xi.grad!, c.grad_input)
    },
  )

  it('passes gradcheck (distinct values, so the argmax does not flip)', () => {
    const small = tensor(
      Array.from({ length: 30 }, (_, i) => ((i * 7) % 30) / 3),
      { dtype: 'float64', shape: [1, 1, 5, 6] },
    )
    const r = f64([
      [0, 0, 0, 4, 3],
      [0, 1, 1, 5, 4],
    ])
    expect(gradcheck((a) => roiPool(a!, r, { outputSize: 2 }), [small]).relError).toBeLessThan(1e-7)
  })
})

describe('multi-scale RoI align', () => {
  it('maps boxes to FPN levels and returns them in box order', () => {
    const r = boxesToRois([
      f64([
        [0, 0, 56, 56],
        [0, 0, 224, 224],
        [10, 10, 900, 900],
      ]),
    ])
    expect(assignLevels(r, [1 / 4, 1 / 8, 1 / 16, 1 / 32])).toEqual([0, 2, 3])
    const feats = [1 / 4, 1 / 8, 1 / 16, 1 / 32].map((s, l) =>
      randn([1, 2, 256 * s, 256 * s], { dtype: 'float64', generator: new Generator(l) }),
    )
    const y = multiScaleRoiAlign(feats, [1 / 4, 1 / 8, 1 / 16, 1 / 32], r, { outputSize: 3, samplingRatio: 2 })
    expect(y.shape).toEqual([3, 2, 3, 3])
    const second = roiAlign(feats[2]!, r.slice(0, 1, 2), { outputSize: 3, samplingRatio: 2, spatialScale: 1 / 16 })
    expect([...y.slice(0, 1, 2).data]).toEqual([...second.data])
  })
})

describe('bad input', () => {
  it('rejects wrong shapes, batch indices out of range, NaN boxes and bad output sizes', () => {
    expect(() => roiAlign(x, f64([[0, 1, 2, 3]]), { outputSize: 2 })).toThrow(ShapeError)
    expect(() => roiAlign(x, f64([[2, 1, 2, 3, 4]]), { outputSize: 2 })).toThrow(/batch index 2/)
    expect(() => roiPool(x, f64([[0, NaN, 2, 3, 4]]), { outputSize: 2 })).toThrow(ArgumentError)
    expect(() => roiAlign(x, rois, { outputSize: 0 })).toThrow(ArgumentError)
  })
  it('no boxes give an empty (0, C, h, w) result', () => {
    expect(roiAlign(x, f64([]).reshape(0, 5), { outputSize: 2 }).shape).toEqual([0, 3, 2, 2])
  })
})

/**
 * Nadaraya-Watson attention pooling (non-parametric and with a learned bandwidth) on d2l's
 * synthetic data, positional encodings, and the SVG figures; gradcheck in float64.
 */
import { ArgumentError, Generator, ShapeError, type Tensor, gradcheck, manualSeed, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  LearnedPositionalEncoding,
  NWKernelRegression,
  PositionalEncoding,
  heatmapSvg,
  leaveOneOut,
  lineChartSvg,
  nadarayaWatson,
  nadarayaWatsonData,
  nwTarget,
  sinusoidalTable,
  trainNWKernelRegression,
} from '../src/index.js'

const mse = (a: Tensor, b: Tensor) =>
  Array.from(a.data, (v, i) => (Number(v) - Number(b.data[i])) ** 2).reduce((x, y) => x + y, 0) / a.size

describe('Nadaraya-Watson kernel regression', () => {
  const data = nadarayaWatsonData({ dtype: 'float64' })

  it('makes d2l’s data: 50 sorted x in [0, 5), y = 2 sin x + x^0.8 + noise', () => {
    const x = Array.from(data.xTrain.data as Float64Array)
    expect(x.length).toBe(50)
    expect(x.every((v, i) => v >= 0 && v < 5 && (i === 0 || v >= x[i - 1]!))).toBe(true)
    expect(data.xTest.size).toBe(50)
    expect(data.yTruth.data[10]).toBeCloseTo(nwTarget(1), 12)
  })

  it('predicts the Gaussian-kernel weighted average of the targets', () => {
    const { pred, weights } = nadarayaWatson(data.xTest, data.xTrain, data.yTrain)
    expect(weights.shape).toEqual([50, 50])
    const x0 = 2.5
    const w = Array.from(data.xTrain.data as Float64Array, (xi) => Math.exp(-((x0 - xi) ** 2) / 2))
    const z = w.reduce((a, b) => a + b, 0)
    const expected = w.reduce((a, wi, i) => a + (wi / z) * (data.yTrain.data[i] as number), 0)
    expect(pred.data[25]).toBeCloseTo(expected, 12)
  })

  it('learns a narrower kernel that fits better than the non-parametric one', () => {
    const model = new NWKernelRegression({ dtype: 'float64', seed: 0 })
    const losses = trainNWKernelRegression(model, data)
    expect(losses[4]!).toBeLessThan(losses[0]!)
    expect(model.w.item()).toBeGreaterThan(1)
    const fitted = model.call(data.xTest, data.xTrain, data.yTrain)
    const plain = nadarayaWatson(data.xTest, data.xTrain, data.yTrain).pred
    expect(mse(fitted, data.yTruth)).toBeLessThan(mse(plain, data.yTruth))
    // Sharper weights: the largest weight per query grows.
    const peak = (w: Tensor) => Array.from(w.max(-1).data as Float64Array).reduce((a, b) => a + b, 0)
    expect(peak(model.attentionWeights!)).toBeGreaterThan(
      peak(nadarayaWatson(data.xTest, data.xTrain, data.yTrain).weights),
    )
  })

  it('builds leave-one-out keys and passes gradcheck in w, queries and values', () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' })
    expect(leaveOneOut(x).toArray()).toEqual([
      [2, 3],
      [1, 3],
      [1, 2],
    ])
    const res = gradcheck(
      (q, k, v, w) => nadarayaWatson(q, k, v, w).pred,
      [
        tensor([0.5, 1.5, 2], { dtype: 'float64' }),
        leaveOneOut(tensor([0.1, 1, 2.2, 3], { dtype: 'float64' })).slice(0, 0, 3),
        leaveOneOut(tensor([1, -1, 0.5, 2], { dtype: 'float64' })).slice(0, 0, 3),
        tensor([1.3], { dtype: 'float64' }),
      ],
    )
    expect(res.relError).toBeLessThan(1e-7)
  })

  it('draws the attention weights as an SVG heatmap, one cell per query and key', () => {
    const { weights } = nadarayaWatson(
      data.xTest.slice(0, 0, 10),
      data.xTrain.slice(0, 0, 12),
      data.yTrain.slice(0, 0, 12),
    )
    const svg = heatmapSvg(weights, { title: 'NW' })
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg.match(/<rect class="cell"/g)!.length).toBe(120)
    expect(() => heatmapSvg(tensor([1, 2]))).toThrow(ShapeError)
  })
})

describe('positional encodings', () => {
  it('builds d2l’s sinusoid table: sin on even, cos on odd columns', () => {
    const P = sinusoidalTable(60, 32, 'float64')
    const at = (i: number, j: number) => P.data[i * 32 + j] as number
    expect(at(0, 0)).toBe(0)
    expect(at(0, 1)).toBe(1)
    expect(at(7, 6)).toBeCloseTo(Math.sin(7 / 10000 ** (6 / 32)), 14)
    expect(at(7, 7)).toBeCloseTo(Math.cos(7 / 10000 ** (6 / 32)), 14)
    const odd = sinusoidalTable(3, 5, 'float64')
    expect(odd.data[2 * 5 + 4]).toBeCloseTo(Math.sin(2 / 10000 ** (4 / 5)), 14)
  })

  it('adds the table to the input and rejects sequences longer than the table', () => {
    const pe = new PositionalEncoding(8, 0, 10, 'float64')
    const x = randn([2, 4, 8], { dtype: 'float64', generator: new Generator(1) })
    const y = pe.call(x)
    expect(y.data[8 + 3]).toBeCloseTo((x.data[8 + 3] as number) + (pe.P.data[8 + 3] as number), 14)
    expect(Object.keys(pe.stateDict())).toEqual([])
    expect(() => pe.call(randn([1, 11, 8], { dtype: 'float64' }))).toThrow(ArgumentError)
    expect(() => pe.call(randn([1, 11, 8], { dtype: 'float64' }))).toThrow(/11 steps.*expected at most 10/)
    expect(() => pe.call(randn([1, 3, 7], { dtype: 'float64' }))).toThrow(ShapeError)
  })

  it('passes gradcheck for the sinusoidal (input) and learned (input and table) encodings', () => {
    manualSeed(2)
    const pe = new PositionalEncoding(6, 0, 8, 'float64')
    const x = randn([2, 5, 6], { dtype: 'float64', generator: new Generator(3) })
    expect(gradcheck((a) => pe.call(a), [x]).relError).toBeLessThan(1e-7)
    const learned = new LearnedPositionalEncoding(6, 0, 8, 'float64')
    expect(learned.weight.shape).toEqual([8, 6])
    expect(() => learned.call(randn([1, 9, 6], { dtype: 'float64' }))).toThrow(/9 steps/)
    const res = gradcheck(
      (a, w) => {
        learned.weight = w as never
        return learned.call(a)
      },
      [x, learned.weight.detach()],
    )
    expect(res.relError).toBeLessThan(1e-7)
  })

  it('plots encoding columns as an SVG line chart', () => {
    const P = sinusoidalTable(60, 32)
    const series = [6, 7, 8, 9].map((j) => ({
      name: `Col ${j}`,
      x: [...Array(60).keys()],
      y: Array.from({ length: 60 }, (_, i) => P.data[i * 32 + j] as number),
    }))
    const svg = lineChartSvg(series, { xlabel: 'Row (position)' })
    expect(svg.match(/<polyline/g)!.length).toBe(4)
    expect(svg).toContain('Col 9')
  })
})

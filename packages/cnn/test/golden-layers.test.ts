/**
 * Forward and backward against PyTorch 1.13's autograd (fixtures/layers.json, written by
 * scripts/gen_fixtures.py): convolution, transposed convolution, pooling, batch norm and LRN in
 * float64, the tensors filled by the same hash on both sides, so y, dL/dx and dL/d(parameters) must
 * agree to rounding (1e-10).
 */
import { type Module, type Tensor, fromArray } from '@refnets/core'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  LocalResponseNorm,
  MaxPool2d,
} from '../src/index.js'
import { hashFill } from './helpers/fixture-weights.js'

interface LayerCase {
  name: string
  layer:
    | 'conv2d'
    | 'convTranspose2d'
    | 'maxPool2d'
    | 'avgPool2d'
    | 'adaptiveAvgPool2d'
    | 'batchNorm2d'
    | 'localResponseNorm'
  options: Record<string, any>
  inputShape: number[]
  outputShape: number[]
  y: number[]
  dx: number[]
  dweight?: number[]
  dbias?: number[]
  runningMean?: number[]
  runningVar?: number[]
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/layers.json', import.meta.url), 'utf8')) as {
  torch: string
  cases: LayerCase[]
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1)
/** center + spread * u(t, i) in float64, the script's `hashed`. */
const hashed = (t: number, shape: number[], center = 0, spread = 1): Tensor =>
  fromArray(hashFill(new Float64Array(size(shape)), t, center, spread), shape)

/** The refnets layer for a case, with the script's parameter values. */
function build(c: LayerCase): Module {
  const o = c.options
  const f64 = { dtype: 'float64' } as const
  let m: Module
  switch (c.layer) {
    case 'conv2d':
      m = new Conv2d(o.inChannels, o.outChannels, o.kernelSize, { ...o, ...f64 })
      break
    case 'convTranspose2d':
      m = new ConvTranspose2d(o.inChannels, o.outChannels, o.kernelSize, { ...o, ...f64 })
      break
    case 'maxPool2d':
      return new MaxPool2d(o.kernelSize, o)
    case 'avgPool2d':
      return new AvgPool2d(o.kernelSize, o)
    case 'adaptiveAvgPool2d':
      return new AdaptiveAvgPool2d(o.outputSize)
    case 'localResponseNorm':
      return new LocalResponseNorm(o.size, o)
    case 'batchNorm2d': {
      const bn = new BatchNorm2d(o.numFeatures, f64)
      const n = [o.numFeatures as number]
      bn.loadStateDict({
        weight: hashed(2, n, 1, 0.2),
        bias: hashed(3, n, 0, 0.1),
        running_mean: hashed(5, n, 0, 0.1),
        running_var: hashed(6, n, 1, 0.5),
        num_batches_tracked: bn.num_batches_tracked!,
      })
      return bn.train(o.training)
    }
  }
  const conv = m as Conv2d | ConvTranspose2d
  const fanIn = conv.weight.size / conv.weight.shape[0]!
  conv.loadStateDict({
    weight: hashed(2, [...conv.weight.shape], 0, 1 / Math.sqrt(fanIn)),
    ...(conv.bias ? { bias: hashed(3, [...conv.bias.shape], 0, 0.1) } : {}),
  })
  return m
}

const maxAbs = (a: Tensor | null | undefined, b: number[]) => {
  if (!a) return Infinity
  const d = a.data
  expect(d.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(Number(d[i]) - b[i]!))
  return m
}

describe(`PyTorch ${fixture.torch} autograd`, () => {
  it('covers every layer kind', () => {
    expect(new Set(fixture.cases.map((c) => c.layer))).toEqual(
      new Set([
        'conv2d',
        'convTranspose2d',
        'maxPool2d',
        'avgPool2d',
        'adaptiveAvgPool2d',
        'batchNorm2d',
        'localResponseNorm',
      ]),
    )
  })

  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: forward, dL/dx and parameter gradients', (_, c) => {
    const layer = build(c)
    const x = hashed(1, c.inputShape).requireGrad()
    const y = layer.call(x)
    expect(y.shape).toEqual(c.outputShape)
    expect(maxAbs(y, c.y)).toBeLessThan(1e-10)
    y.backward(hashed(4, c.outputShape))
    expect(maxAbs(x.grad, c.dx)).toBeLessThan(1e-10)
    const params = Object.fromEntries(layer.namedParameters())
    if (c.dweight) expect(maxAbs(params.weight?.grad, c.dweight)).toBeLessThan(1e-10)
    if (c.dbias) expect(maxAbs(params.bias?.grad, c.dbias)).toBeLessThan(1e-10)
    expect(Object.keys(params).sort()).toEqual([...(c.dbias ? ['bias'] : []), ...(c.dweight ? ['weight'] : [])])
    if (c.runningMean) {
      const bn = layer as BatchNorm2d
      expect(maxAbs(bn.running_mean, c.runningMean)).toBeLessThan(1e-12)
      expect(maxAbs(bn.running_var, c.runningVar!)).toBeLessThan(1e-12)
    }
  })
})

/**
 * Gradient check of every layer (CS231n, https://cs231n.github.io/neural-networks-3/): autograd against two-sided
 * finite differences in float64, relative error below 1e-7, with respect to the input and to every parameter. One row
 * per configuration: strides, dilations, groups, padding modes, ceil mode, train and eval modes.
 */
import { Generator, type Module, Parameter, type Tensor, gradcheck, manualSeed, randn } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  DropBlock,
  Dropout2d,
  GlobalAvgPool2d,
  GlobalMaxPool2d,
  LocalResponseNorm,
  MaxPool2d,
} from '../src/index.js'

/**
 * gradcheck of `make()`'s forward with respect to the input and the module's own parameters: each
 * evaluation plugs the checked tensors into the parameter fields (`weight`, `bias`), so the
 * layer's own forward is what is differentiated.
 */
function checkLayer(make: () => Module, inputShape: number[], { train = true, reseed = false }: CheckOptions = {}) {
  manualSeed(17)
  const layer = make().train(train)
  const names = [...layer.namedParameters()].map(([n]) => n)
  const params = [...layer.namedParameters()].map(([, p]) => p.detach().to('float64'))
  const x = randn(inputShape, { dtype: 'float64', generator: new Generator(23) })
  const fn = (input: Tensor, ...ps: Tensor[]) => {
    if (reseed) (layer as Dropout2d | DropBlock).generator.seed(5)
    names.forEach((n, i) => {
      ;(layer as unknown as Record<string, Tensor>)[n] = ps[i]!
    })
    return layer.call(input)
  }
  const result = gradcheck(fn, [x, ...params])
  // Leave real Parameters behind (the fields held plain tensors during the check).
  names.forEach((n, i) => {
    ;(layer as unknown as Record<string, Tensor>)[n] = new Parameter(params[i]!)
  })
  return { ...result, names: ['input', ...names] }
}

interface CheckOptions {
  train?: boolean
  /** Reseed the layer's generator before every evaluation, so each one draws the same mask. */
  reseed?: boolean
}

type Case = [string, () => Module, number[], CheckOptions?]

const f64 = { dtype: 'float64' } as const
const X = [2, 4, 7, 7]

const cases: Case[] = [
  // Conv2d
  ['Conv2d 3x3, padding 1', () => new Conv2d(4, 6, 3, { padding: 1, ...f64 }), X],
  ['Conv2d stride 2, valid', () => new Conv2d(4, 6, 3, { stride: 2, padding: 'valid', ...f64 }), X],
  [
    'Conv2d stride [2, 3], kernel [3, 2]',
    () => new Conv2d(4, 6, [3, 2], { stride: [2, 3], padding: [1, 0], ...f64 }),
    X,
  ],
  ["Conv2d 'same', stride 2, even kernel", () => new Conv2d(4, 6, 4, { stride: 2, padding: 'same', ...f64 }), X],
  ['Conv2d padding per side [2, 0, 1, 3]', () => new Conv2d(4, 6, 3, { padding: [2, 0, 1, 3], ...f64 }), X],
  ['Conv2d dilation 2', () => new Conv2d(4, 6, 3, { dilation: 2, padding: 2, ...f64 }), X],
  [
    'Conv2d dilation [1, 2], stride 2',
    () => new Conv2d(4, 6, 3, { dilation: [1, 2], stride: 2, padding: 1, ...f64 }),
    X,
  ],
  ['Conv2d groups 2', () => new Conv2d(4, 6, 3, { groups: 2, padding: 1, ...f64 }), X],
  ['Conv2d depthwise, no bias', () => new Conv2d(4, 4, 3, { groups: 4, padding: 1, bias: false, ...f64 }), X],
  ['Conv2d depthwise multiplier 2, stride 2', () => new Conv2d(4, 8, 3, { groups: 4, stride: 2, ...f64 }), X],
  ['Conv2d 1x1', () => new Conv2d(4, 3, 1, f64), X],
  // ConvTranspose2d
  [
    'ConvTranspose2d stride 2, padding 1, outputPadding 1',
    () => new ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1, ...f64 }),
    [2, 4, 4, 4],
  ],
  [
    'ConvTranspose2d stride [2, 3], padding [0, 1]',
    () => new ConvTranspose2d(4, 3, [3, 4], { stride: [2, 3], padding: [0, 1], ...f64 }),
    [2, 4, 3, 4],
  ],
  ['ConvTranspose2d groups 2', () => new ConvTranspose2d(4, 6, 3, { stride: 2, groups: 2, ...f64 }), [2, 4, 3, 3]],
  ['ConvTranspose2d dilation 2', () => new ConvTranspose2d(4, 3, 3, { dilation: 2, padding: 1, ...f64 }), [2, 4, 4, 4]],
  [
    'ConvTranspose2d kernel 4, stride 2 (FCN-style), no bias',
    () => new ConvTranspose2d(4, 4, 4, { stride: 2, padding: 1, bias: false, ...f64 }),
    [1, 4, 3, 3],
  ],
  // Pooling
  ['MaxPool2d 2x2', () => new MaxPool2d(2), X],
  ['MaxPool2d 3x3 stride 2 padding 1', () => new MaxPool2d(3, { stride: 2, padding: 1 }), X],
  ['MaxPool2d 3x3 stride 2 ceil mode', () => new MaxPool2d(3, { stride: 2, ceilMode: true }), [2, 4, 8, 8]],
  ['MaxPool2d dilation 2', () => new MaxPool2d(2, { stride: 1, dilation: 2 }), X],
  ['AvgPool2d 2x2', () => new AvgPool2d(2), X],
  ['AvgPool2d 3x3 stride 2 padding 1, countIncludePad', () => new AvgPool2d(3, { stride: 2, padding: 1 }), X],
  [
    'AvgPool2d 3x3 stride 2 padding 1, countIncludePad false',
    () => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    X,
  ],
  ['AvgPool2d ceil mode', () => new AvgPool2d(2, { ceilMode: true }), X],
  [
    'AvgPool2d ceil mode, padding, countIncludePad false',
    () => new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    [2, 4, 8, 8],
  ],
  ['AdaptiveAvgPool2d even windows', () => new AdaptiveAvgPool2d([2, 3]), [2, 4, 6, 6]],
  ['AdaptiveAvgPool2d uneven windows', () => new AdaptiveAvgPool2d([3, 4]), X],
  ['AdaptiveAvgPool2d upsampling (1x1 -> 2x2)', () => new AdaptiveAvgPool2d(2), [2, 4, 1, 1]],
  ['GlobalAvgPool2d', () => new GlobalAvgPool2d(), X],
  ['AdaptiveMaxPool2d even windows', () => new AdaptiveMaxPool2d([2, 3]), [2, 4, 6, 6]],
  ['AdaptiveMaxPool2d uneven (overlapping) windows', () => new AdaptiveMaxPool2d([3, 4]), X],
  ['GlobalMaxPool2d', () => new GlobalMaxPool2d(), X],
  // Normalisation
  ['BatchNorm2d training (batch statistics)', () => new BatchNorm2d(4, f64), X],
  ['BatchNorm2d eval (running statistics)', () => new BatchNorm2d(4, f64), X, { train: false }],
  ['LocalResponseNorm size 3', () => new LocalResponseNorm(3, { alpha: 0.5, beta: 0.75, k: 2 }), X],
  [
    'LocalResponseNorm size 5 (AlexNet)',
    () => new LocalResponseNorm(5, { alpha: 5e-4, beta: 0.75, k: 2 }),
    [2, 7, 3, 3],
  ],
  // Dropout: the same mask in every evaluation (the generator is reseeded), so the layer is a fixed
  // mask-and-scale whose gradient is that mask.
  ['Dropout2d training', () => new Dropout2d(0.4, new Generator(5)), X, { reseed: true }],
  [
    'DropBlock training',
    () => new DropBlock({ blockSize: 3, dropRate: 0.3, generator: new Generator(5) }),
    X,
    { reseed: true },
  ],
  [
    'DropBlock training, shared channels',
    () => new DropBlock({ blockSize: 2, dropRate: 0.3, shareChannels: true, generator: new Generator(5) }),
    X,
    { reseed: true },
  ],
]

describe('gradcheck (float64, relative error < 1e-7)', () => {
  it.each(cases)('%s', (_, make, shape, opts) => {
    const r = checkLayer(make, shape, opts)
    expect(r.perInput.length).toBe(r.names.length)
    r.names.forEach((n, i) => {
      expect(r.perInput[i], `gradient of ${n}`).toBeLessThan(1e-7)
    })
    expect(r.relError).toBeLessThan(1e-7)
    expect(r.ok).toBe(true)
  })

  it('flags a wrong gradient (the check is not vacuous)', () => {
    // A conv layer whose forward hides part of the input from autograd: the true derivative has an
    // extra x term that the tape never sees.
    class Leaky extends Conv2d {
      override forward(x: Tensor): Tensor {
        return super.forward(x).add(x.detach().square().sum())
      }
    }
    const r = checkLayer(() => new Leaky(4, 4, 1, f64), X)
    expect(r.ok).toBe(false)
    expect(r.perInput[0]).toBeGreaterThan(1e-3) // the input's gradient is wrong
    expect(r.perInput[1]).toBeLessThan(1e-7) // the weight's is still right
  })
})

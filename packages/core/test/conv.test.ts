/**
 * Convolution ops: output-size formulas (https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html
 * and ONNX Conv's auto_pad), gradient checks (float64, relError < 1e-7) for every padding/stride/dilation/groups
 * form, float32 against a direct loop, shape errors, and the ONNX nodes they export as.
 */
import { describe, expect, it } from 'vitest'
import { expectGradOk } from './helpers/grad.js'
import { directConv2d } from './helpers/direct-conv.js'
import { lower } from './helpers/lower.js'
import { apply } from '../src/op.js'
import { ArgumentError, DTypeError, ShapeError } from '../src/errors.js'
import { gradcheck } from '../src/gradcheck.js'
import {
  Conv2dBackwardWeight,
  type Conv2dOptions,
  conv1d,
  conv2d,
  conv2dOutputSize,
  convTranspose2d,
  convTranspose2dOutputSize,
  randn,
} from '../src/ops/index.js'
import { manualSeed } from '../src/random.js'

const f64 = (...shape: number[]) => randn(shape, { dtype: 'float64' })

describe('output sizes', () => {
  it('floor((n + 2p - f) / s) + 1 (d2l.ai 7.3) and dilation', () => {
    expect(conv2dOutputSize(6, 3)).toBe(4) // n - f + 1
    expect(conv2dOutputSize(6, 3, 1, 1)).toBe(6) // n + 2p - f + 1
    expect(conv2dOutputSize(7, 3, 2)).toBe(3) // floor(4 / 2) + 1
    expect(conv2dOutputSize(224, 7, 2, 3)).toBe(112) // ResNet stem
    expect(conv2dOutputSize(56, 3, 2, 1)).toBe(28)
    expect(conv2dOutputSize(9, 3, 1, 0, 2)).toBe(5) // a 3-tap kernel with dilation 2 spans 5
    expect(conv2dOutputSize(5, 3, 1, [2, 0])).toBe(5)
    expect(conv2dOutputSize(7, 3, 2, 'valid')).toBe(3) // (n - f) / s + 1, rounded down (ONNX auto_pad VALID)
  })

  it("'same' gives ceil(n / s) (ONNX auto_pad SAME_UPPER), and conv2d produces that size", () => {
    for (const n of [1, 2, 5, 6, 7, 10])
      for (const s of [1, 2, 3])
        for (const k of [1, 2, 3, 4])
          for (const d of [1, 2]) {
            expect(conv2dOutputSize(n, k, s, 'same', d)).toBe(Math.ceil(n / s))
            const y = conv2d(randn([1, 1, n, n + 1]), randn([1, 1, k, k]), null, {
              padding: 'same',
              stride: s,
              dilation: d,
            })
            expect(y.shape).toEqual([1, 1, Math.ceil(n / s), Math.ceil((n + 1) / s)])
          }
  })

  it('transposed convolution inverts the conv size', () => {
    expect(convTranspose2dOutputSize(4, 3, 2, 1, 1, 1)).toBe(8)
    expect(convTranspose2dOutputSize(7, 4, 2, 1)).toBe(14) // FCN upsampling by 2
    for (const n of [3, 4, 8]) expect(conv2dOutputSize(convTranspose2dOutputSize(n, 3, 2, 1, 1, 1), 3, 2, 1)).toBe(n)
    expect(
      convTranspose2d(randn([1, 2, 4, 5]), randn([2, 3, 3, 3]), null, { stride: 2, padding: 1, outputPadding: 1 })
        .shape,
    ).toEqual([1, 3, 8, 10])
  })
})

describe('conv2d forward', () => {
  const configs: [
    string,
    number[],
    number[],
    Conv2dOptions,
    [number, number],
    [number, number, number, number],
    [number, number],
    number,
  ][] = [
    ['plain', [2, 3, 6, 5], [4, 3, 3, 3], {}, [1, 1], [0, 0, 0, 0], [1, 1], 1],
    [
      'stride/pad/dilation/groups',
      [2, 4, 9, 8],
      [6, 2, 3, 2],
      { stride: [2, 1], padding: [1, 0, 2, 1], dilation: [1, 2], groups: 2 },
      [2, 1],
      [1, 0, 2, 1],
      [1, 2],
      2,
    ],
    ['1x1 pointwise', [2, 5, 4, 3], [3, 5, 1, 1], {}, [1, 1], [0, 0, 0, 0], [1, 1], 1],
    ['depthwise', [1, 3, 6, 6], [3, 1, 3, 3], { groups: 3, padding: 1, stride: 2 }, [2, 2], [1, 1, 1, 1], [1, 1], 3],
  ]
  it.each(configs)('%s matches the direct loop in float32 and float64', (_, xs, ws, opts, s, p, d, groups) => {
    manualSeed(3)
    const x = f64(...xs)
    const w = f64(...ws)
    const want = directConv2d(x, w, null, { stride: s, pads: p, dilation: d, groups }).data
    const y64 = conv2d(x, w, null, opts).data
    const y32 = conv2d(x.to('float32'), w.to('float32'), null, opts).data
    expect(y64.length).toBe(want.length)
    for (let i = 0; i < want.length; i++) {
      expect(Math.abs(y64[i]! - want[i]!)).toBeLessThan(1e-12)
      expect(Math.abs(y32[i]! - want[i]!)).toBeLessThan(1e-4)
    }
  })

  // Enough input channels that the kernels split the output rows into tiles (backends/js/conv.ts plan).
  const tiled: [
    string,
    number[],
    number[],
    Conv2dOptions,
    [number, number],
    [number, number, number, number],
    [number, number],
    number,
  ][] = [
    ['3x3 over 64 channels', [2, 64, 30, 30], [4, 64, 3, 3], { padding: 1 }, [1, 1], [1, 1, 1, 1], [1, 1], 1],
    [
      'strided, dilated, grouped',
      [1, 128, 40, 41],
      [4, 64, 3, 3],
      { stride: 2, padding: [1, 2, 0, 1], dilation: 2, groups: 2 },
      [2, 2],
      [1, 2, 0, 1],
      [2, 2],
      2,
    ],
    ['1x1 over 1024 channels', [1, 1024, 12, 12], [2, 1024, 1, 1], {}, [1, 1], [0, 0, 0, 0], [1, 1], 1],
  ]
  it.each(tiled)(
    'row tiles (%s): forward matches the direct loop, gradients satisfy the adjoint identities',
    (_, xs, ws, opts, s, p, d, groups) => {
      manualSeed(5)
      const x = f64(...xs).requireGrad()
      const w = f64(...ws).requireGrad()
      const y = conv2d(x, w, null, opts)
      const want = directConv2d(x, w, null, { stride: s, pads: p, dilation: d, groups }).data
      let err = 0
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(y.data[i]! - want[i]!))
      expect(err).toBeLessThan(1e-11)
      // conv is linear in x and in w, so <conv(x, w), R> = <x, dL/dx> = <w, dL/dw> for L = <conv(x, w), R>;
      // checked against several fresh x (for dL/dx, which does not depend on x) and w (for dL/dw).
      const R = f64(...y.shape)
      y.mul(R).sum().backward()
      for (let t = 0; t < 3; t++) {
        const x2 = f64(...xs)
        const w2 = f64(...ws)
        const viaX = conv2d(x2, w, null, opts).mul(R).sum().item()
        const viaW = conv2d(x, w2, null, opts).detach().mul(R).sum().item()
        expect(Math.abs(viaX - x2.mul(x.grad!).sum().item())).toBeLessThan(1e-9 * Math.max(1, Math.abs(viaX)))
        expect(Math.abs(viaW - w2.mul(w.grad!).sum().item())).toBeLessThan(1e-9 * Math.max(1, Math.abs(viaW)))
      }
    },
  )

  it('bias adds one value per output channel; unbatched (C, H, W) input works', () => {
    const x = f64(3, 5, 5)
    const w = f64(2, 3, 3, 3)
    const b = f64(2)
    const y = conv2d(x, w, b, { padding: 1 })
    const y0 = conv2d(x, w, null, { padding: 1 })
    expect(y.shape).toEqual([2, 5, 5])
    expect(
      y
        .sub(y0)
        .sub(b.reshape([2, 1, 1]))
        .abs()
        .max()
        .item(),
    ).toBeLessThan(1e-12)
  })
})

describe('gradcheck (float64, relError < 1e-7)', () => {
  manualSeed(7)
  const convCases: [string, number[], number[], boolean, Conv2dOptions][] = [
    ['stride 2', [2, 2, 7, 6], [3, 2, 3, 3], true, { stride: 2, padding: 1 }],
    ['dilation 2', [1, 2, 7, 7], [2, 2, 3, 3], false, { dilation: 2, padding: 1 }],
    ['groups 2', [2, 4, 5, 5], [4, 2, 3, 3], true, { groups: 2 }],
    ['depthwise (groups = C)', [1, 3, 5, 6], [3, 1, 3, 3], false, { groups: 3, padding: 1 }],
    ["'same', even kernel", [1, 2, 5, 6], [2, 2, 2, 4], true, { padding: 'same' }],
    ["'same', stride 2", [1, 2, 7, 5], [2, 2, 3, 3], true, { padding: 'same', stride: 2 }],
    ['asymmetric padding [2, 0, 1, 3]', [1, 2, 5, 4], [3, 2, 3, 2], true, { padding: [2, 0, 1, 3] }],
    ['1x1 stride 2, no bias', [2, 3, 5, 5], [2, 3, 1, 1], false, { stride: 2 }],
    ['stride 3 skips the last rows', [1, 1, 8, 8], [2, 1, 2, 2], true, { stride: 3 }],
  ]
  it.each(convCases)('conv2d %s', (_, xs, ws, bias, opts) => {
    const inputs = bias ? [f64(...xs), f64(...ws), f64(ws[0]!)] : [f64(...xs), f64(...ws)]
    const r = gradcheck((x, w, b) => conv2d(x!, w!, b, opts), inputs)
    expectGradOk(r)
  })

  it('convTranspose2d stride 2, padding 1, outputPadding 1, groups 2, with bias', () => {
    const r = gradcheck(
      (x, w, b) => convTranspose2d(x!, w!, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
      [f64(2, 4, 3, 3), f64(4, 2, 3, 3), f64(4)],
    )
    expectGradOk(r)
  })

  it('convTranspose2d dilation 2 with outputPadding >= stride', () => {
    const r = gradcheck(
      (x, w) => convTranspose2d(x!, w!, null, { dilation: 2, outputPadding: 1, padding: [1, 0] }),
      [f64(1, 2, 3, 4), f64(2, 3, 3, 2)],
    )
    expectGradOk(r)
  })

  it('the weight-gradient op is itself differentiable (so conv has a second derivative)', () => {
    const attrs = {
      strides: [2, 1] as [number, number],
      pads: [1, 0, 0, 1] as [number, number, number, number],
      dilations: [1, 2] as [number, number],
      groups: 2,
      kernel: [3, 2] as [number, number],
    }
    const x = f64(2, 4, 6, 5)
    const dy = conv2d(x, f64(6, 2, 3, 2), null, {
      stride: [2, 1],
      padding: [1, 0, 0, 1],
      dilation: [1, 2],
      groups: 2,
    }).detach()
    const r = gradcheck((a, g) => apply(Conv2dBackwardWeight, [a!, g!], attrs), [x, dy.to('float64')])
    expectGradOk(r)
  })

  it('conv1d', () => {
    const r = gradcheck(
      (x, w, b) => conv1d(x!, w!, b, { stride: 2, padding: 'same', dilation: 1, groups: 2 }),
      [f64(2, 4, 9), f64(2, 2, 3), f64(2)],
    )
    expectGradOk(r)
  })
})

describe('shape checks', () => {
  const x = randn([1, 4, 5, 5])
  it('names what was expected and what came', () => {
    expect(() => conv2d(randn([4, 5]), randn([2, 4, 3, 3]))).toThrow(ShapeError)
    expect(() => conv2d(randn([4, 5]), randn([2, 4, 3, 3]))).toThrow(/expected input \(N, C, H, W\).*got \[4, 5\]/)
    expect(() => conv2d(x, randn([2, 3, 3, 3]))).toThrow(
      /weight \[2, 3, 3, 3\] with groups=1 expects 3 input channels, got 4/,
    )
    expect(() => conv2d(x, randn([3, 2, 3, 3]), null, { groups: 2 })).toThrow(
      /output channels 3 .* not divisible by groups=2/,
    )
    expect(() => conv2d(x, randn([2, 1, 3, 3]), null, { groups: 3 })).toThrow(
      /input channels 4 .* not divisible by groups=3/,
    )
    expect(() => conv2d(x, randn([2, 4, 7, 3]))).toThrow(/padded input 5 x 5 .* smaller than the kernel 7 x 3/)
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { dilation: 3 })).toThrow(/smaller than the kernel 7 x 7/)
    expect(() => conv2d(x, randn([2, 4, 3, 3]), randn([3]))).toThrow(/bias must have shape \[2\].*got \[3\]/)
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { padding: -1 })).toThrow(ArgumentError)
    expect(() => conv2d(x, randn([2, 4, 3, 3]), null, { stride: 0 })).toThrow(/stride must be an integer >= 1/)
    expect(() => conv2d(x, randn([2, 4, 3, 3], { dtype: 'float64' }))).toThrow(DTypeError)
    expect(() => convTranspose2d(x, randn([3, 2, 3, 3]))).toThrow(
      /weight \[3, 2, 3, 3\] expects 3 input channels, got 4/,
    )
    expect(() => convTranspose2d(x, randn([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(
      /outputPadding \[2, 2\] must be smaller than the stride/,
    )
  })
})

describe('ONNX export', () => {
  it('conv2d exports as Conv with per-side pads, strides, dilations, group', () => {
    const [node, ...rest] = lower(
      (x, w, b) => conv2d(x!, w!, b, { padding: 'same', stride: 2, dilation: [1, 2], groups: 2 }),
      [randn([1, 4, 6, 7]), randn([2, 2, 4, 3]), randn([2])],
    )
    expect(rest).toEqual([])
    expect(node).toEqual({
      op: 'Conv',
      inputs: 3,
      outputs: 1,
      // H: ceil(6/2) = 3 outputs need (3-1)*2 + 4 - 6 = 2 (1 + 1); W: (4-1)*2 + 5 - 7 = 4 (2 + 2)
      attrs: { kernel_shape: [4, 3], strides: [2, 2], pads: [1, 2, 1, 2], dilations: [1, 2], group: 2 },
    })
    const [odd] = lower((x, w) => conv2d(x!, w!, null, { padding: 'same' }), [randn([1, 1, 5, 5]), randn([1, 1, 2, 2])])
    expect(odd!.attrs.pads).toEqual([0, 0, 1, 1]) // the extra padding goes at the end (SAME_UPPER)
    expect(odd!.inputs).toBe(2)
  })

  it('convTranspose2d exports as ConvTranspose with output_padding', () => {
    const [node] = lower(
      (x, w) => convTranspose2d(x!, w!, null, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
      [randn([1, 4, 3, 3]), randn([4, 1, 3, 3])],
    )
    expect(node).toEqual({
      op: 'ConvTranspose',
      inputs: 2,
      outputs: 1,
      attrs: {
        kernel_shape: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
        group: 2,
        output_padding: [1, 1],
      },
    })
  })

  it('conv1d exports as a 1-D Conv (one node)', () => {
    const nodes = lower(
      (x, w) => conv1d(x!, w!, null, { stride: 2, padding: [1, 2] }),
      [randn([1, 2, 9]), randn([3, 2, 3])],
    )
    expect(nodes).toEqual([
      {
        op: 'Conv',
        inputs: 2,
        outputs: 1,
        attrs: { kernel_shape: [3], strides: [2], pads: [1, 2], dilations: [1], group: 1 },
      },
    ])
  })
})

/**
 * Pooling ops and LRN: PyTorch's output-size and ceil-mode rules, gradient checks (float64,
 * relError < 1e-7), tie and NaN behaviour, errors, and the ONNX nodes, including a check that the
 * ceil-mode rewrite (explicit end padding) computes the same numbers.
 */
import { describe, expect, it } from 'vitest'
import { expectGradOk } from './helpers/grad.js'
import { type LoweredNode, lower } from './helpers/lower.js'
import { enableGrad } from '../src/autograd.js'
import { ArgumentError, ShapeError } from '../src/errors.js'
import { gradcheck } from '../src/gradcheck.js'
import { Module } from '../src/nn/module.js'
import { exportOnnx } from '../src/onnx/export.js'
import { loadOnnx } from '../src/onnx/import.js'
import { apply } from '../src/op.js'
import {
  type AvgPool2dOptions,
  AvgPool2d,
  type MaxPool2dOptions,
  MaxPool2d,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  adaptiveWindows,
  arange,
  avgPool2d,
  globalAvgPool2d,
  globalMaxPool2d,
  localResponseNorm,
  maxPool2d,
  maxPool2dWithIndices,
  pad,
  pool2dOutputSize,
  randn,
} from '../src/ops/index.js'
import { manualSeed } from '../src/random.js'
import { type Tensor, tensor } from '../src/tensor.js'

const f64 = (...shape: number[]) => randn(shape, { dtype: 'float64' })

describe('pool2dOutputSize', () => {
  it("follows PyTorch, including the ceil-mode rule (values from torch 1.13's max_pool2d)", () => {
    // [n, k, s, p, d, ceilMode, torch output]
    const table: [number, number, number, number, number, boolean, number][] = [
      [112, 3, 2, 0, 1, false, 55],
      [112, 3, 2, 0, 1, true, 56], // GoogLeNet's ceil-mode pools
      [5, 2, 2, 1, 1, true, 3], // the 4th window would start in the right padding: dropped
      [6, 3, 2, 1, 1, true, 4],
      [7, 3, 2, 1, 1, true, 4],
      [8, 3, 2, 0, 1, true, 4],
      [9, 3, 3, 1, 1, true, 4],
      [10, 2, 2, 1, 2, true, 6],
      [4, 3, 2, 1, 1, true, 3],
      [112, 3, 2, 1, 1, false, 56],
    ]
    for (const [n, k, s, p, d, ceil, want] of table)
      expect(pool2dOutputSize(n, k, s, p, d, ceil), `${[n, k, s, p, d, ceil]}`).toBe(want)
    expect(pool2dOutputSize(8, 2)).toBe(4) // stride defaults to the kernel
  })
})

describe('max pooling', () => {
  it('takes the window max; ties go to the first element, as in PyTorch', () => {
    const x = tensor(
      [
        [
          [
            [1, 3, 3, 0],
            [2, 3, 0, 5],
            [7, 7, 1, 1],
            [7, 7, 1, 1],
          ],
        ],
      ],
      { dtype: 'float64' },
    ).requireGrad()
    const y = maxPool2d(x, 2)
    expect(y.toArray()).toEqual([
      [
        [
          [3, 5],
          [7, 1],
        ],
      ],
    ])
    y.sum().backward()
    expect(x.grad!.toArray()).toEqual([
      [
        [
          [0, 1, 0, 0],
          [0, 0, 0, 1],
          [1, 0, 1, 0],
          [0, 0, 0, 0],
        ],
      ],
    ])
    const [, idx] = maxPool2dWithIndices(x.detach(), 2)
    expect(idx.dtype).toBe('int32')
    expect(idx.toArray()).toEqual([
      [
        [
          [1, 7],
          [8, 10],
        ],
      ],
    ])
  })

  it('propagates NaN and ignores the -inf padding', () => {
    const x = tensor([
      [
        [
          [1, NaN],
          [2, 3],
        ],
      ],
    ])
    expect(Number.isNaN(maxPool2d(x, 2).item())).toBe(true)
    const neg = tensor([
      [
        [
          [-5, -6],
          [-7, -8],
        ],
      ],
    ])
    expect(maxPool2d(neg, { kernelSize: 2, stride: 1, padding: 1 }).toArray()).toEqual([
      [
        [
          [-5, -5, -6],
          [-5, -5, -6],
          [-7, -7, -8],
        ],
      ],
    ])
  })
})

describe('average pooling', () => {
  const x = arange(1, 17).reshape([1, 1, 4, 4]).to('float64')
  it('ceil mode counts padding but not the overhang past it (PyTorch; onnxruntime#16203 example)', () => {
    const y = avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true })
    const want = [14 / 9, 30 / 9, 2, 57 / 9, 11, 6, 4.5, 7.5, 4]
    expect(y.shape).toEqual([1, 1, 3, 3])
    ;[...y.data].forEach((v, i) => {
      expect(v).toBeCloseTo(want[i]!, 12)
    })
    const excl = avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false })
    expect([...excl.data]).toEqual([3.5, 5, 6, 9.5, 11, 12, 13.5, 15, 16])
  })
})

describe('gradcheck (float64, relError < 1e-7)', () => {
  manualSeed(11)
  const fns: [string, number[], (x: Tensor) => Tensor][] = [
    ['maxPool2d 2x2', [2, 2, 6, 6], (x) => maxPool2d(x, 2)],
    ['maxPool2d k3 s2 p1', [1, 2, 7, 8], (x) => maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })],
    ['maxPool2d ceilMode', [1, 2, 8, 9], (x) => maxPool2d(x, { kernelSize: 3, stride: 2, ceilMode: true })],
    [
      'maxPool2d dilation 2, overlapping',
      [1, 1, 8, 7],
      (x) => maxPool2d(x, { kernelSize: [2, 3], stride: 1, dilation: 2, padding: [1, 1] }),
    ],
    ['avgPool2d k3 s2 p1', [1, 2, 7, 8], (x) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })],
    [
      'avgPool2d countIncludePad false',
      [1, 2, 7, 8],
      (x) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }),
    ],
    ['avgPool2d ceilMode', [1, 2, 6, 7], (x) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true })],
    [
      'avgPool2d ceilMode countIncludePad false',
      [1, 2, 6, 7],
      (x) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    ],
    ['adaptiveAvgPool2d uneven', [2, 2, 5, 7], (x) => adaptiveAvgPool2d(x, [3, 4])],
    ['adaptiveAvgPool2d even', [1, 2, 6, 4], (x) => adaptiveAvgPool2d(x, [3, 2])],
    ['adaptiveMaxPool2d uneven', [2, 2, 5, 7], (x) => adaptiveMaxPool2d(x, [3, 4])],
    ['adaptiveMaxPool2d even', [1, 2, 6, 4], (x) => adaptiveMaxPool2d(x, 2)],
    ['globalAvgPool2d', [2, 3, 4, 5], (x) => globalAvgPool2d(x)],
    ['globalMaxPool2d', [2, 3, 4, 5], (x) => globalMaxPool2d(x)],
    ['localResponseNorm size 5', [2, 7, 3, 3], (x) => localResponseNorm(x, { size: 5, alpha: 0.5, k: 2 })],
    ['localResponseNorm size 4', [1, 6, 2, 3], (x) => localResponseNorm(x, { size: 4, alpha: 0.8, beta: 0.5 })],
  ]
  it.each(fns)('%s', (_, shape, fn) => {
    expectGradOk(gradcheck(fn, [f64(...shape)]))
  })

  it('the backward ops are differentiable again (second derivatives of the pools)', () => {
    // d/dx of (sum of dL/dx * R) needs the backward op's own backward: gradcheck the gradient map dy -> dx.
    const x = f64(1, 2, 6, 7)
    const attrs = {
      kernel: [3, 3] as [number, number],
      strides: [2, 2] as [number, number],
      pads: [1, 1, 1, 1] as [number, number, number, number],
      dilations: [1, 1] as [number, number],
      ceilMode: true,
      out: [4, 4] as [number, number],
    }
    const viaGrad = (op: typeof MaxPool2d, extra: object) => (dy: Tensor) => {
      const leaf = x.detach().requireGrad()
      // enableGrad: gradcheck evaluates under noGrad, and the op must record its node here.
      const y = enableGrad(() => apply(op, [leaf], { ...attrs, ...extra }))
      return y.node!.backward(dy)[0]!
    }
    expectGradOk(gradcheck(viaGrad(MaxPool2d, {}), [f64(1, 2, 4, 4)]))
    expectGradOk(gradcheck(viaGrad(AvgPool2d as typeof MaxPool2d, { countIncludePad: true }), [f64(1, 2, 4, 4)]))
  })
})

describe('adaptive windows', () => {
  it("are PyTorch's [floor(i n / o), ceil((i + 1) n / o))", () => {
    expect(adaptiveWindows(5, 3)).toEqual([
      [0, 2],
      [1, 4],
      [3, 5],
    ])
    expect(adaptiveWindows(7, 4)).toEqual([
      [0, 2],
      [1, 4],
      [3, 6],
      [5, 7],
    ])
    expect(adaptiveWindows(6, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 6],
    ])
  })
})

describe('errors', () => {
  const x = randn([1, 2, 5, 5])
  it('names what was expected and what came', () => {
    expect(() => maxPool2d(randn([2, 5, 5]), 2)).toThrow(/expected input \(N, C, H, W\), got \[2, 5, 5\]/)
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(ArgumentError)
    expect(() => maxPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(
      /padding \[2, 2\] must be at most half the kernel \[2, 2\]/,
    )
    expect(() => avgPool2d(x, 7)).toThrow(ShapeError)
    expect(() => avgPool2d(x, 7)).toThrow(/input \[1, 2, 5, 5\] .* smaller than the window \[7, 7\]/)
    expect(() => maxPool2d(x, { kernelSize: 0 })).toThrow(/kernelSize must be an integer >= 1/)
    expect(() => adaptiveAvgPool2d(x, [0, 2])).toThrow(/outputSize/)
    expect(() => localResponseNorm(randn([4, 5]), { size: 3 })).toThrow(/at least 3 dims, got \[4, 5\]/)
  })
})

/** Run MaxPool / AveragePool / Pad nodes (floor mode, as emitted) with our kernels, by ONNX's definitions. */
function runNodes(nodes: LoweredNode[], x: Tensor): Tensor {
  let t = x
  for (const n of nodes) {
    if (n.op === 'Pad') {
      t = pad(t, [0, 0, 1, 1, 0, 0, 1, 1]) // the test below pads by its padding 1
      continue
    }
    const k = n.attrs.kernel_shape as [number, number]
    const s = n.attrs.strides as [number, number]
    const p = (n.attrs.pads ?? [0, 0, 0, 0]) as [number, number, number, number]
    expect(n.attrs.ceil_mode ?? 0).toBe(0)
    const out = [0, 1].map((i) => Math.floor((t.shape[2 + i]! + p[i]! + p[i + 2]! - k[i]!) / s[i]!) + 1) as [
      number,
      number,
    ]
    const attrs = { kernel: k, strides: s, pads: p, dilations: [1, 1] as [number, number], ceilMode: false, out }
    t =
      n.op === 'MaxPool'
        ? apply(MaxPool2d, [t], attrs)
        : apply(AvgPool2d, [t], { ...attrs, countIncludePad: n.attrs.count_include_pad === 1 })
  }
  return t
}

describe('ONNX export', () => {
  const x = f64(1, 2, 6, 7)
  const same = (a: Tensor, b: Tensor) => {
    expect(a.shape).toEqual(b.shape)
    expect(a.sub(b).abs().max().item()).toBeLessThan(1e-12)
  }

  it('floor-mode pools are one native node', () => {
    expect(lower((t) => maxPool2d(t, { kernelSize: 3, stride: 2, padding: 1, dilation: [1, 2] }), x)).toEqual([
      {
        op: 'MaxPool',
        inputs: 1,
        outputs: 1,
        attrs: { kernel_shape: [3, 3], strides: [2, 2], dilations: [1, 2], pads: [1, 1, 1, 1] },
      },
    ])
    expect(lower((t) => avgPool2d(t, { kernelSize: 2, countIncludePad: false }), x)).toEqual([
      {
        op: 'AveragePool',
        inputs: 1,
        outputs: 1,
        attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], count_include_pad: 0 },
      },
    ])
  })

  const ceilCases: [string, (t: Tensor) => Tensor, string[]][] = [
    [
      'maxPool2d',
      (t) => maxPool2d(t, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true } satisfies MaxPool2dOptions),
      ['MaxPool'],
    ],
    [
      'avgPool2d, countIncludePad',
      (t) => avgPool2d(t, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true } satisfies AvgPool2dOptions),
      ['Pad', 'AveragePool'],
    ],
    [
      'avgPool2d, countIncludePad false',
      (t) => avgPool2d(t, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
      ['AveragePool'],
    ],
    ['avgPool2d, no padding', (t) => avgPool2d(t, { kernelSize: 2, ceilMode: true }), ['AveragePool']],
  ]
  it.each(ceilCases)('ceil mode %s becomes explicit end padding that computes the same numbers', (_, fn, ops) => {
    const nodes = lower(fn, x)
    expect(nodes.map((n) => n.op)).toEqual(ops)
    same(runNodes(nodes, x), fn(x))
  })

  it('maxPool2dWithIndices exports MaxPool with Indices, made per-plane and int32', () => {
    const nodes = lower((t) => {
      const [y, idx] = maxPool2dWithIndices(t, 2)
      return y.add(idx.to('float64'))
    }, x)
    expect(nodes.slice(0, 3).map((n) => [n.op, n.outputs])).toEqual([
      ['MaxPool', 2],
      ['Mod', 1],
      ['Cast', 1],
    ])
    expect(nodes[2]!.attrs.to).toBe(6)
  })

  it('global and adaptive pools', () => {
    expect(lower(globalAvgPool2d, x).map((n) => n.op)).toEqual(['GlobalAveragePool'])
    expect(lower(globalMaxPool2d, x).map((n) => n.op)).toEqual(['GlobalMaxPool'])
    expect(lower((t) => adaptiveAvgPool2d(t, 1), x).map((n) => n.op)).toEqual(['GlobalAveragePool'])
    expect(lower((t) => adaptiveMaxPool2d(t, 1), x).map((n) => n.op)).toEqual(['GlobalMaxPool'])
    const y = f64(1, 2, 6, 4)
    expect(lower((t) => adaptiveAvgPool2d(t, [3, 2]), y)).toEqual([
      {
        op: 'AveragePool',
        inputs: 1,
        outputs: 1,
        attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
      },
    ])
    expect(lower((t) => adaptiveMaxPool2d(t, [2, 4]), y).map((n) => [n.op, n.attrs.kernel_shape])).toEqual([
      ['MaxPool', [3, 1]],
    ])
    // Uneven average windows: the two averaging-matrix products the forward computes.
    expect(lower((t) => adaptiveAvgPool2d(t, [4, 3]), y).map((n) => n.op)).toEqual(['MatMul', 'MatMul'])
    class Uneven extends Module {
      forward(t: Tensor) {
        return adaptiveAvgPool2d(t, [4, 3])
      }
    }
    const [back] = loadOnnx(exportOnnx(new Uneven(), [y])).call(y)
    expect(
      back!
        .sub(adaptiveAvgPool2d(y, [4, 3]))
        .abs()
        .max()
        .item(),
    ).toBeLessThan(1e-12)
    expect(() => lower((t) => adaptiveMaxPool2d(t, [4, 3]), y)).toThrow(/input 6 x 4 and output 4 x 3/)
  })

  it('LRN: odd sizes are the native node; even sizes (ONNX centres the window differently) decompose', () => {
    const t = f64(1, 6, 3, 3)
    expect(lower((v) => localResponseNorm(v, { size: 5, alpha: 0.5, beta: 0.75, k: 2 }), t)).toEqual([
      { op: 'LRN', inputs: 1, outputs: 1, attrs: { size: 5, alpha: 0.5, beta: 0.75, bias: 2 } },
    ])
    const even = lower((v) => localResponseNorm(v, { size: 4 }), t)
    expect(even.map((n) => n.op)).toEqual([
      'Mul',
      'Unsqueeze',
      'Pad',
      'AveragePool',
      'Squeeze',
      'Mul',
      'Add',
      'Pow',
      'Div',
    ])
    expect(even[3]!.attrs.kernel_shape).toEqual([4, 1, 1])
  })
})

/**
 * The js kernels' fast paths (row broadcast, merged-axis reductions, row-wise strided copy) give the general results,
 * and the fused ReLU gradient equals its definition.
 */
import { describe, expect, it } from 'vitest'
import { jsKernels } from '../src/backends/js/kernels.js'
import { erf, erfReference } from '../src/backends/js/unary.js'
import { arange, relu, reluGrad } from '../src/ops/index.js'
import { Generator } from '../src/random.js'
import { tensor } from '../src/tensor.js'
import type { TypedArray } from '../src/dtype.js'

/** Where by its definition, one element at a time over the broadcast shape. */
function whereByDefinition(c: Uint8Array, a: TypedArray, b: TypedArray, shapes: number[][], out: number[]) {
  const size = out.reduce((p, q) => p * q, 1)
  const at = (shape: number[], idx: number[]) =>
    shape.reduce((o, d, k) => o * d + (d === 1 ? 0 : idx[idx.length - shape.length + k]!), 0)
  return Array.from({ length: size }, (_, i) => {
    const idx: number[] = []
    for (let d = out.length - 1, r = i; d >= 0; d--) {
      idx[d] = r % out[d]!
      r = Math.floor(r / out[d]!)
    }
    return c[at(shapes[0]!, idx)] ? a[at(shapes[1]!, idx)]! : b[at(shapes[2]!, idx)]!
  })
}

describe('js kernel fast paths', () => {
  it('Gather of long rows (block copies) equals the element loop, on axis 0 and a middle axis, and across array types', () => {
    const g = new Generator(3)
    for (const [shape, axis] of [
      [[7, 100], 0],
      [[3, 5, 64], 1],
      [[2, 6, 70], 1],
    ] as [number[], number][]) {
      const n = shape.reduce((a, b) => a * b, 1)
      const x = Float32Array.from({ length: n }, () => g.random())
      const idx = Int32Array.from([2, 0, 2, shape[axis]! - 1])
      const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1)
      const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1)
      const want: number[] = []
      for (let o = 0; o < outer; o++)
        for (const i of idx) for (let j = 0; j < inner; j++) want.push(x[(o * shape[axis]! + i) * inner + j]!)
      const out = new Float32Array(want.length)
      jsKernels.Gather(x, shape, axis, idx, out)
      expect(Array.from(out)).toEqual(Array.from(Float32Array.from(want)))
      const out64 = new Float64Array(want.length)
      jsKernels.Gather(x, shape, axis, idx, out64)
      expect(Array.from(out64)).toEqual(Array.from(Float32Array.from(want)))
    }
  })

  it('Where over rows: every operand broadcast or dense, scalars, a (B, 1, 1, L) key mask over (B, H, L, L)', () => {
    const g = new Generator(5)
    const cases: [number[], number[], number[], number[]][] = [
      [[2, 1, 1, 5], [2, 3, 4, 5], [], [2, 3, 4, 5]],
      [
        [3, 1],
        [1, 4],
        [3, 4],
        [3, 4],
      ],
      [[], [2, 3], [1, 3], [2, 3]],
      [
        [4, 1, 6],
        [1, 5, 1],
        [4, 5, 6],
        [4, 5, 6],
      ],
      [[], [], [], []],
    ]
    // Every dtype: the kernel moves bits (float64 as two words, bool as bytes).
    const types = [Float32Array, Float64Array, Int32Array, Uint8Array] as const
    for (const [cs, as, bs, out] of cases)
      for (const T of types) {
        const size = (s: number[]) => s.reduce((p, q) => p * q, 1)
        const c = Uint8Array.from({ length: size(cs) }, () => (g.random() < 0.5 ? 1 : 0))
        const a = T.from(Array.from({ length: size(as) }, () => Math.floor(g.random() * 200) - 100.5))
        const b = T.from(Array.from({ length: size(bs) }, () => -Math.floor(g.random() * 200) + 0.25))
        const strides = (s: number[]) => {
          const full = [...Array(out.length - s.length).fill(1), ...s]
          let st = 1
          const r: number[] = []
          for (let d = full.length - 1; d >= 0; d--) {
            r[d] = full[d] === 1 ? 0 : st
            st *= full[d]!
          }
          return r
        }
        const got = new T(size(out))
        jsKernels.Where(c, strides(cs), a, strides(as), b, strides(bs), got, out)
        expect([...got], `${T.name} ${cs} ${as} ${bs}`).toEqual(whereByDefinition(c, a, b, [cs, as, bs], out))
      }
  })

  it('strided copy and scatter move every dtype bit for bit (NaN payloads, -0), with offsets and transposes', () => {
    const g = new Generator(9)
    const src = new Float64Array(7 * 5 * 3).map(() => g.random() - 0.5)
    // A NaN with a payload (written as words: no float64 store in between) and a negative zero.
    const words = new Uint32Array(src.buffer)
    words[8] = 0x12345
    words[9] = 0x7ff80000
    src[8] = -0
    // (3, 5, 2) view at offset 1: axes permuted and the last one strided.
    const shape = [3, 5, 2]
    const strides = [1, 3, 45]
    const offset = 1
    const at = (i: number) =>
      offset + Math.floor(i / 10) * strides[0]! + (Math.floor(i / 2) % 5) * strides[1]! + (i % 2) * strides[2]!
    for (const T of [Float32Array, Float64Array, Int32Array, Uint8Array] as const) {
      const data =
        T === Float64Array
          ? src
          : T === Float32Array
            ? Float32Array.from(src)
            : T.from(Array.from(src, (v) => Math.floor(v * 1000)))
      const out = new T(30)
      jsKernels.StridedCopy(data, offset, shape, strides, out)
      const want = Array.from({ length: 30 }, (_, i) => data[at(i)]!)
      expect(Array.from(out, (v, i) => Object.is(v, want[i]))).toEqual(new Array(30).fill(true))
      const back = new T(data.length)
      jsKernels.StridedScatter(out, back, offset, shape, strides)
      for (let i = 0; i < 30; i++) expect(Object.is(back[at(i)], data[at(i)])).toBe(true)
    }
    const f64 = new Float64Array(30)
    jsKernels.StridedCopy(src, offset, shape, strides, f64)
    const k = Array.from({ length: 30 }, (_, j) => at(j)).indexOf(4)
    expect([...new Uint32Array(f64.buffer, k * 8, 2)]).toEqual([0x12345, 0x7ff80000])
  })

  it('strided copy and scatter of views whose dims merge into long runs (channel and row slices, size-1 dims) move each element', () => {
    const src = Float32Array.from({ length: 2 * 6 * 9 * 10 }, (_, i) => i + 0.5)
    const full = [6 * 9 * 10, 9 * 10, 10, 1]
    const views: { shape: number[]; strides: number[]; offset: number }[] = [
      { shape: [2, 3, 9, 10], strides: full, offset: 2 * 90 }, // channels 2..4: one run of 270 a batch
      { shape: [2, 6, 7, 10], strides: full, offset: 10 }, // rows 1..7: runs of 70
      { shape: [1, 4, 1, 90], strides: [0, 90, 0, 1], offset: 90 }, // size-1 dims: one run of 360
      { shape: [2, 6, 9, 4], strides: full, offset: 3 }, // columns 3..6: runs of 4
      { shape: [1, 1], strides: [7, 3], offset: 11 }, // a single element
      { shape: [], strides: [], offset: 5 },
    ]
    for (const { shape, strides, offset } of views) {
      const n = shape.reduce((a, b) => a * b, 1)
      const want = Array.from({ length: n }, (_, i) => {
        let off = offset
        for (let d = shape.length - 1, r = i; d >= 0; d--) {
          off += (r % shape[d]!) * strides[d]!
          r = Math.floor(r / shape[d]!)
        }
        return src[off]!
      })
      const out = new Float32Array(n)
      jsKernels.StridedCopy(src, offset, shape, strides, out)
      expect([...out], `view ${shape}`).toEqual(want)
      // and back: the scatter writes each element where the copy read it, and nothing else
      const back = new Float32Array(src.length).fill(-1)
      jsKernels.StridedScatter(out, back, offset, shape, strides)
      const written = [...back].map((v, i) => (v === -1 ? -1 : i))
      const expected = new Array(src.length).fill(-1)
      for (const v of want) expected[v - 0.5] = v - 0.5
      expect(written, `view ${shape}`).toEqual(expected)
      for (const v of want) expect(back[v - 0.5]).toBe(v)
    }
  })

  it('constant padding (the value, then the input in the interior) puts every element where indexing says', () => {
    for (const [shape, pads] of [
      [
        [2, 3, 70],
        [0, 1, 2, 1, 0, 3],
      ], // long rows: block copies
      [
        [3, 4],
        [1, 2, 0, 1],
      ], // short rows
      [[5], [0, 0]],
    ] as [number[], number[]][]) {
      const n = shape.reduce((a, b) => a * b, 1)
      const x = Float64Array.from({ length: n }, (_, i) => i + 1)
      const outShape = shape.map((d, i) => d + pads[i]! + pads[i + shape.length]!)
      const out = new Float64Array(outShape.reduce((a, b) => a * b, 1))
      jsKernels.Pad(x, shape, pads, 'constant', -7, out)
      const want = Array.from(out, (_, i) => {
        let src = 0
        for (let d = shape.length - 1, r = i, mul = 1; d >= 0; d--) {
          const c = (r % outShape[d]!) - pads[d]!
          r = Math.floor(r / outShape[d]!)
          if (c < 0 || c >= shape[d]!) return -7
          src += c * mul
          mul *= shape[d]!
        }
        return x[src]!
      })
      expect([...out], `shape ${shape} pads ${pads}`).toEqual(want)
    }
  })

  const x = arange(0, 12).to('float32').reshape([2, 3, 2])

  it('binary ops with a row repeated along leading dims, on either side', () => {
    const row = tensor([10, 20])
    expect(x.add(row).toArray()).toEqual([
      [
        [10, 21],
        [12, 23],
        [14, 25],
      ],
      [
        [16, 27],
        [18, 29],
        [20, 31],
      ],
    ])
    expect(row.sub(x).toArray()).toEqual([
      [
        [10, 19],
        [8, 17],
        [6, 15],
      ],
      [
        [4, 13],
        [2, 11],
        [0, 9],
      ],
    ])
    const block = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ])
    expect(x.mul(block).toArray()).toEqual([
      [
        [0, 2],
        [6, 12],
        [20, 30],
      ],
      [
        [6, 14],
        [24, 36],
        [50, 66],
      ],
    ])
    // A column (not a repeated row) still takes the general path.
    expect(
      tensor([[1], [2]])
        .add(
          tensor([
            [0, 1, 2],
            [3, 4, 5],
          ]),
        )
        .toArray(),
    ).toEqual([
      [1, 2, 3],
      [5, 6, 7],
    ])
  })

  it('sums and maxima over leading axes', () => {
    expect(x.sum(0).toArray()).toEqual([
      [6, 8],
      [10, 12],
      [14, 16],
    ])
    expect(x.sum([0, 1]).toArray()).toEqual([30, 36])
    expect(x.max(0, true).toArray()).toEqual([
      [
        [6, 7],
        [8, 9],
        [10, 11],
      ],
    ])
    expect(x.sum([1]).toArray()).toEqual([
      [6, 9],
      [24, 27],
    ])
  })

  it('strided copies of transposed and sliced views', () => {
    expect(x.permute(2, 0, 1).contiguous().toArray()).toEqual([
      [
        [0, 2, 4],
        [6, 8, 10],
      ],
      [
        [1, 3, 5],
        [7, 9, 11],
      ],
    ])
    expect(x.slice(1, 0, 3, 2).contiguous().toArray()).toEqual([
      [
        [0, 1],
        [4, 5],
      ],
      [
        [6, 7],
        [10, 11],
      ],
    ])
    expect(arange(0, 6).to('float32').reshape([2, 3]).T.contiguous().toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ])
  })
})

describe('js reductions', () => {
  /** The definition: every input element, in row-major order, folded into its output. */
  function reference(
    x: Float32Array,
    shape: number[],
    axes: number[],
    init: number,
    f: (a: number, v: number) => number,
  ) {
    const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d))
    const out = new (x.constructor as Float32ArrayConstructor)(outShape.reduce((a, b) => a * b, 1)).fill(init)
    const idx = shape.map(() => 0)
    for (let i = 0; i < x.length; i++) {
      let o = 0
      for (let d = 0; d < shape.length; d++) o = o * outShape[d]! + (axes.includes(d) ? 0 : idx[d]!)
      out[o] = f(out[o]!, x[i]!)
      for (let d = shape.length - 1; d >= 0 && ++idx[d]! === shape[d]; d--) idx[d] = 0
    }
    return out
  }

  it('equal the definition on random shapes and axes (size-1 and merged dims; max and min bit for bit, NaN included)', () => {
    const gen = new Generator(7)
    const max = (a: number, v: number) => (v > a || Number.isNaN(v) ? v : a)
    const min = (a: number, v: number) => (v < a || Number.isNaN(v) ? v : a)
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + gen.int(5)
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 5, 8][gen.int(5)]!)
      const axes = shape.map((_, i) => i).filter(() => gen.random() < 0.5)
      if (axes.length === 0) axes.push(gen.int(rank))
      const n = shape.reduce((a, b) => a * b, 1)
      const x = Float32Array.from({ length: n }, () => (gen.random() - 0.5) * 1e3)
      const where = `over ${axes} of ${shape}`
      // Sums: within float32 rounding of the float64 sum (a run along a reduced innermost dim is accumulated
      // before it is rounded, as the row-wise sums always were).
      const want = reference(Float64Array.from(x) as unknown as Float32Array, shape, axes, 0, (a, v) => a + v)
      const absSum = reference(Float32Array.from(x, Math.abs), shape, axes, 0, (a, v) => a + v)
      const got = new Float32Array(want.length)
      jsKernels.ReduceSum(x, shape, axes, got)
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i]! - want[i]!), `sum ${where}`).toBeLessThanOrEqual(1e-6 * absSum[i]! + 1e-30)
      if (trial % 10 === 0) x[gen.int(n)] = Number.NaN
      for (const [name, init, f] of [
        ['ReduceMax', -Infinity, max],
        ['ReduceMin', Infinity, min],
      ] as const) {
        const wantExt = reference(x, shape, axes, init, f)
        const gotExt = new Float32Array(wantExt.length)
        jsKernels[name](x, shape, axes, gotExt)
        expect(
          gotExt.every((v, i) => Object.is(v, wantExt[i])),
          `${name} ${where}`,
        ).toBe(true)
      }
    }
  })
})

describe('ReLU gradient', () => {
  it('passes dy where x > 0 and multiplies it by 0 elsewhere (signed zeros and NaN as dy * 0)', () => {
    const x = tensor([1, 0, -1, Number.NaN, 2, -3])
    const dy = tensor([2, 3, -4, 5, Number.NaN, Number.POSITIVE_INFINITY])
    expect(Array.from(reluGrad(dy, x).data)).toEqual([2, 0, -0, 0, Number.NaN, Number.NaN])
  })

  it('is the gradient of relu, and differentiable again in dy', () => {
    const x = tensor([[1, -2, 3, -4]], { requiresGrad: true })
    const dy = tensor([[0.5, 0.5, -1, 2]], { requiresGrad: true })
    relu(x).backward(dy, { createGraph: true })
    const gx = x.grad!
    expect(gx.toArray()).toEqual([[0.5, 0, -1, 0]])
    gx.sum().backward()
    expect(dy.grad!.toArray()).toEqual([[1, 0, 1, 0]])
  })
})

describe('erf', () => {
  // Python's math.erf (the C library's erf), by:
  // python3 -c "import math; print([(x, math.erf(x)) for x in [0.0, 1e-8, 0.1, 0.5, ...]])"
  const ERF_GOLDEN: [number, number][] = [
    [0.0, 0.0],
    [1e-8, 1.1283791670955126e-8],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [0.9, 0.7969082124228322],
    [1.0, 0.8427007929497149],
    [1.7, 0.9837904585907745],
    [2.3, 0.9988568234026434],
    [2.4999, 0.9995928300996666],
    [2.6559, 0.9998273560644939],
    [3.0001, 0.9999779234241298],
    [4.0, 0.9999999845827421],
    [5.5, 0.9999999999999927],
    [5.999, 1.0],
    [6.5, 1.0],
    [-0.7, -0.6778011938374184],
    [-2.9, -0.9999589021219005],
  ]

  it('the table-driven erf and its series reference agree with the C library to a few float64 ulps', () => {
    for (const [x, want] of ERF_GOLDEN) {
      expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThanOrEqual(2e-15)
      expect(Math.abs(erfReference(x) - want), `erfReference(${x})`).toBeLessThanOrEqual(2e-15)
    }
    expect([erf(Number.NaN), erf(Number.POSITIVE_INFINITY), erf(Number.NEGATIVE_INFINITY)]).toEqual([Number.NaN, 1, -1])
  })

  it('the table-driven erf equals the series within 4e-15 everywhere (each node, between nodes, both signs)', () => {
    const gen = new Generator(3)
    for (let i = 0; i < 20_000; i++) {
      const x = i < 1000 ? (i - 500) / 64 : (gen.random() - 0.5) * 16
      expect(Math.abs(erf(x) - erfReference(x)), `erf(${x})`).toBeLessThanOrEqual(4e-15)
    }
  })

  it('the Erf and exact Gelu kernels map erf over the data', () => {
    const x = Float64Array.from([-3, -0.5, 0, 0.25, 1, 2.75])
    const [e, g] = [new Float64Array(6), new Float64Array(6)]
    jsKernels.Erf(x, e, {})
    jsKernels.Gelu(x, g, {})
    x.forEach((v, i) => {
      expect(e[i]).toBe(erf(v))
      expect(g[i]).toBe(0.5 * v * (1 + erf(v / Math.SQRT2)))
    })
  })
})

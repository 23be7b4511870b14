/**
 * The `js` backend: the readable reference for every kernel. Plain loops over contiguous row-major
 * arrays; correctness first, with a fast path only where the general loop would be absurd.
 */
import {
  type BinaryKernel,
  type FloatArray,
  type KernelTable,
  type ReduceKernel,
  type UnaryKernel,
  binaryOpNames,
  unaryOpNames,
} from '../../kernel-table.js'
import type { TypedArray } from '../../dtype.js'
import { sizeOf, sizeOfRange, stridesOf } from '../../shape.js'
import { binaryScalar, erf, unaryScalar } from './unary.js'
import { matmul, matmulTransA, matmulTransB } from './matmul.js'
import { convKernels } from './conv.js'
import { recurrentScan } from './recurrent.js'

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

const unary =
  (f: (x: number, a: object) => number): UnaryKernel =>
  (x, out, attrs) => {
    for (let i = 0; i < x.length; i++) out[i] = f(x[i]!, attrs)
  }

/** Own loops for the activations networks spend their element-wise time in (see `rows` for why). */
const unaryLoops: Partial<Record<(typeof unaryOpNames)[number], UnaryKernel>> = {
  Relu: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = x[i]! > 0 ? x[i]! : 0
  },
  Neg: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = -x[i]!
  },
  Exp: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]!)
  },
  Sqrt: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(x[i]!)
  },
  Tanh: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]!)
  },
  Sigmoid: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!))
  },
  Erf: (x, out) => {
    for (let i = 0; i < x.length; i++) out[i] = erf(x[i]!)
  },
  Gelu: (x, out, attrs) => {
    if (attrs.approximate === 'tanh') return unary(unaryScalar.Gelu)(x, out, attrs)
    for (let i = 0; i < x.length; i++) out[i] = 0.5 * x[i]! * (1 + erf(x[i]! / Math.SQRT2))
  },
}

/** Walk every index of `shape`, keeping one flat offset per operand (by its strides). */
export function forEachIndex(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  fn: (i: number, offs: number[]) => void,
): void {
  const rank = shape.length
  const n = sizeOf(shape)
  const offs = strides.map(() => 0)
  const idx = new Array<number>(rank).fill(0)
  for (let i = 0; i < n; i++) {
    fn(i, offs)
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++
      for (let k = 0; k < offs.length; k++) offs[k]! += strides[k]![d]!
      if (idx[d]! < shape[d]!) break
      for (let k = 0; k < offs.length; k++) offs[k]! -= strides[k]![d]! * shape[d]!
      idx[d] = 0
    }
  }
}

/**
 * One run of `n` outputs: o[oi + i] = f(a[ai + i * as], b[bi + i * bs]). The arithmetic ops that dominate
 * networks get their own loop (`rows` below): a loop calling `f` through a shared closure is megamorphic in V8
 * and runs 4-15x slower (measured: a dense 800k-element Mul takes 16 ms through `f`, 1 ms as its own loop).
 */
type Row = (
  a: TypedArray,
  ai: number,
  as: number,
  b: TypedArray,
  bi: number,
  bs: number,
  o: TypedArray,
  oi: number,
  n: number,
) => void

const rows: Partial<Record<(typeof binaryOpNames)[number], Row>> = {
  Add: (a, ai, as, b, bi, bs, o, oi, n) => {
    for (let i = 0; i < n; i++) o[oi + i] = a[ai + i * as]! + b[bi + i * bs]!
  },
  Sub: (a, ai, as, b, bi, bs, o, oi, n) => {
    for (let i = 0; i < n; i++) o[oi + i] = a[ai + i * as]! - b[bi + i * bs]!
  },
  Mul: (a, ai, as, b, bi, bs, o, oi, n) => {
    for (let i = 0; i < n; i++) o[oi + i] = a[ai + i * as]! * b[bi + i * bs]!
  },
  Div: (a, ai, as, b, bi, bs, o, oi, n) => {
    for (let i = 0; i < n; i++) o[oi + i] = a[ai + i * as]! / b[bi + i * bs]!
  },
}

const genericRow =
  (f: (a: number, b: number) => number): Row =>
  (a, ai, as, b, bi, bs, o, oi, n) => {
    for (let i = 0; i < n; i++) o[oi + i] = f(a[ai + i * as]!, b[bi + i * bs]!)
  }

/**
 * Merge adjacent dims of `shape` that every operand walks as one (stride[d] = stride[d + 1] * shape[d + 1]),
 * dropping size-1 dims: a per-channel scale over (N, C, H, W) becomes (N, C, H*W) with strides (0, 1, 0).
 * Returns the merged shape and each operand's merged strides.
 */
export function collapseAll(shape: readonly number[], strides: readonly (readonly number[])[]): [number[], number[][]] {
  const S: number[] = []
  const T: number[][] = strides.map(() => [])
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue
    const l = S.length - 1
    if (l >= 0 && strides.every((st, k) => T[k]![l] === st[d]! * shape[d]!)) {
      S[l]! *= shape[d]!
      for (let k = 0; k < strides.length; k++) T[k]![l] = strides[k]![d]!
    } else {
      S.push(shape[d]!)
      for (let k = 0; k < strides.length; k++) T[k]!.push(strides[k]![d]!)
    }
  }
  return [S, T]
}

/** collapseAll for the two operands of a binary op. */
export function collapse(
  shape: readonly number[],
  as: readonly number[],
  bs: readonly number[],
): [number[], number[], number[]] {
  const [S, [A, B]] = collapseAll(shape, [as, bs])
  return [S, A!, B!]
}

/** A broadcasting binary kernel: the collapsed innermost dim is one `row` call, the outer dims are walked. */
const binary =
  (row: Row): BinaryKernel =>
  (a, aStrides, b, bStrides, out, outShape) => {
    const n = out.length
    // An operand with as many elements as the output walks it densely; one with one element is a scalar.
    if ((a.length === n || a.length === 1) && (b.length === n || b.length === 1))
      return row(a, 0, a.length === n ? 1 : 0, b, 0, b.length === n ? 1 : 0, out, 0, n)
    const [S, A, B] = collapse(outShape, aStrides, bStrides)
    const r = S.length - 1
    const inner = S[r]!
    if (r === 0) return row(a, 0, A[0]!, b, 0, B[0]!, out, 0, inner)
    forEachIndex(S.slice(0, r), [A.slice(0, r), B.slice(0, r)], (i, [ia, ib]) =>
      row(a, ia!, A[r]!, b, ib!, B[r]!, out, i * inner, inner),
    )
  }

/**
 * One reduction's two inner loops, written out per reduction so each is a monomorphic loop with its
 * combining step inlined (a shared loop calling `f` per element runs several times slower): `run` folds a
 * run of inputs into one value, `rows` folds a row of inputs into a row of outputs.
 */
interface Fold {
  init: number
  run(x: TypedArray, i: number, m: number, acc: number): number
  rows(out: TypedArray, o: number, x: TypedArray, i: number, m: number): void
}

const sumFold: Fold = {
  init: 0,
  // Four running sums (j mod 4), added at the end: one sum would wait on each add before the next (a conv
  // bias gradient, summing 128 x 28 x 28 values per channel, took 1 ns a value).
  run(x, i, m, acc) {
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    const end = i + m
    let j = i
    for (; j + 4 <= end; j += 4) {
      s0 += x[j]!
      s1 += x[j + 1]!
      s2 += x[j + 2]!
      s3 += x[j + 3]!
    }
    for (; j < end; j++) s0 += x[j]!
    return acc + (s0 + s1 + (s2 + s3))
  },
  rows(out, o, x, i, m) {
    for (let j = 0; j < m; j++) out[o + j]! += x[i + j]!
  },
}
const prodFold: Fold = {
  init: 1,
  run(x, i, m, acc) {
    for (let j = i; j < i + m; j++) acc *= x[j]!
    return acc
  },
  rows(out, o, x, i, m) {
    for (let j = 0; j < m; j++) out[o + j]! *= x[i + j]!
  },
}
// NOTE: NaN propagates through max/min, as in PyTorch and ONNX Runtime.
const maxFold: Fold = {
  init: -Infinity,
  run(x, i, m, acc) {
    for (let j = i; j < i + m; j++) if (x[j]! > acc || Number.isNaN(x[j]!)) acc = x[j]!
    return acc
  },
  rows(out, o, x, i, m) {
    for (let j = 0; j < m; j++) if (x[i + j]! > out[o + j]! || Number.isNaN(x[i + j]!)) out[o + j] = x[i + j]!
  },
}
const minFold: Fold = {
  init: Infinity,
  run(x, i, m, acc) {
    for (let j = i; j < i + m; j++) if (x[j]! < acc || Number.isNaN(x[j]!)) acc = x[j]!
    return acc
  },
  rows(out, o, x, i, m) {
    for (let j = 0; j < m; j++) if (x[i + j]! < out[o + j]! || Number.isNaN(x[i + j]!)) out[o + j] = x[i + j]!
  },
}

/**
 * A reduction over `axes` of a dense tensor. Adjacent dims of the same kind (both reduced or both kept)
 * merge and size-1 dims drop; the input is then walked once in row-major order: the innermost merged dim
 * is one inner loop (a running value when it is reduced, a row of outputs when it is kept) and the dims
 * outside it an odometer over output offsets. Every output folds its inputs in row-major order; a run
 * along a reduced innermost dim is accumulated (a sum in four interleaved partial sums) before it is rounded to
 * the output's type.
 */
const reduce =
  (fold: Fold): ReduceKernel =>
  (x, shape, axes, out) => {
    out.fill(fold.init)
    // Merged dims: sizes, and the output stride of each (0 for a reduced dim).
    const sizes: number[] = []
    const reduced: boolean[] = []
    shape.forEach((d, i) => {
      if (d === 1) return
      const r = axes.includes(i)
      const l = sizes.length - 1
      if (l >= 0 && reduced[l] === r) sizes[l]! *= d
      else {
        sizes.push(d)
        reduced.push(r)
      }
    })
    const rank = sizes.length
    if (rank === 0) {
      if (x.length) out[0] = fold.run(x, 0, 1, out[0]!)
      return
    }
    const outStrides = new Array<number>(rank).fill(0)
    for (let d = rank - 1, s = 1; d >= 0; d--)
      if (!reduced[d]) {
        outStrides[d] = s
        s *= sizes[d]!
      }
    const m = sizes[rank - 1]!
    const innerReduced = reduced[rank - 1]!
    const idx = new Array<number>(rank - 1).fill(0)
    let o = 0
    for (let i = 0; i < x.length; i += m) {
      if (innerReduced) out[o] = fold.run(x, i, m, out[o]!)
      else fold.rows(out, o, x, i, m)
      // Next row: advance the odometer over the outer merged dims.
      for (let d = rank - 2; d >= 0; d--) {
        o += outStrides[d]!
        if (++idx[d]! < sizes[d]!) break
        o -= outStrides[d]! * sizes[d]!
        idx[d] = 0
      }
    }
  }

function argReduce(better: (a: number, b: number) => boolean) {
  return (x: TypedArray, shape: number[], axis: number, out: Int32Array, selectLast: boolean) => {
    const outer = sizeOfRange(shape, 0, axis)
    const n = shape[axis]!
    const inner = sizeOfRange(shape, axis + 1)
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        const base = o * n * inner + j
        let best = 0
        let bv = x[base]!
        for (let k = 1; k < n; k++) {
          const v = x[base + k * inner]!
          if (better(v, bv) || (selectLast && v === bv) || (Number.isNaN(v) && !Number.isNaN(bv))) {
            best = k
            bv = v
          }
        }
        out[o * inner + j] = best
      }
  }
}

/** Split shape around `axis` into (outer, n, inner) for axis-wise kernels. */
const around = (shape: number[], axis: number) =>
  [sizeOfRange(shape, 0, axis), shape[axis]!, sizeOfRange(shape, axis + 1)] as const

/**
 * (Log-)softmax of every line of x seen as (outer, n, inner): the max, then the sum of e^(x - max) in float64,
 * then each output. NaN anywhere in a line makes the line NaN; a line of -inf is NaN (-inf - -inf), as the
 * formula gives.
 */
function softmaxLines(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, log: boolean): void {
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const at = o * n * inner + i
      let m = -Infinity
      for (let j = 0; j < n; j++) {
        const v = x[at + j * inner]!
        if (v > m || Number.isNaN(v)) m = v
      }
      let sum = 0
      for (let j = 0; j < n; j++) sum += Math.exp(x[at + j * inner]! - m)
      if (log) {
        const lse = Math.log(sum)
        for (let j = 0; j < n; j++) out[at + j * inner] = x[at + j * inner]! - m - lse
      } else for (let j = 0; j < n; j++) out[at + j * inner] = Math.exp(x[at + j * inner]! - m) / sum
    }
}

/**
 * Move elements between the strided view (shape, strides, offset) of `view` and the contiguous `flat`: out of the
 * view (a view's `.data`, StridedCopy) or, `into`, into it (the adjoint, StridedScatter; padding's interior). Dims
 * that are contiguous in the view merge first (a slice of channels of NCHW is then one run, a slice of rows one
 * run a channel); the outer dims are walked and each innermost run moved with its own stride, a long unit-stride
 * run as one block copy (`set`, a memcpy for equal element types; a channel half of a 256x52x52 map 1.5 -> 0.1
 * ms), a short one element by element (a `subarray` view costs more than a few elements).
 */
function moveRuns(
  view: TypedArray,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
  flat: TypedArray,
  into: boolean,
): void {
  const [S, [T]] = collapseAll(shape, [strides])
  if (S.length === 0) {
    // a scalar, or every dim of size 1
    if (into) view[offset] = flat[0]!
    else flat[0] = view[offset]!
    return
  }
  const inner = S[S.length - 1]!
  const step = T![T!.length - 1]!
  const blocks = step === 1 && inner >= 64
  forEachIndex(S.slice(0, -1), [T!.slice(0, -1)], (row, [o]) => {
    const v = offset + o!
    const f = row * inner
    if (blocks) {
      if (into) view.set(flat.subarray(f, f + inner), v)
      else flat.set(view.subarray(v, v + inner), f)
    } else if (into) for (let j = 0; j < inner; j++) view[v + j * step] = flat[f + j]!
    else for (let j = 0; j < inner; j++) flat[f + j] = view[v + j * step]!
  })
}

export const jsKernels: KernelTable = {
  ...(Object.fromEntries(unaryOpNames.map((k) => [k, unaryLoops[k] ?? unary(unaryScalar[k])])) as {
    [K in (typeof unaryOpNames)[number]]: UnaryKernel
  }),
  ...(Object.fromEntries(binaryOpNames.map((k) => [k, binary(rows[k] ?? genericRow(binaryScalar[k]))])) as {
    [K in (typeof binaryOpNames)[number]]: BinaryKernel
  }),
  ReduceSum: reduce(sumFold),
  ReduceProd: reduce(prodFold),
  ReduceMax: reduce(maxFold),
  ReduceMin: reduce(minFold),
  ArgMax: argReduce((a, b) => a > b),
  ArgMin: argReduce((a, b) => a < b),
  MatMul: matmul,
  MatMulTransA: matmulTransA,
  MatMulTransB: matmulTransB,
  ...convKernels,

  RecurrentScan: recurrentScan,

  Softmax: (x, outer, n, inner, out) => softmaxLines(x, outer, n, inner, out, false),
  LogSoftmax: (x, outer, n, inner, out) => softmaxLines(x, outer, n, inner, out, true),

  LayerNormalization(x, rows, n, w, b, eps, y) {
    for (let r = 0; r < rows; r++) {
      const at = r * n
      let mean = 0
      for (let j = 0; j < n; j++) mean += x[at + j]!
      mean /= n
      let v = 0
      for (let j = 0; j < n; j++) v += (x[at + j]! - mean) ** 2
      const rstd = 1 / Math.sqrt(v / n + eps)
      for (let j = 0; j < n; j++) y[at + j] = (x[at + j]! - mean) * rstd * (w ? w[j]! : 1) + (b ? b[j]! : 0)
    }
  },

  ChannelAffine(x, scale, shift, outer, channels, inner, y) {
    for (let o = 0; o < outer; o++)
      for (let c = 0; c < channels; c++) {
        const s = scale[c]!
        const t = shift[c]!
        const at = (o * channels + c) * inner
        // The product is stored (rounded to y's type) before the shift is added: Mul then Add, in one pass.
        for (let i = at; i < at + inner; i++) {
          y[i] = x[i]! * s
          y[i] += t
        }
      }
  },

  GeluGrad(dy, x, dx) {
    // d/dx x Phi(x) = Phi(x) + x phi(x), Phi the standard normal CDF and phi its density.
    for (let i = 0; i < dx.length; i++) {
      const v = x[i]!
      dx[i] = dy[i]! * (0.5 * (1 + erf(v * Math.SQRT1_2)) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI)
    }
  },

  ReluGrad(dy, x, dx) {
    // NOTE: dy * 0 (not 0) where x <= 0, so an infinite or NaN dy still gives NaN there, as the unfused
    // dy * (x > 0) did.
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i]! * (x[i]! > 0 ? 1 : 0)
  },

  StridedCopy(src, offset, shape, strides, out) {
    moveRuns(src, offset, shape, strides, out, false)
  },

  StridedScatter(src, dst, offset, shape, strides) {
    moveRuns(dst, offset, shape, strides, src, true)
  },

  Where(cond, cStrides, a, aStrides, b, bStrides, out, outShape) {
    // As the binary ops: the collapsed innermost dim is one loop (a mask over attention scores is rows of keys).
    const [S, [C, A, B]] = collapseAll(outShape, [cStrides, aStrides, bStrides])
    const r = S.length - 1
    if (r < 0) {
      out[0] = cond[0] ? a[0]! : b[0]!
      return
    }
    const [n, cs, as, bs] = [S[r]!, C![r]!, A![r]!, B![r]!]
    const row = (o: number, ic: number, ia: number, ib: number) => {
      for (let j = 0; j < n; j++) out[o + j] = cond[ic + j * cs] ? a[ia + j * as]! : b[ib + j * bs]!
    }
    if (r === 0) return row(0, 0, 0, 0)
    forEachIndex(S.slice(0, r), [C!.slice(0, r), A!.slice(0, r), B!.slice(0, r)], (i, [ic, ia, ib]) =>
      row(i * n, ic!, ia!, ib!),
    )
  },

  Gather(x, shape, axis, indices, out) {
    const [outer, n, inner] = around(shape, axis)
    const m = indices.length
    // Long rows of the same array type (a minibatch of images from a dataset) as block copies.
    const blocks = inner >= 64 && x.constructor === out.constructor
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < m; i++) {
        const src = (o * n + indices[i]!) * inner
        const dst = (o * m + i) * inner
        if (blocks) (out as Float32Array).set((x as Float32Array).subarray(src, src + inner), dst)
        else for (let j = 0; j < inner; j++) out[dst + j] = x[src + j]!
      }
  },

  ScatterAdd(updates, shape, axis, indices, out) {
    const [outer, n, inner] = around(shape, axis)
    const m = indices.length
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < m; i++) {
        const dst = (o * n + indices[i]!) * inner
        const src = (o * m + i) * inner
        for (let j = 0; j < inner; j++) out[dst + j]! += updates[src + j]!
      }
  },

  GatherElements(x, shape, axis, indices, idxShape, out) {
    const xs = stridesOf(shape)
    const is = stridesOf(idxShape)
    for (let i = 0; i < indices.length; i++) {
      let off = 0
      for (let d = 0; d < idxShape.length; d++) {
        const c = d === axis ? indices[i]! : Math.floor(i / is[d]!) % idxShape[d]!
        off += c * xs[d]!
      }
      out[i] = x[off]!
    }
  },

  ScatterElementsAdd(updates, shape, axis, indices, idxShape, out) {
    const xs = stridesOf(shape)
    const is = stridesOf(idxShape)
    for (let i = 0; i < indices.length; i++) {
      let off = 0
      for (let d = 0; d < idxShape.length; d++) {
        const c = d === axis ? indices[i]! : Math.floor(i / is[d]!) % idxShape[d]!
        off += c * xs[d]!
      }
      out[off]! += updates[i]!
    }
  },

  Pad(x, shape, pads, mode, value, out) {
    const rank = shape.length
    const outShape = shape.map((d, i) => d + pads[i]! + pads[i + rank]!)
    if (mode === 'constant' && pads.every((p) => p >= 0)) {
      // The value everywhere, then x into the interior: a view of the output at the leading pads.
      out.fill(value)
      const os = stridesOf(outShape)
      const interior = shape.reduce((o, _, d) => o + pads[d]! * os[d]!, 0)
      moveRuns(out, interior, shape, os, x, true)
      return
    }
    const xs = stridesOf(shape)
    const src = new Array<number>(rank)
    forEachIndex(outShape, [], (i) => {
      // Recover the output coordinate, map it back into the input by the padding mode.
      let rem = i
      let off = 0
      let inside = true
      for (let d = rank - 1; d >= 0; d--) {
        const c = rem % outShape[d]!
        rem = Math.floor(rem / outShape[d]!)
        let s = c - pads[d]!
        const n = shape[d]!
        if (s < 0 || s >= n) {
          if (mode === 'constant') inside = false
          else if (mode === 'edge') s = s < 0 ? 0 : n - 1
          else if (mode === 'wrap') s = ((s % n) + n) % n
          else {
            // reflect, without repeating the edge: -1 -> 1, n -> n-2
            const period = 2 * (n - 1)
            s = period === 0 ? 0 : ((s % period) + period) % period
            if (s >= n) s = period - s
          }
        }
        src[d] = s
        off += s * xs[d]!
      }
      out[i] = inside ? x[off]! : value
    })
  },

  Concat(parts, shapes, axis, out) {
    // Each part fills its columns of every output row (one index of the axes before `axis`): a strided view of
    // the output written with moveRuns, so a channel concatenation is one block copy per part.
    const outer = sizeOf(shapes[0]!.slice(0, axis))
    const chunks = shapes.map((s) => sizeOf(s.slice(axis)))
    const row = chunks.reduce((n, c) => n + c, 0)
    let o = 0
    parts.forEach((part, p) => {
      moveRuns(out, o, [outer, chunks[p]!], [row, 1], part, true)
      o += chunks[p]!
    })
  },

  CumSum(x, shape, axis, exclusive, reverse, out) {
    const [outer, n, inner] = around(shape, axis)
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        let acc = 0
        for (let t = 0; t < n; t++) {
          const k = reverse ? n - 1 - t : t
          const idx = (o * n + k) * inner + j
          if (exclusive) {
            out[idx] = acc
            acc += x[idx]!
          } else {
            acc += x[idx]!
            out[idx] = acc
          }
        }
      }
  },
}

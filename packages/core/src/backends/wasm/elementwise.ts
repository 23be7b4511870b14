/**
 * The `wasm` backend's memory-bound kernels: the arithmetic ops, Max and Min with broadcasting, ReLU (and its gradient) and
 * max pooling,
 * in WebAssembly SIMD on the calling thread (max pooling without indices, large enough, on the pool's threads).
 * They are the element-wise work of a CNN's forward pass (batch norm in eval mode is a per-channel Mul and Add,
 * then ReLU, residual Adds, max pools); in JS, ReLU and max pooling branch on the sign of random data and
 * mispredict half the time.
 *
 * Each call copies its operands into the runtime's memory and the result out: a copy runs at 20-35 GB/s while
 * the operands fit the cache, far below the cost of the JS loops they replace. Small calls, float64 and
 * shapes whose broadcast rows are too short to pay for the per-row bookkeeping stay on the js kernels.
 */
import type { TypedArray } from '../../dtype.js'
import type { BinaryKernel, FloatArray, KernelTable, Pool2dGeometry, UnaryKernel } from '../../kernel-table.js'
import { poolTaps } from '../js/conv.js'
import { collapse, forEachIndex, jsKernels } from '../js/kernels.js'
import { SELU_ALPHA, SELU_GAMMA } from '../js/unary.js'
import { PARAMS_INTS, type WasmContext, threadsFor, writeParams } from './kernels.js'
import { Layout, type WasmRuntime } from './runtime.js'

/** Below this many output elements an element-wise call stays in JS (the call and copies cost ~1 us). */
export const WASM_MIN_ELEMENTS = 4096
/** Broadcast rows shorter than this stay in JS: the per-row offsets would cost more than the row. */
const MIN_ROW = 16

const OPS = { Add: 0, Sub: 1, Mul: 2, Div: 3, Max: 4, Min: 5 } as const

/**
 * The transcendental unary ops in WebAssembly (wasm/kernels.ts `unary`: polynomial exp, log, tanh and erfc, four
 * lanes at a time, to a few float32 ulps of the js kernels' float64 results). Their JS loops cost 5-20 ns an
 * element (Math.exp and friends), so the call and its two copies pay for themselves from a few hundred elements.
 * Mish is one pass (x n / (n + 2), n = e^x (e^x + 2)) where softplus, tanh and a product were three: 59 -> 19 ms
 * over YOLOv4's 64 x 208 x 208 activations. LeakyRelu (`leakyRelu`, below) is exact: its js loop branched on the
 * sign of the data (11 ms for 524,288 elements in the RPN bench case, 0.8 ms in wasm with the copies).
 */
const UNARY = { Exp: 0, Sigmoid: 1, Tanh: 2, Softplus: 3, Elu: 4, Selu: 4, Gelu: 5, Mish: 7 } as const
const GELU_TANH = 6
const UNARY_MIN_ELEMENTS = 256

const f32 = (...xs: (TypedArray | null)[]): boolean => xs.every((x) => x === null || x instanceof Float32Array)

/**
 * A broadcasting binary op as rows: the collapsed shape's innermost dim is the row (each operand walks it
 * or repeats one value), every index of the outer dims is a row with its own start in each operand.
 */
function binary(rt: WasmRuntime, op: keyof typeof OPS): BinaryKernel {
  const ref = jsKernels[op]
  return (a, aStrides, b, bStrides, out, outShape) => {
    const n = out.length
    if (n < WASM_MIN_ELEMENTS || !f32(a, b, out)) return ref(a, aStrides, b, bStrides, out, outShape)
    const [S, A, B] = collapse(outShape, aStrides, bStrides)
    const r = S.length - 1
    const inner = S[r] ?? 1
    const aCol = r < 0 ? 0 : A[r]!
    const bCol = r < 0 ? 0 : B[r]!
    if (inner < MIN_ROW || aCol > 1 || bCol > 1) return ref(a, aStrides, b, bStrides, out, outShape)
    const rows = n / inner
    const L = new Layout()
    const pa = L.take(a.length)
    const pb = L.take(b.length)
    const po = L.take(n)
    const pao = L.take(rows)
    const pbo = L.take(rows)
    const base = rt.reserve(L.bytes)
    rt.f32.set(a as Float32Array, (base + pa) >> 2)
    rt.f32.set(b as Float32Array, (base + pb) >> 2)
    // Each row's start in a and b: every index of the collapsed shape's outer dims.
    const i32 = rt.i32
    const ao = (base + pao) >> 2
    const bo = (base + pbo) >> 2
    forEachIndex(S.slice(0, r), [A.slice(0, r), B.slice(0, r)], (row, [ia, ib]) => {
      i32[ao + row] = ia!
      i32[bo + row] = ib!
    })
    rt.exports.binaryRows(OPS[op], base + pa, base + pao, aCol, base + pb, base + pbo, bCol, base + po, rows, inner)
    out.set(rt.f32.subarray((base + po) >> 2, ((base + po) >> 2) + n))
  }
}

function unary(rt: WasmRuntime, op: keyof typeof UNARY): UnaryKernel {
  const ref = jsKernels[op]
  return (x, out, attrs) => {
    const n = out.length
    if (n < UNARY_MIN_ELEMENTS || !f32(x, out)) return ref(x, out, attrs)
    const code = op === 'Gelu' && attrs.approximate === 'tanh' ? GELU_TANH : UNARY[op]
    const alpha = attrs.alpha ?? (op === 'Selu' ? SELU_ALPHA : 1)
    const gamma = op === 'Selu' ? (attrs.gamma ?? SELU_GAMMA) : 1
    mapInWasm(rt, x, out, (px, py) => rt.exports.unary(code, px, py, n, alpha, gamma))
  }
}

/**
 * A one-input element-wise kernel in wasm: x copied into the arena, `run(px, py)` on the byte addresses of x and
 * of the output (n = out.length floats each, padded to 16 bytes), the output copied out.
 */
function mapInWasm(rt: WasmRuntime, x: TypedArray, out: TypedArray, run: (px: number, py: number) => void): void {
  const n = out.length
  const L = new Layout()
  const px = L.take(n)
  const py = L.take(n)
  const base = rt.reserve(L.bytes)
  rt.f32.set(x as Float32Array, (base + px) >> 2)
  run(base + px, base + py)
  out.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + n))
}

/** (Log-)softmax over contiguous rows (inner = 1: the last axis); other layouts stay on the js kernel. */
function softmax(rt: WasmRuntime, log: boolean): KernelTable['Softmax'] {
  const ref = log ? jsKernels.LogSoftmax : jsKernels.Softmax
  return (x, outer, n, inner, out) => {
    if (inner !== 1 || n < 4 || out.length < UNARY_MIN_ELEMENTS || !f32(x, out)) return ref(x, outer, n, inner, out)
    const L = new Layout()
    const px = L.take(out.length)
    const py = L.take(out.length)
    const base = rt.reserve(L.bytes)
    rt.f32.set(x as Float32Array, (base + px) >> 2)
    rt.exports.softmaxRows(base + px, base + py, outer, n, log ? 1 : 0)
    out.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + out.length))
  }
}

/** Layer norm over contiguous rows; float64 and small calls stay on the js kernel. */
function layerNorm(rt: WasmRuntime): KernelTable['LayerNormalization'] {
  const ref = jsKernels.LayerNormalization
  return (x, rows, n, w, b, eps, y) => {
    if (y.length < UNARY_MIN_ELEMENTS || !f32(x, w, b, y)) return ref(x, rows, n, w, b, eps, y)
    const L = new Layout()
    const px = L.take(y.length)
    const py = L.take(y.length)
    const pw = w ? L.take(n) : -1
    const pb = b ? L.take(n) : -1
    const base = rt.reserve(L.bytes)
    rt.f32.set(x as Float32Array, (base + px) >> 2)
    if (w) rt.f32.set(w as Float32Array, (base + pw) >> 2)
    if (b) rt.f32.set(b as Float32Array, (base + pb) >> 2)
    rt.exports.layerNormRows(base + px, base + py, rows, n, w ? base + pw : 0, b ? base + pb : 0, eps)
    y.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + y.length))
  }
}

/** Batch norm's per-channel affine map over rows of `inner` (an image plane); rows under 4 stay on the js kernel. */
function channelAffine(rt: WasmRuntime): KernelTable['ChannelAffine'] {
  const ref = jsKernels.ChannelAffine
  return (x, scale, shift, outer, channels, inner, y) => {
    if (y.length < WASM_MIN_ELEMENTS || inner < 4 || !f32(x, scale, shift, y))
      return ref(x, scale, shift, outer, channels, inner, y)
    const L = new Layout()
    const [px, py, ps, pt] = [L.take(y.length), L.take(y.length), L.take(channels), L.take(channels)]
    const base = rt.reserve(L.bytes)
    rt.f32.set(x as Float32Array, (base + px) >> 2)
    rt.f32.set(scale as Float32Array, (base + ps) >> 2)
    rt.f32.set(shift as Float32Array, (base + pt) >> 2)
    rt.exports.channelAffine(base + px, base + py, base + ps, base + pt, outer * channels, channels, inner)
    y.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + y.length))
  }
}

/** An activation's backward dx = dy * f'(x) over dense operands: calls from `min` elements run in wasm. */
function activationGrad(rt: WasmRuntime, op: 'GeluGrad' | 'ReluGrad', min: number): KernelTable['ReluGrad'] {
  const ref = jsKernels[op]
  return (dy, x, dx) => {
    const n = dx.length
    if (n < min || !f32(dy, x, dx)) return ref(dy, x, dx)
    const L = new Layout()
    const [pdy, px, pdx] = [L.take(n), L.take(n), L.take(n)]
    const base = rt.reserve(L.bytes)
    rt.f32.set(dy as Float32Array, (base + pdy) >> 2)
    rt.f32.set(x as Float32Array, (base + px) >> 2)
    rt.exports[op === 'GeluGrad' ? 'geluGrad' : 'reluGrad'](base + pdy, base + px, base + pdx, n)
    dx.set(rt.f32.subarray((base + pdx) >> 2, ((base + pdx) >> 2) + n))
  }
}

export function wasmElementwiseKernels(ctx: WasmContext): Partial<KernelTable> {
  const { rt } = ctx
  const js = jsKernels
  return {
    ...Object.fromEntries(Object.keys(UNARY).map((op) => [op, unary(rt, op as keyof typeof UNARY)])),
    Softmax: softmax(rt, false),
    LogSoftmax: softmax(rt, true),
    LayerNormalization: layerNorm(rt),
    ChannelAffine: channelAffine(rt),
    Add: binary(rt, 'Add'),
    Sub: binary(rt, 'Sub'),
    Mul: binary(rt, 'Mul'),
    Div: binary(rt, 'Div'),
    Max: binary(rt, 'Max'),
    Min: binary(rt, 'Min'),
    LeakyRelu: (x, out, attrs) => {
      const n = out.length
      if (n < UNARY_MIN_ELEMENTS || !f32(x, out)) return js.LeakyRelu(x, out, attrs)
      mapInWasm(rt, x, out, (px, py) => rt.exports.leakyRelu(px, py, n, attrs.alpha ?? 0.01))
    },
    Relu: (x, out, attrs) => {
      const n = out.length
      if (n < WASM_MIN_ELEMENTS || !f32(x, out)) return js.Relu(x, out, attrs)
      mapInWasm(rt, x, out, (px, py) => rt.exports.relu(px, py, n))
    },
    GeluGrad: activationGrad(rt, 'GeluGrad', UNARY_MIN_ELEMENTS),
    ReluGrad: activationGrad(rt, 'ReluGrad', WASM_MIN_ELEMENTS),
    MaxPool: (x: FloatArray, y: FloatArray, indices: Int32Array | null, g: Pool2dGeometry) => {
      if (y.length < WASM_MIN_ELEMENTS / 4 || !f32(x, y)) return js.MaxPool(x, y, indices, g)
      if (!indices) return maxPoolPadded(ctx, x as Float32Array, y as Float32Array, g)
      const { iLo, iHi, jLo, jHi } = poolTaps(g)
      const L = new Layout()
      // Room after x for the spare lanes of a row's last outputs (wasm/kernels.ts maxPool2d).
      const px = L.take(x.length + 3 * g.strideW + 4)
      const py = L.take(y.length)
      const pi = indices ? L.take(indices.length) : -1
      const taps = [L.take(g.outH), L.take(g.outH), L.take(g.outW), L.take(g.outW)]
      const base = rt.reserve(L.bytes)
      rt.f32.set(x as Float32Array, (base + px) >> 2)
      ;[iLo, iHi, jLo, jHi].forEach((t, k) => {
        rt.i32.set(t, (base + taps[k]!) >> 2)
      })
      const [il, ih, jl, jh] = taps.map((t) => base + t) as [number, number, number, number]
      rt.exports.maxPool2d(
        base + px,
        base + py,
        indices ? base + pi : 0,
        g.planes,
        g.inH,
        g.inW,
        g.outH,
        g.outW,
        g.kW,
        g.strideH,
        g.strideW,
        g.padTop,
        g.padLeft,
        g.dilationH,
        g.dilationW,
        il,
        ih,
        jl,
        jh,
      )
      y.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + y.length))
      if (indices) indices.set(rt.i32.subarray((base + pi) >> 2, ((base + pi) >> 2) + indices.length))
    },
  }
}

/** The padded max pooling's parameter block (wasm/kernels.ts MP_*): the geometry, written from the Pool2dGeometry, */
const POOL_GEOMETRY = {
  planes: 0,
  inH: 1,
  inW: 2,
  outH: 3,
  outW: 4,
  kH: 5,
  kW: 6,
  strideH: 7,
  strideW: 8,
  padTop: 9,
  padLeft: 10,
  dilationH: 11,
  dilationW: 12,
} as const
/** then x, y, the threads' padded planes and their size. */
const MAX_POOL = { x: 13, y: 14, pad: 15, PH: 16, PW: 17 } as const

/**
 * From this many window taps (outputs x kH x kW) a max pooling without indices shares its planes between the
 * threads (GoogLeNet's 3x3 poolings over 14 x 14 x 512 are ~900,000).
 */
export const POOL_THREADS_MIN_TAPS = 1 << 18

/**
 * Max pooling without indices (inference): wasm/kernels.ts maxPool2dPadded, which copies each plane into a
 * plane padded with -inf (PH x PW, one per thread) so that the edges take the vector path too.
 */
function maxPoolPadded(ctx: WasmContext, x: Float32Array, y: Float32Array, g: Pool2dGeometry): void {
  const { rt } = ctx
  const vectors = Math.ceil(g.outW / 4) * 4
  // Columns up to the last vector's last lane's last tap, plus one (a stride-2 gather reads eight floats).
  const PW = Math.max(g.padLeft + g.inW, (vectors - 1) * g.strideW + (g.kW - 1) * g.dilationW + 2)
  const PH = Math.max(g.padTop + g.inH, (g.outH - 1) * g.strideH + (g.kH - 1) * g.dilationH + 1)
  const { n: threads, run } = threadsFor(ctx, g.planes > 1 ? y.length * g.kH * g.kW : 0, POOL_THREADS_MIN_TAPS)
  const L = new Layout()
  const px = L.take(x.length)
  const py = L.take(y.length)
  const pad = L.take(threads * PH * PW + 4)
  const params = L.take(PARAMS_INTS)
  const base = rt.reserve(L.bytes)
  rt.f32.set(x, (base + px) >> 2)
  writeParams(rt.i32, base + params, POOL_GEOMETRY, g)
  writeParams(rt.i32, base + params, MAX_POOL, { x: base + px, y: base + py, pad: base + pad, PH, PW })
  run('maxPool2dPadded', base + params)
  y.set(rt.f32.subarray((base + py) >> 2, ((base + py) >> 2) + y.length))
}

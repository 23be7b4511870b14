/**
 * The `wasm` backend's kernel table: GEMM and the three convolution kernels in WebAssembly SIMD, threaded.
 * Each kernel copies its float32 operands into the runtime's memory, fills a parameter block, runs on the
 * thread pool and copies the result out. Float64 (gradient checks) and calls too small to pay for the copies
 * and the call stay on the js kernels, which are the reference these are tested against.
 */
import type { Conv2dGeometry, FloatArray, KernelTable } from '../../kernel-table.js'
import { jsKernels } from '../js/kernels.js'
import type { ThreadPool } from './pool.js'
import { Layout, type WasmRuntime } from './runtime.js'

/** Below this many multiply-adds a product stays in JS (measured crossover, docs/performance.md). */
export const WASM_MIN_MACS = 4096
/** Below this many multiply-adds a call runs on one thread: waking the workers costs more than it saves. */
export const THREADS_MIN_MACS = 1 << 20

/** Target size of one thread's tile of unrolled patches (floats, 4 MB): big enough that the weights are packed once for most layers, small enough to stay in the last-level cache. */
const COLS_TILE = 1 << 18

// Parameter block slots: the int32 offsets the AssemblyScript kernels read their arguments from
// (packages/core/wasm/kernels.ts reads the same slots).
const GEMM = {
  batch: 0,
  m: 1,
  n: 2,
  k: 3,
  a: 4,
  aBS: 5,
  rsA: 6,
  csA: 7,
  b: 8,
  bBS: 9,
  rsB: 10,
  csB: 11,
  c: 12,
  cBS: 13,
  ldc: 14,
  beta: 15,
  scratch: 16,
  scratchPer: 17,
  bias: 18,
  biasMode: 19,
} as const
// The conv block in two parts, each written from an object of its own fields: a literal merging the geometry's
// 16 fields with the other 12 (`{ ...g, x, ... }`) costs V8 ~30-50 us a call (past a dozen added properties the
// object is turned into a dictionary), more than a small convolution takes.
const CONV_GEOMETRY = {
  batch: 0,
  inC: 1,
  inH: 2,
  inW: 3,
  outC: 4,
  outH: 5,
  outW: 6,
  kH: 7,
  kW: 8,
  strideH: 9,
  strideW: 10,
  padTop: 11,
  padLeft: 12,
  dilationH: 13,
  dilationW: 14,
  groups: 15,
} as const satisfies Partial<Record<keyof Conv2dGeometry, number>>
const CONV = {
  x: 16,
  w: 17,
  bias: 18,
  y: 19,
  scratch: 20,
  scratchPer: 21,
  rows: 22,
  split: 23,
  chunks: 24,
  part: 25,
  next: 26,
  wPacked: 27,
} as const
export const PARAMS_INTS = 32
/** Rows of a packed panel of A (wasm/kernels.ts MR): a packed weight's rows are padded to a multiple of it. */
const MR = 4

/** Write every slot of a parameter block at byte address `at`: the type makes a missing argument a compile error. */
export function writeParams<S extends Record<string, number>>(
  i32: Int32Array,
  at: number,
  slots: S,
  values: { [K in keyof S]: number },
): void {
  for (const k in slots) i32[(at >> 2) + slots[k]] = values[k]
}

/** Bias modes of the GEMM parameter block (wasm/kernels.ts): none, one per row of C, one per column. */
const BIAS_NONE = 0
const BIAS_COL = 2

const isF32 = (...xs: (FloatArray | null)[]): boolean => xs.every((x) => x === null || x instanceof Float32Array)

export interface WasmContext {
  rt: WasmRuntime
  /** Calls below this many multiply-adds run on the js kernels (WASM_MIN_MACS). */
  minMacs: number
  /** The pool for calls big enough to share (null: one thread). */
  pool: () => ThreadPool | null
}

/** Threads a call of `work` (multiply-adds, or `min`'s unit) runs on, and the pool to run it. */
export function threadsFor(
  ctx: WasmContext,
  work: number,
  min = THREADS_MIN_MACS,
): { n: number; run: (name: Parameters<ThreadPool['run']>[0], p: number) => void } {
  const pool = work >= min ? ctx.pool() : null
  if (pool && pool.size > 1) return { n: pool.size, run: (name, p) => pool.run(name, p) }
  return { n: 1, run: (name, p) => ctx.rt.exports[name](p, 0, 1) }
}

/** Operands of one GEMM call already in wasm memory (byte addresses; strides in floats): see `runGemm`. */
export type GemmOperands = Record<
  'batch' | 'm' | 'n' | 'k' | 'a' | 'aBS' | 'rsA' | 'csA' | 'b' | 'bBS' | 'rsB' | 'csB' | 'c' | 'bias' | 'scratch',
  number
>

/**
 * Fill the GEMM parameter block at byte address `p` and run it with `run` (threadsFor): C[b] (m x n, row-major,
 * C[b] at c + b * m * n floats) = A[b] @ B[b] (+ bias per column when `bias` is not 0). `scratch` holds
 * rt.gemmScratch bytes per thread.
 */
export function runGemm(ctx: WasmContext, p: number, o: GemmOperands, run: ReturnType<typeof threadsFor>['run']): void {
  writeParams(ctx.rt.i32, p, GEMM, {
    ...o,
    cBS: o.m * o.n,
    ldc: o.n,
    beta: 0,
    scratchPer: ctx.rt.gemmScratch,
    biasMode: o.bias ? BIAS_COL : BIAS_NONE,
  })
  run('gemm', p)
}

/**
 * out[b] (m x n) = A[b] @ B[b], with A(i, p) = a[aOff(b) + i * rsA + p * csA] and B(p, j) = b[bOff(b) + p * rsB + j * csB]:
 * the one GEMM entry that MatMul and MatMulTransB call.
 */
function gemm(
  ctx: WasmContext,
  a: Float32Array,
  aBS: number,
  rsA: number,
  csA: number,
  aLen: number,
  b: Float32Array,
  bBS: number,
  rsB: number,
  csB: number,
  bLen: number,
  out: Float32Array,
  m: number,
  k: number,
  n: number,
  batch: number,
  bias: Float32Array | null = null,
): void {
  const { rt } = ctx
  const { n: threads, run } = threadsFor(ctx, m * k * n * batch)
  // A pinned operand (see WasmRuntime.pin) is read where it already lies.
  const pinA = rt.pinned.get(a)
  const pinB = rt.pinned.get(b)
  const L = new Layout()
  const params = L.take(PARAMS_INTS)
  const scratch = L.take((rt.gemmScratch / 4) * threads)
  const pa = pinA === undefined ? L.take(aLen) : 0
  const pb = pinB === undefined ? L.take(bLen) : 0
  const pc = L.take(batch * m * n)
  const pinBias = bias ? rt.pinned.get(bias) : undefined
  const pbias = bias && pinBias === undefined ? L.take(n) : 0
  const base = rt.reserve(L.bytes)
  const f32 = rt.f32
  if (bias && pinBias === undefined) f32.set(bias, (base + pbias) >> 2)
  if (pinA === undefined) f32.set(a.length === aLen ? a : a.subarray(0, aLen), (base + pa) >> 2)
  if (pinB === undefined) f32.set(b.length === bLen ? b : b.subarray(0, bLen), (base + pb) >> 2)
  runGemm(
    ctx,
    base + params,
    {
      batch,
      m,
      n,
      k,
      a: pinA ?? base + pa,
      aBS,
      rsA,
      csA,
      b: pinB ?? base + pb,
      bBS,
      rsB,
      csB,
      c: base + pc,
      bias: bias ? (pinBias ?? base + pbias) : 0,
      scratch: base + scratch,
    },
    run,
  )
  out.set(rt.f32.subarray((base + pc) >> 2, ((base + pc) >> 2) + batch * m * n))
}

/** The conv parameter block: the geometry, then pointers, scratch and the thread split. */
function convParams(
  i32: Int32Array,
  at: number,
  g: Conv2dGeometry,
  [x, w, bias, y]: [number, number, number, number],
  scratch: number,
  scratchPer: number,
  rows: number,
  split: number,
  chunks = 0,
  part = 0,
  wPacked = 0,
): void {
  writeParams(i32, at, CONV_GEOMETRY, g)
  writeParams(i32, at, CONV, { x, w, bias, y, scratch, scratchPer, rows, split, chunks, part, next: 0, wPacked })
}

/**
 * The weight gradient of a convolution with a small kernel (at most WEIGHT_CHUNKED_FLOATS weights) and a batch:
 * summed over chunks of samples, each chunk's sum on one thread, then the chunks' sums added in order
 * (wasm/kernels.ts conv2dBackwardWeight). Split by output channels instead, both threads unrolled every sample
 * (LeNet's second convolution) or one had nothing to do (its first: 6 output channels). The chunks depend on the
 * batch only, so the result does not depend on the thread count.
 */
const WEIGHT_CHUNKS = 16
const WEIGHT_CHUNKED_FLOATS = 1 << 16
const weightChunks = (g: Conv2dGeometry) =>
  g.batch >= 2 && g.outC * (g.inC / g.groups) * g.kH * g.kW <= WEIGHT_CHUNKED_FLOATS
    ? Math.min(g.batch, WEIGHT_CHUNKS)
    : 0

/**
 * How a convolution is cut: output-row tiles of `rows` rows (a tile of unrolled patches near COLS_TILE floats)
 * and, when the work units would leave threads idle or unbalanced, a split of each unit into `split` strips.
 * The units are, per kernel (see wasm/kernels.ts): forward (sample, group, tile) split by output channels;
 * data gradient (sample, group) split by input channels; weight gradient (group) split by output channels.
 */
function convPlan(kernel: ConvKernel, g: Conv2dGeometry, threads: number) {
  const cg = g.inC / g.groups
  const og = g.outC / g.groups
  const K = cg * g.kH * g.kW
  let rows = Math.min(g.outH, Math.max(1, Math.floor(COLS_TILE / K / g.outW)))
  // Forward on several threads: prefer a number of row tiles that divides evenly among them, so each thread
  // unrolls only its own rows (a split by output channels has every thread unroll the same tile).
  if (kernel === 'conv2d' && threads > 1 && (g.batch * g.groups) % threads !== 0) {
    const tiles = Math.ceil(Math.ceil(g.outH / rows) / threads) * threads
    if (tiles <= g.outH && Math.ceil(g.outH / Math.ceil(g.outH / tiles)) % threads === 0)
      rows = Math.ceil(g.outH / tiles)
  }
  const [units, strips] =
    kernel === 'conv2d'
      ? [g.batch * g.groups * Math.ceil(g.outH / rows), Math.ceil(og / 4)]
      : kernel === 'conv2dBackwardInput'
        ? [g.batch * g.groups, cg]
        : [g.groups, Math.ceil(og / 4)]
  const chunks = kernel === 'conv2dBackwardWeight' ? weightChunks(g) : 0
  const balanced = threads === 1 || chunks > 0 || units % threads === 0 || units >= 8 * threads
  return { rows, split: balanced ? 1 : Math.min(threads, strips), chunks, colsFloats: K * rows * g.outW }
}

const macsOf = (g: Conv2dGeometry) => g.batch * g.outC * g.outH * g.outW * (g.inC / g.groups) * g.kH * g.kW

type ConvKernel = 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight'

/**
 * Run one of the three conv kernels. The slots are those of the parameter block: forward (x, w, bias -> y),
 * data gradient (x = dy, w, bias -> y = dx), weight gradient (x, y = dy -> w = dw). Every slot but `output`
 * is copied in; `output` is copied out.
 */
function conv(
  ctx: WasmContext,
  kernel: ConvKernel,
  g: Conv2dGeometry,
  slots: { x: Float32Array; w: Float32Array; bias: Float32Array | null; y: Float32Array },
  output: 'w' | 'y',
): void {
  const { rt } = ctx
  const { n: threads, run } = threadsFor(ctx, macsOf(g))
  const plan = convPlan(kernel, g, threads)
  const per = rt.gemmScratch + ((plan.colsFloats * 4 + 15) & ~15)
  // Pinned inputs (a model's weights, see WasmRuntime.pin) are read where they lie: a ResNet-50 forward pass
  // otherwise copies its 100 MB of weights into the memory, on the calling thread, while the workers wait.
  const pinned = {
    x: rt.pinned.get(slots.x),
    w: output === 'w' ? undefined : rt.pinned.get(slots.w),
    y: output === 'y' ? undefined : rt.pinned.get(slots.y),
    bias: slots.bias ? rt.pinned.get(slots.bias) : undefined,
  }
  const L = new Layout()
  const params = L.take(PARAMS_INTS)
  const scratch = L.take((per / 4) * threads)
  // Operands not pinned get a slot in the arena (the output always does).
  const slot = (a: Float32Array | null, pin: number | undefined) => (a && pin === undefined ? L.take(a.length) : -1)
  const at = {
    x: slot(slots.x, pinned.x),
    w: slot(slots.w, pinned.w),
    y: slot(slots.y, pinned.y),
    bias: slot(slots.bias, pinned.bias),
  }
  // The weight gradient's per-chunk sums, each the size of the gradient.
  const part = L.take(plan.chunks * slots.w.length)
  // A pinned W of the forward kernel is also packed once for the scope (WasmRuntime.derived), as ONNX Runtime
  // prepacks weights: each call would otherwise pack all of W again for every tile of output rows.
  const og = g.outC / g.groups
  const K = slots.w.length / g.outC
  const packedW =
    kernel === 'conv2d' && pinned.w !== undefined
      ? rt.derived(slots.w, `conv-weights/${g.groups}`, g.groups * Math.ceil(og / MR) * MR * K)
      : undefined
  if (packedW?.fresh) rt.exports.packWeights(pinned.w!, og, K, g.groups, packedW.at)
  const base = rt.reserve(L.bytes)
  for (const s of ['x', 'w', 'y', 'bias'] as const)
    if (at[s] >= 0 && s !== output) rt.f32.set(slots[s]!, (base + at[s]) >> 2)
  const ptr = (s: 'x' | 'w' | 'y' | 'bias') => (slots[s] ? (pinned[s] ?? base + at[s]) : 0)
  convParams(
    rt.i32,
    base + params,
    g,
    [ptr('x'), ptr('w'), ptr('bias'), ptr('y')],
    base + scratch,
    per,
    plan.rows,
    plan.split,
    plan.chunks,
    base + part,
    packedW?.at ?? 0,
  )
  run(kernel, base + params)
  if (plan.chunks > 0) rt.exports.sumChunks(base + part, base + at.w, slots.w.length, plan.chunks)
  const o = (base + at[output]) >> 2
  slots[output].set(rt.f32.subarray(o, o + slots[output].length))
}

export function wasmKernels(ctx: WasmContext): Partial<KernelTable> {
  const js = jsKernels
  /**
   * MatMul, and MatMulTransA whose A is stored transposed: A(i, p) at a[p * m + i], read with row stride 1 and
   * column stride m instead of k and 1.
   */
  const product =
    (name: 'MatMul' | 'MatMulTransA'): KernelTable['MatMul'] =>
    (a, b, out, m, k, n, batch, aStride, bStride) => {
      if (m * k * n * batch < ctx.minMacs || !isF32(a, b, out))
        return js[name](a, b, out, m, k, n, batch, aStride, bStride)
      const [rsA, csA] = name === 'MatMul' ? [k, 1] : [1, m]
      gemm(
        ctx,
        a as Float32Array,
        aStride,
        rsA,
        csA,
        aStride ? batch * m * k : m * k,
        b as Float32Array,
        bStride,
        n,
        1,
        bStride ? batch * k * n : k * n,
        out as Float32Array,
        m,
        k,
        n,
        batch,
      )
    }
  return {
    MatMul: product('MatMul'),
    MatMulTransA: product('MatMulTransA'),
    MatMulTransB: (a, bt, out, m, k, n, batch, aStride, bias = null) => {
      if (m * k * n * batch < ctx.minMacs || !isF32(a, bt, out, bias))
        return js.MatMulTransB(a, bt, out, m, k, n, batch, aStride, bias)
      gemm(
        ctx,
        a as Float32Array,
        aStride,
        k,
        1,
        aStride ? batch * m * k : m * k,
        bt as Float32Array,
        0,
        1,
        k,
        n * k,
        out as Float32Array,
        m,
        k,
        n,
        batch,
        bias as Float32Array | null,
      )
    },
    Conv: (x, w, bias, y, g) => {
      if (macsOf(g) < ctx.minMacs || !isF32(x, w, bias, y)) return js.Conv(x, w, bias, y, g)
      conv(
        ctx,
        'conv2d',
        g,
        { x: x as Float32Array, w: w as Float32Array, bias: bias as Float32Array | null, y: y as Float32Array },
        'y',
      )
    },
    ConvTranspose: (dy, w, bias, dx, g) => {
      if (macsOf(g) < ctx.minMacs || !isF32(dy, w, bias, dx)) return js.ConvTranspose(dy, w, bias, dx, g)
      const slots = {
        x: dy as Float32Array,
        w: w as Float32Array,
        bias: bias as Float32Array | null,
        y: dx as Float32Array,
      }
      conv(ctx, 'conv2dBackwardInput', g, slots, 'y')
    },
    ConvWeightGrad: (x, dy, dw, g) => {
      if (macsOf(g) < ctx.minMacs || !isF32(x, dy, dw)) return js.ConvWeightGrad(x, dy, dw, g)
      conv(
        ctx,
        'conv2dBackwardWeight',
        g,
        { x: x as Float32Array, w: dw as Float32Array, bias: null, y: dy as Float32Array },
        'w',
      )
    },
  }
}

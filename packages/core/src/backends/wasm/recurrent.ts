/**
 * The `wasm` backend's recurrent time loop: one call runs a whole sequence of an RNN, GRU or LSTM layer in one
 * direction (wasm/kernels.ts `recurrentScan`; js/recurrent.ts is the reference). Per step the work is a
 * matrix-vector product with W_hh, (G*H) x H, and a few element-wise gates on B*H values: far too small for the
 * GEMM's packing or a kernel call per op to pay, so the kernel keeps W_hh, the state and the gates in its memory
 * for the whole sequence and the operands are copied in and out once per call. Large layers share each step
 * between the threads of the pool (by hidden units, in chunks a thread claims, its own first: see the kernel).
 * Given the layer's input instead of its projections (args.input, inference), the call first runs the
 * projection GEMM into its own memory, where the time loop reads it.
 */
import type { KernelTable, RecurrentScanArgs } from '../../kernel-table.js'
import { jsKernels } from '../js/kernels.js'
import { GATES } from '../js/recurrent.js'
import { PARAMS_INTS, runGemm, threadsFor, type WasmContext, writeParams } from './kernels.js'
import { Layout } from './runtime.js'

/** Below this many multiply-adds per step (B * G*H * H) the layer stays in JS (the copies cost more). */
const MIN_STEP_MACS = 4096
/**
 * From this many multiply-adds per step the steps are shared between threads: a step then takes ~4-6 us on
 * one thread, and the barrier after it ~1 us (docs/performance.md).
 */
export const SCAN_THREADS_MIN_STEP_MACS = 1 << 16

/** Rows of W_hh per packed panel: wasm/kernels.ts PANEL. */
const SCAN_PANEL = 6
/**
 * From this many products with W_hh per call (T * B) the kernel packs W_hh into panels first: the packing is a
 * pass over W_hh, and below this the faster steps do not pay for it (T 5, B 2 at 256 units: 0.47-0.69 ms without
 * packing, 0.80-1.17 with, one thread). A W_hh pinned by the caller is packed once, on its first call, and the
 * panels kept with the pin (WasmRuntime.derived), whatever the length. Either way every row sums in the same order.
 */
export const SCAN_PACK_MIN_PRODUCTS = 16

/** The scan's parameter block (wasm/kernels.ts R_*): sizes, operand pointers (0: absent), the counters. */
const SCAN = {
  mode: 0,
  T: 1,
  B: 2,
  H: 3,
  reverse: 4,
  xp: 5,
  w: 6,
  bias: 7,
  mask: 8,
  h: 9,
  c: 10,
  y: 11,
  hh: 12,
  hAlt: 13,
  hPrev: 14,
  cPrev: 15,
  sHh: 16,
  hNew: 17,
  cNew: 18,
  canWait: 19,
  sync: 20,
  wp: 21,
  pack: 22,
  ctrs: 23,
} as const

/** `matMulTransB`: this backend's MatMulTransB, which a projection too small for the arena GEMM goes through. */
export function wasmRecurrentKernels(
  ctx: WasmContext,
  matMulTransB: KernelTable['MatMulTransB'],
): Partial<KernelTable> {
  const { rt } = ctx
  const scan = (a: RecurrentScanArgs): void => {
    const { mode, T, B, H, xp, w, bias, mask, h, c, y, saved, input } = a
    const GH = GATES[mode] * H
    const arrays = [xp, w, bias, mask, h, c, y, saved?.hPrev, saved?.cPrev, saved?.hh, saved?.hNew, saved?.cNew]
    if (input) arrays.push(input.x, input.w, input.bias)
    const inWasm = B * GH * H >= MIN_STEP_MACS && arrays.every((x) => x == null || x instanceof Float32Array)
    // Where the scan or the projection would not both run here, the projection is MatMulTransB's (wasm or js by
    // its own rules) and the scan runs from it: either way the result is that of MatMulTransB then the scan.
    if (input && (!inWasm || T * B * GH * input.I < ctx.minMacs)) {
      const proj = new (input.x.constructor as Float32ArrayConstructor)(T * B * GH)
      matMulTransB(input.x, input.w, proj, T * B, input.I, GH, 1, 0, input.bias)
      scan({ ...a, xp: proj, input: null })
      return
    }
    if (!inWasm) {
      jsKernels.RecurrentScan(a)
      return
    }
    const pool = B * GH * H >= SCAN_THREADS_MIN_STEP_MACS ? ctx.pool() : null
    const f = (x: unknown) => x as Float32Array | null | undefined
    // W_hh pinned by the caller (see WasmRuntime.pin) is read where it lies, and its panels (SCAN_PANEL rows
    // each) are kept with it; otherwise the kernel packs W_hh into the arena when the sequence pays for it.
    const pinW = rt.pinned.get(f(w)!)
    const panelFloats = GATES[mode] * (H - (H % SCAN_PANEL)) * (H & ~3)
    const kept = pinW === undefined ? undefined : rt.derived(f(w)!, 'scan-panels', panelFloats)
    // With the layer's input instead of xp, the projection is a GEMM into the arena first (as MatMulTransB
    // would run it), and xp never leaves wasm memory.
    const I = input?.I ?? 0
    const proj = input ? threadsFor(ctx, T * B * GH * I) : null
    const pinWih = input ? rt.pinned.get(f(input.w)!) : undefined
    const pinBih = input?.bias ? rt.pinned.get(f(input.bias)!) : undefined
    const L = new Layout()
    const at = {
      xp: L.take(T * B * GH),
      x: input ? L.take(T * B * I) : -1,
      wIh: input && pinWih === undefined ? L.take(GH * I) : -1,
      bIh: input?.bias && pinBih === undefined ? L.take(GH) : -1,
      gemm: proj ? L.take(PARAMS_INTS + (rt.gemmScratch / 4) * proj.n) : -1,
      w: pinW === undefined ? L.take(GH * H) : -1,
      wp: kept === undefined && T * B >= SCAN_PACK_MIN_PRODUCTS ? L.take(panelFloats) : -1,
      bias: bias ? L.take(GH) : -1,
      mask: mask ? L.take(T * B) : -1,
      h: L.take(B * H),
      hAlt: L.take(B * H),
      c: c ? L.take(B * H) : -1,
      y: L.take(T * B * H),
      hh: L.take(B * GH),
      hPrev: saved ? L.take(T * B * H) : -1,
      cPrev: saved?.cPrev ? L.take(T * B * H) : -1,
      sHh: saved ? L.take(T * B * GH) : -1,
      hNew: saved ? L.take(T * B * H) : -1,
      cNew: saved?.cNew ? L.take(T * B * H) : -1,
      params: L.take(PARAMS_INTS),
      // the count of chunks done and each thread's count of chunks claimed (the kernel's R_CTRS), each on a
      // 64-byte cache line of its own: 16 floats a counter, and 16 more to align the first
      ctrs: L.take(16 * (2 + (pool?.size ?? 1))),
    }
    const base = rt.reserve(L.bytes)
    const ptr = (off: number) => (off < 0 ? 0 : base + off)
    const put = (x: Float32Array | null | undefined, off: number) => {
      if (x) rt.f32.set(x, (base + off) >> 2)
    }
    const get = (x: Float32Array | null | undefined, off: number) => {
      if (x) x.set(rt.f32.subarray((base + off) >> 2, ((base + off) >> 2) + x.length))
    }
    if (input && proj) {
      put(f(input.x), at.x)
      if (pinWih === undefined) put(f(input.w), at.wIh)
      if (pinBih === undefined) put(f(input.bias), at.bIh)
      const gp = base + at.gemm
      // x (T*B, I) row-major times W_ih^T: W_ih (G*H, I) read with row stride 1 and column stride I, as MatMulTransB.
      runGemm(
        ctx,
        gp,
        {
          batch: 1,
          m: T * B,
          n: GH,
          k: I,
          a: ptr(at.x),
          aBS: 0,
          rsA: I,
          csA: 1,
          b: pinWih ?? ptr(at.wIh),
          bBS: 0,
          rsB: 1,
          csB: I,
          c: ptr(at.xp),
          bias: pinBih ?? ptr(at.bIh),
          scratch: gp + PARAMS_INTS * 4,
        },
        proj.run,
      )
    } else put(f(xp), at.xp)
    if (pinW === undefined) put(f(w), at.w)
    put(f(bias), at.bias)
    put(f(mask), at.mask)
    put(f(h), at.h)
    put(f(c), at.c)
    const p = base + at.params
    const ctrs = (base + at.ctrs + 63) & ~63
    rt.i32.fill(0, ctrs >> 2, (ctrs >> 2) + 16 * (1 + (pool?.size ?? 1)))
    writeParams(rt.i32, p, SCAN, {
      mode,
      T,
      B,
      H,
      reverse: a.reverse ? 1 : 0,
      xp: ptr(at.xp),
      w: pinW ?? ptr(at.w),
      bias: ptr(at.bias),
      mask: ptr(at.mask),
      h: ptr(at.h),
      c: ptr(at.c),
      y: ptr(at.y),
      hh: ptr(at.hh),
      hAlt: ptr(at.hAlt),
      hPrev: ptr(at.hPrev),
      cPrev: ptr(at.cPrev),
      sHh: ptr(at.sHh),
      hNew: ptr(at.hNew),
      cNew: ptr(at.cNew),
      canWait: pool?.canWait === false ? 0 : 1,
      sync: 0,
      wp: kept?.at ?? ptr(at.wp),
      pack: kept?.fresh === false ? 0 : 1,
      ctrs,
    })
    if (pool && pool.size > 1) pool.run('recurrentScan', p)
    else rt.exports.recurrentScan(p, 0, 1)
    get(f(h), at.h)
    get(f(c), at.c)
    get(f(y), at.y)
    get(f(saved?.hPrev), at.hPrev)
    get(f(saved?.cPrev), at.cPrev)
    get(f(saved?.hh), at.sHh)
    get(f(saved?.hNew), at.hNew)
    get(f(saved?.cNew), at.cNew)
  }
  return { RecurrentScan: scan }
}

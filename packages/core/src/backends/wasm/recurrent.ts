/**
 * The `wasm` backend's recurrent time loop: one call runs a whole sequence of an RNN, GRU or LSTM layer in one
 * direction (wasm/kernels.ts `recurrentScan`; js/recurrent.ts is the reference). Per step the work is a
 * matrix-vector product with W_hh, (G*H) x H, and a few element-wise gates on B*H values: far too small for the
 * GEMM's packing or a kernel call per op to pay, so the kernel keeps W_hh, the state and the gates in its memory
 * for the whole sequence and the operands are copied in and out once per call.
 */
import type { KernelTable, RecurrentScanArgs } from '../../kernel-table.js'
import { jsKernels } from '../js/kernels.js'
import { GATES } from '../js/recurrent.js'
import { Layout, type WasmRuntime } from './runtime.js'

/** Below this many multiply-adds per step (B * G*H * H) the layer stays in JS (the copies cost more). */
const MIN_STEP_MACS = 4096

export function wasmRecurrentKernels(rt: WasmRuntime): Partial<KernelTable> {
  return {
    RecurrentScan: (a: RecurrentScanArgs) => {
      const { mode, T, B, H, xp, w, bias, mask, h, c, y, saved } = a
      const GH = GATES[mode] * H
      const arrays = [xp, w, bias, mask, h, c, y, saved?.hPrev, saved?.cPrev, saved?.hh, saved?.hNew, saved?.cNew]
      if (B * GH * H < MIN_STEP_MACS || !arrays.every((x) => x == null || x instanceof Float32Array))
        return jsKernels.RecurrentScan(a)
      const L = new Layout()
      const at = {
        xp: L.take(T * B * GH),
        w: L.take(GH * H),
        bias: bias ? L.take(GH) : -1,
        mask: mask ? L.take(T * B) : -1,
        h: L.take(B * H),
        c: c ? L.take(B * H) : -1,
        y: L.take(T * B * H),
        scratch: L.take(B * GH),
        hPrev: saved ? L.take(T * B * H) : -1,
        cPrev: saved?.cPrev ? L.take(T * B * H) : -1,
        hh: saved ? L.take(T * B * GH) : -1,
        hNew: saved ? L.take(T * B * H) : -1,
        cNew: saved?.cNew ? L.take(T * B * H) : -1,
      }
      const base = rt.reserve(L.bytes)
      const ptr = (off: number) => (off < 0 ? 0 : base + off)
      const put = (x: Float32Array | null | undefined, off: number) => {
        if (x) rt.f32.set(x, (base + off) >> 2)
      }
      const get = (x: Float32Array | null | undefined, off: number) => {
        if (x) x.set(rt.f32.subarray((base + off) >> 2, ((base + off) >> 2) + x.length))
      }
      const f = (x: unknown) => x as Float32Array | null | undefined
      put(f(xp), at.xp)
      put(f(w), at.w)
      put(f(bias), at.bias)
      put(f(mask), at.mask)
      put(f(h), at.h)
      put(f(c), at.c)
      rt.exports.recurrentScan(
        mode,
        T,
        B,
        H,
        a.reverse ? 1 : 0,
        ptr(at.xp),
        ptr(at.w),
        ptr(at.bias),
        ptr(at.mask),
        ptr(at.h),
        ptr(at.c),
        ptr(at.y),
        ptr(at.scratch),
        ptr(at.hPrev),
        ptr(at.cPrev),
        ptr(at.hh),
        ptr(at.hNew),
        ptr(at.cNew),
      )
      get(f(h), at.h)
      get(f(c), at.c)
      get(f(y), at.y)
      get(f(saved?.hPrev), at.hPrev)
      get(f(saved?.cPrev), at.cPrev)
      get(f(saved?.hh), at.hh)
      get(f(saved?.hNew), at.hNew)
      get(f(saved?.cNew), at.cNew)
    },
  }
}

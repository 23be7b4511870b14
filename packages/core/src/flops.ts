/**
 * Counting the work a computation does, at the kernel level: every GEMM and convolution kernel call while
 * `fn` runs adds its multiply-accumulates. Any module of any package is counted the same way, with no
 * per-layer table (element-wise kernels, a few percent of a CNN's arithmetic, count zero).
 */
import { type Backend, getBackend, setBackend } from './backend.js'
import { jsKernels } from './backends/js/kernels.js'
import { GATES } from './backends/js/recurrent.js'
import type { Conv2dGeometry, KernelTable } from './kernel-table.js'

const convMacs = (g: Conv2dGeometry) => g.batch * g.outC * g.outH * g.outW * (g.inC / g.groups) * g.kH * g.kW

/** Multiply-accumulates done by the GEMM and convolution kernels while `fn` runs (forward and backward). */
export function countMacs(fn: () => unknown): number {
  const prev = getBackend()
  const k = <K extends keyof KernelTable>(name: K) => (prev.kernels[name] ?? jsKernels[name]) as KernelTable[K]
  let macs = 0
  const counting: Backend = {
    name: prev.name,
    kernels: {
      ...prev.kernels,
      MatMul: (a, b, out, m, kk, n, batch, as, bs) => {
        macs += m * kk * n * batch
        k('MatMul')(a, b, out, m, kk, n, batch, as, bs)
      },
      MatMulTransA: (at, b, out, m, kk, n, batch, as, bs) => {
        macs += m * kk * n * batch
        k('MatMulTransA')(at, b, out, m, kk, n, batch, as, bs)
      },
      MatMulTransB: (a, bt, out, m, kk, n, batch, as, bias) => {
        macs += m * kk * n * batch
        k('MatMulTransB')(a, bt, out, m, kk, n, batch, as, bias)
      },
      Conv: (x, w, b, y, g) => {
        macs += convMacs(g)
        k('Conv')(x, w, b, y, g)
      },
      ConvTranspose: (dy, w, b, dx, g) => {
        macs += convMacs(g)
        k('ConvTranspose')(dy, w, b, dx, g)
      },
      ConvWeightGrad: (x, dy, dw, g) => {
        macs += convMacs(g)
        k('ConvWeightGrad')(x, dy, dw, g)
      },
      // A recurrent layer's time loop: h W_hh^T at every step, and the input projection when the call makes it.
      RecurrentScan: (a) => {
        const GH = GATES[a.mode] * a.H
        macs += a.T * a.B * GH * (a.H + (a.input ? a.input.I : 0))
        k('RecurrentScan')(a)
      },
    },
  }
  setBackend(counting)
  try {
    fn()
  } finally {
    setBackend(prev)
  }
  return macs
}

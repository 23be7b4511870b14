/**
 * The time loop of a recurrent layer (Elman RNN, GRU, LSTM; https://d2l.ai/chapter_recurrent-modern/lstm.html,
 * https://onnx.ai/onnx/operators/onnx__LSTM.html) in plain JS, the reference for the wasm kernel. Per step: the
 * recurrent product hh = h_{t-1} W_hh^T + b_hh (row by row, one dot product per gate unit), then the gates in
 * float64 with PyTorch's gate orders (r z n for GRU with the reset gate applied to W_hn h + b_hn; i f g o for
 * LSTM), then the state update, carried through where the mask is 0.
 */
import type { RecurrentScanArgs } from '../../kernel-table.js'
import { matmulTransB } from './matmul.js'

const sig = (x: number) => 1 / (1 + Math.exp(-x))
/** Gate blocks per mode (RecurrentScanArgs.mode): G in the (G*H, H) shape of W_hh. */
export const GATES = [1, 1, 3, 4] as const

export function recurrentScan(a: RecurrentScanArgs): void {
  const { mode, T, B, H, reverse, w: W, bias, mask: M, h, c, y, saved: s } = a
  const GH = GATES[mode] * H
  const X = a.input ? project(a.input, T * B, GH) : a.xp!
  const hh = new Float64Array(B * GH)
  const hNew = new Float64Array(B * H)
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k
    const sH = t * B * H
    const sG = t * B * GH
    if (s) {
      s.hPrev.set(h, sH)
      if (c) s.cPrev!.set(c, sH)
    }
    // hh = h W_hh^T + b_hh: (B, H) x (G*H, H)^T
    for (let r = 0; r < B; r++)
      for (let j = 0; j < GH; j++) {
        let acc = 0
        for (let q = 0; q < H; q++) acc += h[r * H + q]! * W[j * H + q]!
        hh[r * GH + j] = bias ? acc + bias[j]! : acc
      }
    if (s) s.hh.set(hh, sG)
    for (let r = 0; r < B; r++) {
      const m = M ? M[t * B + r]! : 1
      const g0 = sG + r * GH
      const a0 = r * GH
      for (let j = 0; j < H; j++) {
        let hn: number
        if (mode <= 1) {
          const pre = X[g0 + j]! + hh[a0 + j]!
          hn = mode === 0 ? Math.tanh(pre) : pre > 0 ? pre : 0
        } else if (mode === 2) {
          const rg = sig(X[g0 + j]! + hh[a0 + j]!)
          const z = sig(X[g0 + H + j]! + hh[a0 + H + j]!)
          const n = Math.tanh(X[g0 + 2 * H + j]! + rg * hh[a0 + 2 * H + j]!)
          hn = (1 - z) * n + z * h[r * H + j]!
        } else {
          const i = sig(X[g0 + j]! + hh[a0 + j]!)
          const f = sig(X[g0 + H + j]! + hh[a0 + H + j]!)
          const g = Math.tanh(X[g0 + 2 * H + j]! + hh[a0 + 2 * H + j]!)
          const og = sig(X[g0 + 3 * H + j]! + hh[a0 + 3 * H + j]!)
          const q = r * H + j
          const cn = f * c![q]! + i * g
          if (s) s.cNew![sH + q] = cn
          hn = og * Math.tanh(cn)
          if (m !== 0) c![q] = m === 1 ? cn : c![q]! + m * (cn - c![q]!)
        }
        hNew[r * H + j] = hn
        y[sH + r * H + j] = hn * m
      }
      // Update h after the row is done (GRU reads h_{t-1} above).
      for (let j = 0; j < H; j++) {
        const q = r * H + j
        if (s) s.hNew[sH + q] = hNew[q]!
        if (m !== 0) h[q] = m === 1 ? hNew[q]! : h[q]! + m * (hNew[q]! - h[q]!)
      }
    }
  }
}

/** xp = x W^T + bias for `rows` rows of x, in x's float type: the MatMulTransB a Linear layer runs. */
function project(
  { x, w, bias, I }: NonNullable<RecurrentScanArgs['input']>,
  rows: number,
  GH: number,
): RecurrentScanArgs['w'] {
  const xp = x instanceof Float32Array ? new Float32Array(rows * GH) : new Float64Array(rows * GH)
  matmulTransB(x, w, xp, rows, I, GH, 1, 0, bias)
  return xp
}

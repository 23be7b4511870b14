/**
 * One recurrent layer in one direction over a whole sequence as a single op, with
 * backpropagation through time written out (Werbos 1990, https://doi.org/10.1109/5.58337;
 * https://d2l.ai/chapter_recurrent-neural-networks/bptt.html). Given the input projections of all
 * steps xp = X W_ih^T + b_ih (one GEMM, computed outside with ops), the forward is one backend
 * kernel call (`RecurrentScan`: per step the recurrent product h_{t-1} W_hh^T + b_hh and the gates),
 * saving h_{t-1}, c_{t-1} and the gate inputs when a gradient will be needed. The backward walks the steps in reverse: the gate derivatives, one GEMM per step
 * for dh_{t-1} = da_t W_hh, and, after the loop, dW_hh = sum_t da_t^T h_{t-1} as ONE GEMM over all
 * steps. Composing the same computation from per-step ops costs O(T^2) in autograd (each step's
 * slice of xp sends back a full-size gradient) and allocates a dozen tensors per step.
 *
 * Output: (T + 2, B, H) packed as [y_0 .. y_{T-1}, h_final, c_final] (c_final is 0 without a cell
 * state). Gate orders are PyTorch's. The mask (T, B) carries the state through padding.
 * NOTE: the backward is computed with raw GEMMs, so it is not differentiable again.
 */
import {
  type DType,
  Tensor,
  allocate,
  apply,
  defineOp,
  isGradEnabled,
  kernel,
  matmul,
  noGrad,
  transpose,
  withPinned,
} from '@refnets/core'

export type RecurrentMode = 'RNN_TANH' | 'RNN_RELU' | 'GRU' | 'LSTM'

/** Gate blocks per mode: G in the (G*H, .) weight shapes. */
export const GATES: Record<RecurrentMode, number> = { RNN_TANH: 1, RNN_RELU: 1, GRU: 3, LSTM: 4 }
/** The backend kernel's mode numbers (RecurrentScanArgs). */
const MODE = { RNN_TANH: 0, RNN_RELU: 1, GRU: 2, LSTM: 3 } as const

type Arr = Float32Array | Float64Array

interface Saved {
  /** (T, B, H) state before each step */
  hPrev: Arr
  cPrev: Arr | null
  /** (T, B, G*H) recurrent products h_{t-1} W_hh^T + b_hh */
  hh: Arr
  /** (T, B, H) new h before masking (RNN: the activation output; LSTM: c_t) */
  hNew: Arr
  cNew: Arr | null
}

const saved = new WeakMap<Tensor, Saved>()
const sig = (x: number) => 1 / (1 + Math.exp(-x))

interface ScanAttrs {
  mode: RecurrentMode
  reverse: boolean
  hasMask: boolean
  hasBias: boolean
  /** Keep what the backward needs (only when a gradient will be asked for). */
  save: boolean
}

const mat = (d: Arr, shape: number[]) => new Tensor(d, shape)

export const RecurrentScan = defineOp<ScanAttrs>({
  name: 'RecurrentScan',
  forward: ([xp, h0, c0, wHh, bHh, mask], { mode, reverse, hasMask, hasBias, save }) => {
    const [T, B, GH] = xp!.shape as [number, number, number]
    const H = wHh!.shape[1]!
    const dtype = xp!.dtype as DType
    const X = xp!.data as Arr
    const M = hasMask ? (mask!.data as Arr) : null
    const bias = hasBias ? (bHh!.data as Arr) : null
    const W = wHh!.contiguous().data as Arr
    const out = allocate(dtype, (T + 2) * B * H) as Arr
    const s: Saved | null = save
      ? {
          hPrev: allocate(dtype, T * B * H) as Arr,
          cPrev: mode === 'LSTM' ? (allocate(dtype, T * B * H) as Arr) : null,
          hh: allocate(dtype, T * B * GH) as Arr,
          hNew: allocate(dtype, T * B * H) as Arr,
          cNew: mode === 'LSTM' ? (allocate(dtype, T * B * H) as Arr) : null,
        }
      : null
    const h = allocate(dtype, B * H) as Arr
    h.set(h0!.data as Arr)
    const c = mode === 'LSTM' ? (allocate(dtype, B * H) as Arr) : null
    if (c) c.set(c0!.data as Arr)
    // The whole time loop is one kernel call (per step: hh = h W_hh^T + b_hh, the gates, the masked update).
    kernel('RecurrentScan')({
      mode: MODE[mode],
      T,
      B,
      H,
      reverse,
      xp: X,
      w: W,
      bias,
      mask: M,
      h,
      c,
      y: out.subarray(0, T * B * H),
      saved: s,
    })
    out.set(h, T * B * H)
    if (c) out.set(c, (T + 1) * B * H)
    const y = new Tensor(out, [T + 2, B, H])
    if (s) saved.set(y, s)
    return y
  },
  backward: (dOut, { inputs: [xp, h0, c0, wHh, bHh, mask], output, attrs }) => {
    const { mode, reverse, hasMask, hasBias } = attrs
    const s = saved.get(output)!
    const [T, B, GH] = xp!.shape as [number, number, number]
    const H = wHh!.shape[1]!
    const G = GATES[mode]
    const dtype = xp!.dtype as DType
    const X = xp!.data as Arr
    const M = hasMask ? (mask!.data as Arr) : null
    const D = dOut.data as Arr
    const W = wHh!.contiguous()
    const dxp = allocate(dtype, T * B * GH) as Arr
    const dhh = allocate(dtype, T * B * GH) as Arr
    const dh = Float64Array.from(D.subarray(T * B * H, (T + 1) * B * H))
    const dc = Float64Array.from(D.subarray((T + 1) * B * H, (T + 2) * B * H))
    const dhNew = new Float64Array(B * H)
    const dcNew = new Float64Array(B * H)
    withPinned([W.data], () => {
      for (let k = T - 1; k >= 0; k--) {
        const t = reverse ? T - 1 - k : k
        const sH = t * B * H
        const sG = t * B * GH
        for (let r = 0; r < B; r++) {
          const m = M ? M[t * B + r]! : 1
          for (let j = 0; j < H; j++) {
            const q = r * H + j
            // y_t = m * hNew; h_t = h_{t-1} + m * (hNew - h_{t-1})
            dhNew[q] = m * (dh[q]! + D[sH + q]!)
            dh[q] = (1 - m) * dh[q]!
            dcNew[q] = m * dc[q]!
            dc[q] = (1 - m) * dc[q]!
          }
        }
        for (let r = 0; r < B; r++) {
          const g0 = sG + r * GH
          for (let j = 0; j < H; j++) {
            const q = r * H + j
            const o = sH + q
            const dn = dhNew[q]!
            if (G === 1) {
              const hn = s.hNew[o]!
              const da = mode === 'RNN_TANH' ? dn * (1 - hn * hn) : hn > 0 ? dn : 0
              dxp[g0 + j] = da
              dhh[g0 + j] = da
            } else if (G === 3) {
              const hn3 = s.hh[g0 + 2 * H + j]!
              const rg = sig(X[g0 + j]! + s.hh[g0 + j]!)
              const z = sig(X[g0 + H + j]! + s.hh[g0 + H + j]!)
              const n = Math.tanh(X[g0 + 2 * H + j]! + rg * hn3)
              const hp = s.hPrev[o]!
              const dan = dn * (1 - z) * (1 - n * n)
              const dar = dan * hn3 * rg * (1 - rg)
              const daz = dn * (hp - n) * z * (1 - z)
              dxp[g0 + j] = dar
              dxp[g0 + H + j] = daz
              dxp[g0 + 2 * H + j] = dan
              dhh[g0 + j] = dar
              dhh[g0 + H + j] = daz
              dhh[g0 + 2 * H + j] = dan * rg
              dh[q]! += dn * z
            } else {
              const i = sig(X[g0 + j]! + s.hh[g0 + j]!)
              const f = sig(X[g0 + H + j]! + s.hh[g0 + H + j]!)
              const g = Math.tanh(X[g0 + 2 * H + j]! + s.hh[g0 + 2 * H + j]!)
              const og = sig(X[g0 + 3 * H + j]! + s.hh[g0 + 3 * H + j]!)
              const th = Math.tanh(s.cNew![o]!)
              const cp = s.cPrev![o]!
              const dcT = dcNew[q]! + dn * og * (1 - th * th)
              const ai = dcT * g * i * (1 - i)
              const af = dcT * cp * f * (1 - f)
              const ag = dcT * i * (1 - g * g)
              const ao = dn * th * og * (1 - og)
              dxp[g0 + j] = dhh[g0 + j] = ai
              dxp[g0 + H + j] = dhh[g0 + H + j] = af
              dxp[g0 + 2 * H + j] = dhh[g0 + 2 * H + j] = ag
              dxp[g0 + 3 * H + j] = dhh[g0 + 3 * H + j] = ao
              dc[q]! += dcT * f
            }
          }
        }
        // dh_{t-1} += da_t W_hh: (B, G*H) @ (G*H, H) -> (B, H)
        const back = noGrad(() => matmul(mat(dhh.subarray(sG, sG + B * GH) as Arr, [B, GH]), W).data)
        for (let q = 0; q < B * H; q++) dh[q]! += back[q]!
      }
    })
    // dW_hh = sum_t da_t^T h_{t-1}: (G*H, T*B) @ (T*B, H), one GEMM over every step
    const dW = wHh!.requiresGrad
      ? noGrad(() => matmul(transpose(mat(dhh, [T * B, GH]), 0, 1), mat(s.hPrev, [T * B, H])))
      : null
    let db: Tensor | null = null
    if (hasBias && bHh!.requiresGrad) {
      const acc = allocate(dtype, GH) as Arr
      for (let n = 0; n < T * B; n++) for (let j = 0; j < GH; j++) acc[j]! += dhh[n * GH + j]!
      db = new Tensor(acc, [GH])
    }
    const toDtype = (a: Float64Array, shape: number[]) =>
      new Tensor(dtype === 'float32' ? Float32Array.from(a) : a, shape)
    return [
      xp!.requiresGrad ? new Tensor(dxp, [T, B, GH]) : null,
      h0!.requiresGrad ? toDtype(dh, [B, H]) : null,
      mode === 'LSTM' && c0!.requiresGrad ? toDtype(dc, [B, H]) : null,
      dW,
      db,
      null,
    ]
  },
})

/**
 * Run one direction: xp (T, B, G*H), initial h0/c0 (B, H), W_hh (G*H, H), b_hh (G*H) or null,
 * mask (T, B, 1) or null. Returns y (T, B, H) and the final h, c.
 */
export function recurrentScan(
  mode: RecurrentMode,
  xp: Tensor,
  h0: Tensor,
  c0: Tensor | null,
  wHh: Tensor,
  bHh: Tensor | null,
  mask: Tensor | null,
  reverse: boolean,
): { y: Tensor; h: Tensor; c: Tensor | null } {
  const T = xp.shape[0]!
  const dummy = new Tensor(allocate(xp.dtype, 1), [1])
  const out = apply(RecurrentScan, [xp, h0, c0 ?? dummy, wHh, bHh ?? dummy, mask ?? dummy], {
    mode,
    reverse,
    hasMask: mask !== null,
    hasBias: bHh !== null,
    save: isGradEnabled() && [xp, h0, c0, wHh, bHh].some((t) => t?.requiresGrad),
  })
  return unpack(mode, out, T)
}

/** The scan's packed output (T + 2, B, H) as y (T, B, H), the final h (B, H) and, for LSTM, the final c. */
function unpack(mode: RecurrentMode, out: Tensor, T: number): { y: Tensor; h: Tensor; c: Tensor | null } {
  return {
    y: out.slice(0, 0, T),
    h: out.slice(0, T, T + 1).squeeze(0),
    c: mode === 'LSTM' ? out.slice(0, T + 1, T + 2).squeeze(0) : null,
  }
}

/**
 * recurrentScan for a call that needs no gradient, from the layer's input x (T, B, I) and W_ih (G*H, I), b_ih:
 * the backend computes the input projections itself (RecurrentScanArgs.input) before the time loop, so they
 * never become a tensor (the wasm backend keeps them in its memory: no copy out and back in, no allocation).
 * The outputs are those of linear + recurrentScan, bit for bit (the same GEMM kernel, the same time loop).
 */
export function recurrentScanInference(
  mode: RecurrentMode,
  x: Tensor,
  wIh: Tensor,
  bIh: Tensor | null,
  h0: Tensor,
  c0: Tensor | null,
  wHh: Tensor,
  bHh: Tensor | null,
  mask: Tensor | null,
  reverse: boolean,
): { y: Tensor; h: Tensor; c: Tensor | null } {
  const [T, B, I] = x.shape as [number, number, number]
  const H = wHh.shape[1]!
  const dtype = x.dtype as DType
  const out = allocate(dtype, (T + 2) * B * H) as Arr
  // The state is updated in place: h and c start as copies of h0 and c0, in the output's last two rows.
  const h = out.subarray(T * B * H, (T + 1) * B * H)
  h.set(h0.contiguous().data as Arr)
  const c = mode === 'LSTM' ? out.subarray((T + 1) * B * H) : null
  if (c) c.set(c0!.contiguous().data as Arr)
  kernel('RecurrentScan')({
    mode: MODE[mode],
    T,
    B,
    H,
    reverse,
    xp: null,
    input: { x: x.contiguous().data as Arr, w: wIh.contiguous().data as Arr, bias: (bIh?.data as Arr) ?? null, I },
    w: wHh.contiguous().data as Arr,
    bias: (bHh?.data as Arr) ?? null,
    mask: mask ? (mask.contiguous().data as Arr) : null,
    h,
    c,
    y: out.subarray(0, T * B * H),
    saved: null,
  })
  return unpack(mode, new Tensor(out, [T + 2, B, H]), T)
}

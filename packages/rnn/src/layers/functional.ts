/**
 * The recurrent computation shared by RNN, GRU and LSTM (and their cells), in PyTorch's layout:
 * weight_ih (G*H, I), weight_hh (G*H, H), bias_ih and bias_hh (G*H), with the G gate blocks in
 * PyTorch's order (LSTM i, f, g, o; GRU r, z, n). Written with core ops, so autograd gives
 * backpropagation through time.
 *
 * Speed: the input projection of every time step is one GEMM, (T*B, I) @ (I, G*H); only the
 * recurrent product h_{t-1} W_hh^T runs per step (https://d2l.ai/chapter_recurrent-modern/lstm.html).
 *
 * Variable lengths (PyTorch's packed sequences): a (T, B, 1) mask m_t = [t < len_b]. Where m_t = 0
 * the state is carried unchanged and the output is 0, so the forward direction's final state is
 * the state at len_b - 1, and the reverse direction, run from t = T-1 down to 0, stays at its
 * initial state through the padding and starts at len_b - 1: both as PyTorch and ONNX define them.
 */
import { gruPointwise, lstmPointwise } from './fused.js'
import { type RecurrentMode, recurrentScan, recurrentScanInference } from './scan.js'
import {
  type Tensor,
  ArgumentError,
  ShapeError,
  concat,
  dropout,
  fromValues,
  isGradEnabled,
  linear,
  select,
  stack,
} from '@refnets/core'

export { GATES, type RecurrentMode } from './scan.js'

/** The four tensors of one layer and direction (biases absent when the layer has bias = false). */
export interface CellWeights {
  wIh: Tensor
  wHh: Tensor
  bIh: Tensor | null
  bHh: Tensor | null
}

export interface CellState {
  h: Tensor
  /** The LSTM cell state (null for RNN and GRU). */
  c: Tensor | null
}

/**
 * One time step from the precomputed input projection `xi` = x W_ih^T + b_ih, (B, G*H).
 * Returns the new (h, c), each (B, H).
 */
export function cellStep(mode: RecurrentMode, xi: Tensor, state: CellState, w: CellWeights): CellState {
  // (B, H) @ (H, G*H) -> (B, G*H)
  const hh = linear(state.h, w.wHh, w.bHh)
  if (mode === 'RNN_TANH') return { h: xi.add(hh).tanh(), c: null }
  if (mode === 'RNN_RELU') return { h: xi.add(hh).relu(), c: null }
  if (mode === 'LSTM') {
    // (B, 4H) gates i, f, g, o -> c = f * c_prev + i * g, h = o * tanh(c): one fused op (fused.ts)
    const [h, c] = lstmPointwise(xi, hh, state.c!)
    return { h, c }
  }
  // GRU, gates r, z, n: r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n).
  // NOTE: the reset gate multiplies (W_hn h + b_hn), after the linear map, as PyTorch does (ONNX
  // GRU with linear_before_reset = 1); the GRU paper and d2l apply it to h before W_hn.
  // NOTE: h_t = (1 - z) * n + z * h_{t-1}: the update gate z keeps the old state (PyTorch, ONNX,
  // d2l); some texts swap z and 1 - z.
  return { h: gruPointwise(xi, hh, state.h), c: null }
}

/** The (T, B, 1) float mask [t < len_b] of a batch, or null when every sequence is full. */
export function lengthMask(
  lengths: ArrayLike<number> | null,
  T: number,
  B: number,
  dtype: Tensor['dtype'],
): Tensor | null {
  if (!lengths) return null
  let full = true
  for (let b = 0; b < B; b++) if (lengths[b] !== T) full = false
  if (full) return null
  const m = new Float64Array(T * B)
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) m[t * B + b] = t < lengths[b]! ? 1 : 0
  return fromValues(dtype, [T, B, 1], m)
}

/**
 * Run one layer in one direction over the projected inputs `xp` (T, B, G*H): the whole time loop
 * and its backpropagation through time are one op (scan.ts). Returns the outputs (T, B, H) in time
 * order and the final state.
 */
export function runDirection(
  mode: RecurrentMode,
  xp: Tensor,
  init: CellState,
  w: CellWeights,
  mask: Tensor | null,
  reverse: boolean,
): { y: Tensor; state: CellState } {
  const r = recurrentScan(mode, xp, init.h, init.c, w.wHh, w.bHh, mask, reverse)
  return { y: r.y, state: { h: r.h, c: r.c } }
}

/** runDirection from the layer's input (T, B, I), for calls that need no gradient (scan.ts recurrentScanInference). */
function runDirectionInference(
  mode: RecurrentMode,
  x: Tensor,
  init: CellState,
  w: CellWeights,
  mask: Tensor | null,
  reverse: boolean,
): { y: Tensor; state: CellState } {
  const r = recurrentScanInference(mode, x, w.wIh, w.bIh, init.h, init.c, w.wHh, w.bHh, mask, reverse)
  return { y: r.y, state: { h: r.h, c: r.c } }
}

export interface RecurrentOptions {
  numLayers: number
  bidirectional: boolean
  /** Dropout probability on the outputs of each layer except the last (training only). */
  dropout: number
  training: boolean
  /** Valid length of each sequence (B entries, 1..T), or null when all have length T. */
  lengths: ArrayLike<number> | null
}

export interface RecurrentResult {
  /** (T, B, D*H) */
  output: Tensor
  /** (L*D, B, H), ordered layer 0 forward, layer 0 reverse, layer 1 forward, ... */
  hN: Tensor
  /** (L*D, B, H) for LSTM, else null. */
  cN: Tensor | null
}

/**
 * A stacked, optionally bidirectional recurrent network on time-major input x (T, B, I).
 * `weights[l * D + d]` are layer l's weights for direction d (0 forward, 1 reverse); h0 and c0 are
 * (L*D, B, H) or null for zeros.
 */
export function recurrent(
  mode: RecurrentMode,
  x: Tensor,
  h0: Tensor | null,
  c0: Tensor | null,
  weights: CellWeights[],
  opts: RecurrentOptions,
): RecurrentResult {
  const [T, B] = x.shape as [number, number, number]
  const D = opts.bidirectional ? 2 : 1
  const H = weights[0]!.wHh.shape[1]!
  const mask = lengthMask(opts.lengths, T, B, x.dtype)
  const zeros = (): Tensor => fromValues(x.dtype, [B, H], new Float64Array(B * H))
  const hs: Tensor[] = []
  const cs: Tensor[] = []
  let input = x
  for (let l = 0; l < opts.numLayers; l++) {
    const outs: Tensor[] = []
    for (let d = 0; d < D; d++) {
      const w = weights[l * D + d]!
      const k = l * D + d
      const init: CellState = {
        h: h0 ? select(h0, 0, k) : zeros(),
        c: mode === 'LSTM' ? (c0 ? select(c0, 0, k) : zeros()) : null,
      }
      const needsGrad =
        isGradEnabled() && [input, w.wIh, w.bIh, w.wHh, w.bHh, init.h, init.c].some((t) => t?.requiresGrad)
      // (T, B, I) -> (T*B, I) @ (I, G*H) -> (T, B, G*H): all steps' input projections in one GEMM, then the time
      // loop; without a gradient to compute, both in one kernel call (scan.ts recurrentScanInference).
      const { y, state } = needsGrad
        ? runDirection(
            mode,
            linear(input.reshape(T * B, input.shape[2]!), w.wIh, w.bIh).reshape(T, B, -1),
            init,
            w,
            mask,
            d === 1,
          )
        : runDirectionInference(mode, input, init, w, mask, d === 1)
      outs.push(y)
      hs.push(state.h)
      if (state.c) cs.push(state.c)
    }
    // D x (T, B, H) -> (T, B, D*H)
    input = D === 1 ? outs[0]! : concat(outs, 2)
    if (l < opts.numLayers - 1 && opts.dropout > 0) input = dropout(input, opts.dropout, opts.training)
  }
  return { output: input, hN: stack(hs, 0), cN: mode === 'LSTM' ? stack(cs, 0) : null }
}

/**
 * Check and normalise sequence lengths for a batch of B sequences of T steps: each must be an
 * integer in [1, T]. Unsorted lengths are fine (PyTorch's enforce_sorted = False).
 */
export function checkLengths(lengths: Tensor | ArrayLike<number>, T: number, B: number): Int32Array {
  const raw = 'shape' in lengths ? (lengths as Tensor) : null
  if (raw && raw.rank !== 1)
    throw new ShapeError(`sequence lengths must be 1-D (batch ${B}), got shape [${raw.shape.join(', ')}]`)
  const vals = raw ? raw.data : (lengths as ArrayLike<number>)
  if (vals.length !== B)
    throw new ShapeError(`expected ${B} sequence lengths (one per batch entry), got ${vals.length}`)
  const out = new Int32Array(B)
  for (let b = 0; b < B; b++) {
    const v = Number(vals[b])
    if (!Number.isInteger(v) || v < 1 || v > T)
      throw new ArgumentError(
        `sequence length ${b} must be an integer in [1, ${T}] (the padded sequence length), got ${v}`,
      )
    out[b] = v
  }
  return out
}

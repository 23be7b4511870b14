/**
 * RNNCell, GRUCell and LSTMCell: one time step, with PyTorch's parameter names (`weight_ih`,
 * `weight_hh`, `bias_ih`, `bias_hh`), layouts and gate orders (torch.nn.LSTMCell,
 * https://pytorch.org/docs/stable/generated/torch.nn.LSTMCell.html). Use them to write the time
 * loop yourself, as d2l's from-scratch chapters do (https://d2l.ai/chapter_recurrent-neural-networks/rnn-scratch.html).
 * Input x is (B, I) or unbatched (I); the state (B, H) or (H), zeros when omitted.
 * NOTE: LSTMCell takes (x, h, c) and returns [h', c'] where PyTorch takes and returns a tuple.
 */
import {
  type Tensor,
  ArgumentError,
  Module,
  Parameter,
  ShapeError,
  linear,
  rand,
  sameShape,
  zeros,
} from '@refnets/core'
import { type CellState, type RecurrentMode, GATES, cellStep } from './functional.js'

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`

abstract class CellBase<I extends unknown[], O> extends Module<I, O> {
  weight_ih: Parameter
  weight_hh: Parameter
  bias_ih: Parameter | null
  bias_hh: Parameter | null

  constructor(
    readonly mode: RecurrentMode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    bias = true,
    dtype: 'float32' | 'float64' = 'float32',
  ) {
    super()
    if (!Number.isInteger(inputSize) || inputSize < 1)
      throw new ArgumentError(`inputSize must be a positive integer, got ${inputSize}`)
    if (!Number.isInteger(hiddenSize) || hiddenSize < 1)
      throw new ArgumentError(`hiddenSize must be a positive integer, got ${hiddenSize}`)
    const k = 1 / Math.sqrt(hiddenSize)
    const G = GATES[mode] * hiddenSize
    const u = (shape: number[]) => new Parameter(rand(shape, { low: -k, high: k, dtype }))
    this.weight_ih = u([G, inputSize])
    this.weight_hh = u([G, hiddenSize])
    this.bias_ih = bias ? u([G]) : null
    this.bias_hh = bias ? u([G]) : null
  }

  /** Checks shapes and runs one step; x (B, I) or (I). */
  protected step(x: Tensor, h?: Tensor | null, c?: Tensor | null): CellState {
    const name = this.constructor.name
    if (x.rank !== 1 && x.rank !== 2)
      throw new ShapeError(
        `${name}: expected input of shape (B, ${this.inputSize}) or (${this.inputSize}), got ${fmt(x.shape)}`,
      )
    if (x.shape[x.rank - 1] !== this.inputSize)
      throw new ShapeError(
        `${name}: expected input size ${this.inputSize}, got ${x.shape[x.rank - 1]} in shape ${fmt(x.shape)}`,
      )
    const unbatched = x.rank === 1
    const xb = unbatched ? x.unsqueeze(0) : x
    const B = xb.shape[0]!
    const state = (s: Tensor | null | undefined, what: string): Tensor => {
      if (!s) return zeros([B, this.hiddenSize], { dtype: x.dtype })
      const want = unbatched ? [this.hiddenSize] : [B, this.hiddenSize]
      if (!sameShape(s.shape, want))
        throw new ShapeError(`${name}: expected ${what} of shape ${fmt(want)}, got ${fmt(s.shape)}`)
      return (unbatched ? s.unsqueeze(0) : s).to(x.dtype)
    }
    const init: CellState = { h: state(h, 'hidden state h'), c: this.mode === 'LSTM' ? state(c, 'cell state c') : null }
    // (B, I) -> (B, G*H)
    const xi = linear(xb, this.weight_ih, this.bias_ih)
    const out = cellStep(this.mode, xi, init, {
      wIh: this.weight_ih,
      wHh: this.weight_hh,
      bIh: this.bias_ih,
      bHh: this.bias_hh,
    })
    return unbatched ? { h: out.h.squeeze(0), c: out.c ? out.c.squeeze(0) : null } : out
  }
}

export interface CellOptions {
  bias?: boolean
  dtype?: 'float32' | 'float64'
}

/** h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu). */
export class RNNCell extends CellBase<[Tensor, (Tensor | null)?], Tensor> {
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions & { nonlinearity?: 'tanh' | 'relu' } = {}) {
    const nl = opts.nonlinearity ?? 'tanh'
    if (nl !== 'tanh' && nl !== 'relu')
      throw new ArgumentError(`RNNCell: nonlinearity must be 'tanh' or 'relu', got '${String(nl)}'`)
    super(nl === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, opts.bias, opts.dtype)
  }
  forward(x: Tensor, h?: Tensor | null): Tensor {
    return this.step(x, h).h
  }
}

/** One GRU step (gates r, z, n as in PyTorch). */
export class GRUCell extends CellBase<[Tensor, (Tensor | null)?], Tensor> {
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts.bias, opts.dtype)
  }
  forward(x: Tensor, h?: Tensor | null): Tensor {
    return this.step(x, h).h
  }
}

/** One LSTM step (gates i, f, g, o as in PyTorch); returns [h', c']. */
export class LSTMCell extends CellBase<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor[]> {
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts.bias, opts.dtype)
  }
  forward(x: Tensor, h?: Tensor | null, c?: Tensor | null): Tensor[] {
    const s = this.step(x, h, c)
    return [s.h, s.c!]
  }
}

/**
 * RNN, GRU and LSTM layers with PyTorch's API, parameter names and layouts (torch.nn.RNN/GRU/LSTM,
 * https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html), so a PyTorch state dict loads by
 * name: `weight_ih_l{k}` (G*H, I), `weight_hh_l{k}` (G*H, H), `bias_ih_l{k}`, `bias_hh_l{k}` (G*H),
 * with `_reverse` for the backward direction of a bidirectional layer.
 * - Elman 1990 (simple RNN): h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu.
 * - Hochreiter & Schmidhuber 1997 (LSTM, https://doi.org/10.1162/neco.1997.9.8.1735): gates
 *   i, f, o and a candidate g control a cell state c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t).
 * - Cho et al. 2014 (GRU, https://arxiv.org/abs/1406.1078): reset and update gates, no cell state.
 * Deep (numLayers) and bidirectional variants: https://d2l.ai/chapter_recurrent-modern/deep-rnn.html,
 * https://d2l.ai/chapter_recurrent-modern/bi-rnn.html.
 *
 * Call: RNN and GRU `forward(x, h0?, lengths?)` returns `[output, hN]`; LSTM
 * `forward(x, h0?, c0?, lengths?)` returns `[output, hN, cN]`.
 * NOTE: PyTorch returns (output, (h_n, c_n)) and takes hx as a tuple;
 * here states are flat arguments and results so that every layer is an ONNX-exportable module of
 * tensors. x is (T, B, I), or (B, T, I) with batchFirst, or unbatched (T, I); h0/c0 and the
 * returned states are (numLayers * D, B, H) as in PyTorch (batchFirst does not apply to them).
 * `lengths` (B valid lengths, 1..T) is the equivalent of a packed sequence: padded outputs are 0
 * and the states are those at each sequence's end.
 */
import {
  type Tensor,
  ArgumentError,
  Module,
  Parameter,
  ShapeError,
  applyMulti,
  rand,
  sameShape,
  transpose,
  zeros,
} from '@refnets/core'
import { type CellWeights, type RecurrentMode, GATES, checkLengths, recurrent } from './functional.js'
import { type LoweringAttrs, lowerRecurrent } from './onnx.js'

export interface RecurrentLayerOptions {
  numLayers?: number
  bias?: boolean
  batchFirst?: boolean
  /** Dropout on the outputs of each layer except the last, in training mode. */
  dropout?: number
  bidirectional?: boolean
  dtype?: 'float32' | 'float64'
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`

/** Sequence lengths: an int32 tensor (B) or plain numbers. */
export type Lengths = Tensor | ArrayLike<number>

export abstract class RecurrentBase<I extends unknown[] = any[]> extends Module<I, Tensor[]> {
  readonly numLayers: number
  readonly bias: boolean
  readonly batchFirst: boolean
  readonly dropout: number
  readonly bidirectional: boolean

  constructor(
    readonly mode: RecurrentMode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    opts: RecurrentLayerOptions = {},
  ) {
    super()
    const { numLayers = 1, bias = true, batchFirst = false, dropout = 0, bidirectional = false } = opts
    const dtype = opts.dtype ?? 'float32'
    if (!Number.isInteger(inputSize) || inputSize < 1)
      throw new ArgumentError(`inputSize must be a positive integer, got ${inputSize}`)
    if (!Number.isInteger(hiddenSize) || hiddenSize < 1)
      throw new ArgumentError(`hiddenSize must be a positive integer, got ${hiddenSize}`)
    if (!Number.isInteger(numLayers) || numLayers < 1)
      throw new ArgumentError(`numLayers must be a positive integer, got ${numLayers}`)
    if (!(dropout >= 0 && dropout < 1)) throw new ArgumentError(`dropout must be in [0, 1), got ${dropout}`)
    this.numLayers = numLayers
    this.bias = bias
    this.batchFirst = batchFirst
    this.dropout = dropout
    this.bidirectional = bidirectional
    // PyTorch's initialisation: every weight and bias U(-1/sqrt(H), 1/sqrt(H)).
    const k = 1 / Math.sqrt(hiddenSize)
    const G = GATES[mode]
    const D = bidirectional ? 2 : 1
    for (let l = 0; l < numLayers; l++)
      for (let d = 0; d < D; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`
        const I = l === 0 ? inputSize : hiddenSize * D
        const self = this as unknown as Record<string, Parameter>
        self[`weight_ih${sfx}`] = new Parameter(rand([G * hiddenSize, I], { low: -k, high: k, dtype }))
        self[`weight_hh${sfx}`] = new Parameter(rand([G * hiddenSize, hiddenSize], { low: -k, high: k, dtype }))
        if (bias) {
          self[`bias_ih${sfx}`] = new Parameter(rand([G * hiddenSize], { low: -k, high: k, dtype }))
          self[`bias_hh${sfx}`] = new Parameter(rand([G * hiddenSize], { low: -k, high: k, dtype }))
        }
      }
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1
  }

  /** The weights of layer l, direction d (0 forward, 1 reverse). */
  cellWeights(l: number, d: number): CellWeights {
    const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`
    const self = this as unknown as Record<string, Parameter | undefined>
    return {
      wIh: self[`weight_ih${sfx}`]!,
      wHh: self[`weight_hh${sfx}`]!,
      bIh: self[`bias_ih${sfx}`] ?? null,
      bHh: self[`bias_hh${sfx}`] ?? null,
    }
  }

  protected checkState(name: string, s: Tensor, B: number, unbatched: boolean): Tensor {
    const LD = this.numLayers * this.numDirections
    const want = unbatched ? [LD, this.hiddenSize] : [LD, B, this.hiddenSize]
    if (!sameShape(s.shape, want))
      throw new ShapeError(
        `${this.constructor.name}: expected ${name} of shape ${fmt(want)} (numLayers * directions, batch, hiddenSize), got ${fmt(s.shape)}`,
      )
    return unbatched ? s.unsqueeze(1) : s
  }

  /**
   * The forward pass of every mode: RNN and GRU take no c0. Subclasses' `forward` has PyTorch's
   * argument list for their mode; models that hold any of the three call this.
   */
  forwardStates(x: Tensor, h0?: Tensor | null, c0?: Tensor | null, lengths?: Lengths | null): Tensor[] {
    const name = this.constructor.name
    if (x.rank !== 2 && x.rank !== 3)
      throw new ShapeError(
        `${name}: expected input of rank 3 (${this.batchFirst ? 'B, T, I' : 'T, B, I'}) or 2 (T, I), got shape ${fmt(x.shape)}`,
      )
    if (x.shape[x.rank - 1] !== this.inputSize)
      throw new ShapeError(
        `${name}: expected input size ${this.inputSize} (last dim), got ${x.shape[x.rank - 1]} in shape ${fmt(x.shape)}`,
      )
    if (this.mode !== 'LSTM' && c0) throw new ArgumentError(`${name} has no cell state; pass c0 only to an LSTM`)
    const unbatched = x.rank === 2
    // (B, T, I) or (T, I) -> (T, B, I)
    const xt = unbatched ? x.unsqueeze(1) : this.batchFirst ? transpose(x, 0, 1) : x
    const [T, B] = xt.shape as [number, number]
    if (T === 0) throw new ShapeError(`${name}: the input has no time steps (shape ${fmt(x.shape)})`)
    const h = h0 ? this.checkState('h0', h0, B, unbatched).to(x.dtype) : null
    const c = c0 ? this.checkState('c0', c0, B, unbatched).to(x.dtype) : null
    const lens = lengths === undefined || lengths === null ? null : checkLengths(lengths, T, B)
    const weights: CellWeights[] = []
    for (let l = 0; l < this.numLayers; l++)
      for (let d = 0; d < this.numDirections; d++) weights.push(this.cellWeights(l, d))
    const params = weights.flatMap((w) => (w.bIh && w.bHh ? [w.wIh, w.wHh, w.bIh, w.bHh] : [w.wIh, w.wHh]))
    const lensTensor = lens
      ? lengths && 'shape' in lengths
        ? (lengths as Tensor)
        : zeros([B], { dtype: 'int32' })
      : null
    if (lensTensor && !('shape' in lengths!)) (lensTensor.storage as Int32Array).set(lens!)
    const attrs: LoweringAttrs = {
      mode: this.mode,
      hiddenSize: this.hiddenSize,
      numLayers: this.numLayers,
      bidirectional: this.bidirectional,
      batchFirst: this.batchFirst && !unbatched,
      bias: this.bias,
      hasH0: !!h,
      hasC0: !!c,
      hasLengths: !!lensTensor,
    }
    const states = [...(h ? [h] : []), ...(c ? [c] : []), ...(lensTensor ? [lensTensor] : [])]
    const inputs = [unbatched ? xt : x, ...states, ...params]
    // Keyed by the ONNX op type: RNN for both nonlinearities.
    const key = this.mode === 'GRU' || this.mode === 'LSTM' ? this.mode : 'RNN'
    const outs = applyMulti({ name: key, onnx: lowerRecurrent }, inputs, attrs, () => {
      const r = recurrent(this.mode, xt, h, c, weights, {
        numLayers: this.numLayers,
        bidirectional: this.bidirectional,
        dropout: this.dropout,
        training: this.training,
        lengths: lens,
      })
      // (T, B, D*H) -> (B, T, D*H) for batchFirst
      const out = this.batchFirst && !unbatched ? transpose(r.output, 0, 1) : r.output
      return r.cN ? [out, r.hN, r.cN] : [out, r.hN]
    })
    return unbatched ? outs.map((t) => t.squeeze(1)) : outs
  }
}

type HiddenArgs = [Tensor, (Tensor | null)?, (Lengths | null)?]
type LstmArgs = [Tensor, (Tensor | null)?, (Tensor | null)?, (Lengths | null)?]

/** Elman RNN; `nonlinearity` 'tanh' (default) or 'relu'. forward(x, h0?, lengths?) -> [output, h_n]. */
export class RNN extends RecurrentBase<HiddenArgs> {
  constructor(
    inputSize: number,
    hiddenSize: number,
    opts: RecurrentLayerOptions & { nonlinearity?: 'tanh' | 'relu' } = {},
  ) {
    const nl = opts.nonlinearity ?? 'tanh'
    if (nl !== 'tanh' && nl !== 'relu')
      throw new ArgumentError(`RNN: nonlinearity must be 'tanh' or 'relu', got '${String(nl)}'`)
    super(nl === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, opts)
  }
  forward(x: Tensor, h0?: Tensor | null, lengths?: Lengths | null): Tensor[] {
    return this.forwardStates(x, h0, null, lengths)
  }
}

/** forward(x, h0?, lengths?) -> [output, h_n]. */
export class GRU extends RecurrentBase<HiddenArgs> {
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentLayerOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts)
  }
  forward(x: Tensor, h0?: Tensor | null, lengths?: Lengths | null): Tensor[] {
    return this.forwardStates(x, h0, null, lengths)
  }
}

/** forward(x, h0?, c0?, lengths?) -> [output, h_n, c_n]. */
export class LSTM extends RecurrentBase<LstmArgs> {
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentLayerOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts)
  }
  forward(x: Tensor, h0?: Tensor | null, c0?: Tensor | null, lengths?: Lengths | null): Tensor[] {
    return this.forwardStates(x, h0, c0, lengths)
  }
}

/**
 * Recurrent language model (https://d2l.ai/chapter_recurrent-neural-networks/rnn-concise.html;
 * Mikolov et al. 2010, https://www.isca-archive.org/interspeech_2010/mikolov10_interspeech.html):
 * token ids -> embedding -> RNN/GRU/LSTM -> linear map of every hidden state to next-token logits.
 * Trained with cross-entropy on the next token; evaluated by perplexity. `numLayers` and
 * `bidirectional` give the deep and bidirectional variants (a bidirectional model sees the future,
 * so it is only a sanity check of the layer, not a usable language model).
 */
import { type Tensor, ArgumentError, Module, nn, select, stack } from '@refnets/core'
import { GRUCell, LSTMCell, RNNCell } from '../layers/cells.js'
import { GRU, LSTM, RNN, type RecurrentBase, type RecurrentLayerOptions } from '../layers/rnn.js'

export type CellKind = 'rnn' | 'gru' | 'lstm'

export interface RnnLmOptions extends RecurrentLayerOptions {
  cell?: CellKind
  embedDim?: number
}

export function makeRecurrent(
  cell: CellKind,
  inputSize: number,
  hiddenSize: number,
  opts: RecurrentLayerOptions = {},
): RecurrentBase {
  if (cell === 'rnn') return new RNN(inputSize, hiddenSize, opts)
  if (cell === 'gru') return new GRU(inputSize, hiddenSize, opts)
  if (cell === 'lstm') return new LSTM(inputSize, hiddenSize, opts)
  throw new ArgumentError(`cell must be 'rnn', 'gru' or 'lstm', got '${String(cell)}'`)
}

export class RnnLM extends Module<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor[]> {
  embedding: nn.Embedding
  rnn: RecurrentBase
  output: nn.Linear

  constructor(
    readonly vocabSize: number,
    readonly hiddenSize: number,
    { cell = 'lstm', embedDim = 32, dtype = 'float32', ...rest }: RnnLmOptions = {},
  ) {
    super()
    this.embedding = new nn.Embedding(vocabSize, embedDim, { dtype })
    this.rnn = makeRecurrent(cell, embedDim, hiddenSize, { ...rest, batchFirst: true, dtype })
    this.output = new nn.Linear(hiddenSize * this.rnn.numDirections, vocabSize, { dtype })
  }

  /** ids (B, T) int32 -> [logits (B, T, V), h_n, (c_n)]; pass the returned states back to continue. */
  forward(ids: Tensor, h0?: Tensor | null, c0?: Tensor | null): Tensor[] {
    // (B, T) -> (B, T, E) -> (B, T, D*H) -> (B, T, V)
    const [y, ...state] = this.rnn.forwardStates(this.embedding.call(ids), h0, c0)
    return [this.output.call(y!), ...state]
  }
}

/**
 * The same language model written "from scratch" (https://d2l.ai/chapter_recurrent-neural-networks/rnn-scratch.html):
 * the time loop is spelled out over a cell, one step at a time. It computes what `RnnLM` with one
 * layer computes (the cell's `weight_ih` is the layer's `weight_ih_l0`), more slowly: each step's
 * input projection is its own GEMM and autograd records every step's ops.
 */
export class CellLM extends Module<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor[]> {
  embedding: nn.Embedding
  cell: RNNCell | GRUCell | LSTMCell
  output: nn.Linear

  constructor(
    readonly vocabSize: number,
    readonly hiddenSize: number,
    { cell = 'lstm', embedDim = 32, dtype = 'float32' }: RnnLmOptions = {},
  ) {
    super()
    this.embedding = new nn.Embedding(vocabSize, embedDim, { dtype })
    this.cell =
      cell === 'lstm'
        ? new LSTMCell(embedDim, hiddenSize, { dtype })
        : cell === 'gru'
          ? new GRUCell(embedDim, hiddenSize, { dtype })
          : new RNNCell(embedDim, hiddenSize, { dtype })
    this.output = new nn.Linear(hiddenSize, vocabSize, { dtype })
  }

  /** ids (B, T) -> [logits (B, T, V), h (1, B, H), (c (1, B, H))], states shaped like RnnLM's. */
  forward(ids: Tensor, h0?: Tensor | null, c0?: Tensor | null): Tensor[] {
    const T = ids.shape[1]!
    // (B, T) -> (B, T, E)
    const x = this.embedding.call(ids)
    let h = h0 ? select(h0, 0, 0) : null
    let c = c0 ? select(c0, 0, 0) : null
    const ys: Tensor[] = []
    for (let t = 0; t < T; t++) {
      // (B, E) -> (B, H)
      const xt = select(x, 1, t)
      if (this.cell instanceof LSTMCell) [h, c] = this.cell.call(xt, h, c) as [Tensor, Tensor]
      else h = this.cell.call(xt, h)
      ys.push(h!)
    }
    // T x (B, H) -> (B, T, H) -> (B, T, V)
    const logits = this.output.call(stack(ys, 1))
    return this.cell instanceof LSTMCell ? [logits, h!.unsqueeze(0), c!.unsqueeze(0)] : [logits, h!.unsqueeze(0)]
  }
}

/**
 * Encoder-decoder for sequence-to-sequence learning (Sutskever et al. 2014,
 * https://arxiv.org/abs/1409.3215; Cho et al. 2014, https://arxiv.org/abs/1406.1078; d2l
 * https://d2l.ai/chapter_recurrent-modern/seq2seq.html). The GRU encoder reads the source; its
 * final state initialises the decoder, and its top layer's final state (the context c) is appended
 * to every decoder input. Training uses teacher forcing: the decoder reads `<bos>` followed by the
 * target shifted right, and the loss is cross-entropy masked to each target's valid length.
 * Only the valid (non-pad) positions go through the output layer and the softmax
 * (`Seq2Seq.maskedLoss`): with a vocabulary of thousands of words the projection dominates the cost
 * of a step, and padding is about half of the positions of a batch of short sentences.
 */
import {
  type Tensor,
  ArgumentError,
  DTypeError,
  Module,
  ShapeError,
  Tensor as T,
  concat,
  crossEntropy,
  nn,
  select,
} from '@refnets/core'
import { GRU } from '../layers/rnn.js'

export interface Seq2SeqOptions {
  embedDim?: number
  numHiddens?: number
  numLayers?: number
  dropout?: number
  dtype?: 'float32' | 'float64'
}

/** Embedding + GRU over source ids (B, T) -> [outputs (B, T, H), state (L, B, H)]. */
export class Seq2SeqEncoder extends Module<[Tensor, (Tensor | ArrayLike<number> | null)?], Tensor[]> {
  embedding: nn.Embedding
  rnn: GRU

  constructor(
    vocabSize: number,
    { embedDim = 32, numHiddens = 64, numLayers = 2, dropout = 0, dtype = 'float32' }: Seq2SeqOptions = {},
  ) {
    super()
    this.embedding = new nn.Embedding(vocabSize, embedDim, { dtype })
    this.rnn = new GRU(embedDim, numHiddens, { numLayers, dropout, batchFirst: true, dtype })
  }

  forward(src: Tensor, validLens?: Tensor | ArrayLike<number> | null): Tensor[] {
    // (B, T) -> (B, T, E) -> (B, T, H), (L, B, H)
    return this.rnn.call(this.embedding.call(src), null, validLens ?? null)
  }
}

/** Embedding + context + GRU + linear: target-side ids (B, T) and a state -> [logits (B, T, V), state]. */
export class Seq2SeqDecoder extends Module<[Tensor, Tensor, Tensor], Tensor[]> {
  embedding: nn.Embedding
  rnn: GRU
  dense: nn.Linear

  constructor(
    vocabSize: number,
    { embedDim = 32, numHiddens = 64, numLayers = 2, dropout = 0, dtype = 'float32' }: Seq2SeqOptions = {},
  ) {
    super()
    this.embedding = new nn.Embedding(vocabSize, embedDim, { dtype })
    this.rnn = new GRU(embedDim + numHiddens, numHiddens, { numLayers, dropout, batchFirst: true, dtype })
    this.dense = new nn.Linear(numHiddens, vocabSize, { dtype })
  }

  /** The top GRU layer's outputs (B, T, H) and the final state, before the output layer. */
  hidden(tgt: Tensor, state: Tensor, context: Tensor): Tensor[] {
    const [B, T] = tgt.shape as [number, number]
    // (B, T) -> (B, T, E); context (B, H) -> (B, T, H); concat -> (B, T, E + H)
    const emb = this.embedding.call(tgt)
    const ctx = context.unsqueeze(1).expand(B, T, context.shape[1]!)
    const [y, s] = this.rnn.call(concat([emb, ctx], 2), state)
    return [y!, s!]
  }

  /** `context` is the encoder's top-layer final state (B, H), fixed for the whole decoding. */
  forward(tgt: Tensor, state: Tensor, context: Tensor): Tensor[] {
    const [y, s] = this.hidden(tgt, state, context)
    // (B, T, H) -> (B, T, V)
    return [this.dense.call(y!), s!]
  }
}

export class Seq2Seq extends Module<[Tensor, Tensor, (Tensor | ArrayLike<number> | null)?], Tensor> {
  encoder: Seq2SeqEncoder
  decoder: Seq2SeqDecoder

  constructor(srcVocab: number, tgtVocab: number, opts: Seq2SeqOptions = {}) {
    super()
    this.encoder = new Seq2SeqEncoder(srcVocab, opts)
    this.decoder = new Seq2SeqDecoder(tgtVocab, opts)
  }

  /** Encode the source; returns the decoder's initial state and the context. */
  encode(src: Tensor, srcLens?: Tensor | ArrayLike<number> | null): { state: Tensor; context: Tensor } {
    const [, state] = this.encoder.call(src, srcLens)
    return { state: state!, context: select(state!, 0, state!.shape[0]! - 1) }
  }

  /** Teacher forcing: decoder inputs (B, T) (`<bos>` + target shifted) -> logits (B, T, V). */
  forward(src: Tensor, decIn: Tensor, srcLens?: Tensor | ArrayLike<number> | null): Tensor {
    const { state, context } = this.encode(src, srcLens)
    return this.decoder.call(decIn, state, context)[0]!
  }

  /**
   * The training loss without the logits of padded positions: the decoder's hidden states at the
   * valid positions (t < tgtLens[b]) are gathered into (N, H) rows, and only those go through the
   * output layer and the cross-entropy, averaged over the N tokens. Equal, value and gradient, to
   * `maskedCrossEntropy(this.call(src, decIn, srcLens), targets, tgtLens)`.
   */
  maskedLoss(
    src: Tensor,
    decIn: Tensor,
    targets: Tensor,
    tgtLens: ArrayLike<number>,
    srcLens?: Tensor | ArrayLike<number> | null,
  ): Tensor {
    const { state, context } = this.encode(src, srcLens)
    const [y] = this.decoder.hidden(decIn, state, context)
    const [B, Tn, H] = y!.shape as [number, number, number]
    const { rows, labels } = validPositions('maskedLoss', targets, tgtLens, B, Tn)
    if (rows.length === 0) return y!.sum().mul(0)
    const h = y!.reshape(B * Tn, H).gather(0, new T(rows, [rows.length]))
    return crossEntropy(this.decoder.dense.call(h), new T(labels, [labels.length]))
  }
}

/**
 * Flat indices b * T + t of the valid positions (t < validLens[b]) of a (B, T) target batch, and
 * the targets there.
 */
function validPositions(
  op: string,
  targets: Tensor,
  validLens: ArrayLike<number>,
  B: number,
  T: number,
): { rows: Int32Array; labels: Int32Array } {
  if (targets.rank !== 2 || targets.shape[0] !== B || targets.shape[1] !== T)
    throw new ShapeError(`${op}: targets must be (${B}, ${T}), got (${targets.shape.join(', ')})`)
  if (targets.dtype !== 'int32') throw new DTypeError(`${op}: targets must be int32, got ${targets.dtype}`)
  if (validLens.length !== B) throw new ArgumentError(`${op}: ${validLens.length} valid lengths for a batch of ${B}`)
  let n = 0
  for (let b = 0; b < B; b++) {
    const l = validLens[b]!
    if (!Number.isInteger(l) || l < 0)
      throw new ArgumentError(`${op}: valid lengths must be non-negative integers, got ${l}`)
    n += Math.min(T, l)
  }
  const rows = new Int32Array(n)
  const labels = new Int32Array(n)
  const t = targets.data as Int32Array
  let k = 0
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Math.min(T, validLens[b]!); i++) {
      rows[k] = b * T + i
      labels[k++] = t[b * T + i]!
    }
  return { rows, labels }
}

/**
 * Cross-entropy averaged over the valid target tokens only (d2l's MaskedSoftmaxCELoss, averaged per
 * token rather than per sequence): logits (B, T, V), targets (B, T) int32, validLens (B). The
 * padded rows are dropped before the softmax, so they cost nothing and get a zero gradient; 0 when
 * no position is valid.
 */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, validLens: ArrayLike<number>): Tensor {
  if (logits.rank !== 3)
    throw new ShapeError(`maskedCrossEntropy: logits must be (B, T, V), got (${logits.shape.join(', ')})`)
  const [B, Tn, V] = logits.shape as [number, number, number]
  const { rows, labels } = validPositions('maskedCrossEntropy', targets, validLens, B, Tn)
  if (rows.length === 0) return logits.sum().mul(0)
  const picked = logits.reshape(B * Tn, V).gather(0, new T(rows, [rows.length]))
  return crossEntropy(picked, new T(labels, [labels.length]))
}

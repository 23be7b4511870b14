/**
 * Encoder-decoder for sequence-to-sequence learning (Sutskever et al. 2014,
 * https://arxiv.org/abs/1409.3215; Cho et al. 2014, https://arxiv.org/abs/1406.1078; d2l
 * https://d2l.ai/chapter_recurrent-modern/seq2seq.html). The GRU encoder reads the source; its
 * final state initialises the decoder, and its top layer's final state (the context c) is appended
 * to every decoder input. Training uses teacher forcing: the decoder reads `<bos>` followed by the
 * target shifted right, and the loss is cross-entropy masked to each target's valid length.
 */
import { type Tensor, Module, concat, crossEntropy, fromValues, nn, select } from '@refnets/core'
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

  /** `context` is the encoder's top-layer final state (B, H), fixed for the whole decoding. */
  forward(tgt: Tensor, state: Tensor, context: Tensor): Tensor[] {
    const [B, T] = tgt.shape as [number, number]
    // (B, T) -> (B, T, E); context (B, H) -> (B, T, H); concat -> (B, T, E + H)
    const emb = this.embedding.call(tgt)
    const ctx = context.unsqueeze(1).expand(B, T, context.shape[1]!)
    const [y, s] = this.rnn.call(concat([emb, ctx], 2), state)
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
}

/**
 * Cross-entropy averaged over the valid target tokens only (d2l's MaskedSoftmaxCELoss, averaged per
 * token rather than per sequence): logits (B, T, V), targets (B, T) int32, validLens (B).
 */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, validLens: ArrayLike<number>): Tensor {
  const [B, T, V] = logits.shape as [number, number, number]
  const w = new Float64Array(B * T)
  let n = 0
  for (let b = 0; b < B; b++)
    for (let t = 0; t < Math.min(T, validLens[b]!); t++) {
      w[b * T + t] = 1
      n++
    }
  const per = crossEntropy(logits.reshape(B * T, V), targets.reshape(B * T), { reduction: 'none' })
  return per
    .mul(fromValues(logits.dtype, [B * T], w))
    .sum()
    .div(Math.max(n, 1))
}

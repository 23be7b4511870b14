/**
 * An encoder-decoder Transformer for sequence-to-sequence tasks such as translation (Vaswani et al.
 * 2017, https://arxiv.org/abs/1706.03762; d2l.ai 11.7,
 * https://d2l.ai/chapter_attention-mechanisms-and-transformers/transformer.html): token embeddings
 * scaled by sqrt(d_model) plus sinusoidal positions feed `Transformer` (batch-first), and a linear
 * layer maps the decoder's output to target-vocabulary logits.
 *
 * Training runs the decoder over the whole shifted target at once under a causal mask; inference
 * decodes one token at a time with `decodeStep`, whose per-layer key/value caches make each step
 * cost the new token only (the result equals the full causal forward's last row).
 */
import { ArgumentError, Module, ShapeError, type Tensor, Tensor as T, fmt, gather, nn } from '@refnets/core'
import { KVCache } from '../layers/multihead-attention.js'
import { PositionalEncoding } from '../layers/positional-encoding.js'
import { Transformer, causalMask } from '../layers/transformer.js'

export interface TransformerSeq2SeqOptions {
  /** Model width (default 128). */
  dModel?: number
  /** Attention heads (default 4). */
  nhead?: number
  numEncoderLayers?: number
  numDecoderLayers?: number
  /** Feed-forward width (default 4 * dModel). */
  dimFeedforward?: number
  /** Dropout after the positional encoding, in attention and in every residual branch (default 0.1). */
  dropout?: number
  /** Longest source or target the position table covers (default 128). */
  maxLen?: number
  /** Pre-norm layers (default true): they train without a long warm-up. */
  normFirst?: boolean
  dtype?: 'float32' | 'float64'
}

/** What the decoder needs from the encoder: its output and the source padding mask. */
export interface EncoderOutput {
  /** (B, S, dModel) */
  memory: Tensor
  /** (B, S) bool, true at the padding positions of the source. */
  memoryKeyPaddingMask: Tensor
}

/** The state of an incremental decode: the encoder's output and one self-attention cache per decoder layer. */
export interface DecodeState extends EncoderOutput {
  caches: KVCache[]
}

/** A (B, S) bool mask, true at positions >= the row's valid length. */
export function keyPaddingMaskFromLengths(validLens: readonly number[], steps: number): Tensor {
  const data = new Uint8Array(validLens.length * steps)
  validLens.forEach((n, b) => {
    if (!(Number.isInteger(n) && n >= 1 && n <= steps))
      throw new ArgumentError(
        `keyPaddingMaskFromLengths: valid lengths must be integers in [1, ${steps}], got ${n} in row ${b}`,
      )
    data.fill(1, b * steps + n, (b + 1) * steps)
  })
  return new T(data, [validLens.length, steps])
}

export class TransformerSeq2Seq extends Module<[Tensor, Tensor, readonly number[]], Tensor> {
  srcEmbedding: nn.Embedding
  tgtEmbedding: nn.Embedding
  positional: PositionalEncoding
  transformer: Transformer
  /** dModel -> target vocabulary logits. */
  generator: nn.Linear
  readonly dModel: number
  private readonly scale: number

  constructor(
    readonly srcVocabSize: number,
    readonly tgtVocabSize: number,
    opts: TransformerSeq2SeqOptions = {},
  ) {
    super()
    const {
      dModel = 128,
      nhead = 4,
      numEncoderLayers = 2,
      numDecoderLayers = 2,
      dimFeedforward = 4 * dModel,
      dropout = 0.1,
      maxLen = 128,
      normFirst = true,
      dtype = 'float32',
    } = opts
    for (const [k, v] of Object.entries({ srcVocabSize, tgtVocabSize, dModel }))
      if (!(Number.isInteger(v) && v >= 1))
        throw new ArgumentError(`TransformerSeq2Seq: ${k} must be a positive integer, got ${v}`)
    this.dModel = dModel
    this.scale = Math.sqrt(dModel)
    // Embeddings N(0, 1/dModel), so that after the sqrt(dModel) scale they are of the order of
    // the positional encoding (unit variance), as fairseq and tensor2tensor initialise them.
    const embedding = (n: number) => {
      const e = new nn.Embedding(n, dModel, { dtype })
      nn.normal_(e.weight, 0, 1 / Math.sqrt(dModel))
      return e
    }
    this.srcEmbedding = embedding(srcVocabSize)
    this.tgtEmbedding = embedding(tgtVocabSize)
    this.positional = new PositionalEncoding(dModel, dropout, maxLen, dtype)
    this.transformer = new Transformer({
      dModel,
      nhead,
      numEncoderLayers,
      numDecoderLayers,
      dimFeedforward,
      dropout,
      normFirst,
      batchFirst: true,
      dtype,
    })
    this.generator = new nn.Linear(dModel, tgtVocabSize, { dtype })
  }

  private embed(table: nn.Embedding, ids: Tensor, offset = 0): Tensor {
    // (B, T) -> (B, T, d): E[ids] * sqrt(d) + P[offset : offset + T], then dropout
    const x = table.call(ids).mul(this.scale)
    if (offset === 0) return this.positional.call(x)
    const steps = ids.shape[1]!
    if (offset + steps > this.positional.maxLen)
      throw new ArgumentError(
        `TransformerSeq2Seq: step ${offset + steps} is past the position table; expected at most ${this.positional.maxLen} steps`,
      )
    return this.positional.dropout.call(x.add(this.positional.P.slice(0, offset, offset + steps)))
  }

  private checkIds(name: string, ids: Tensor, vocabSize: number): void {
    if (ids.dtype !== 'int32' || ids.rank !== 2)
      throw new ShapeError(
        `TransformerSeq2Seq: expected ${name} ids (batch, steps) int32, got ${ids.dtype} ${fmt(ids.shape)}`,
      )
    for (const v of ids.data as Int32Array)
      if (v < 0 || v >= vocabSize)
        throw new ArgumentError(`TransformerSeq2Seq: ${name} id ${v} is outside the vocabulary [0, ${vocabSize})`)
  }

  /** Encode source ids (B, S) int32 whose rows have `srcValidLens` real tokens (the rest padding). */
  encode(src: Tensor, srcValidLens: readonly number[]): EncoderOutput {
    this.checkIds('source', src, this.srcVocabSize)
    if (srcValidLens.length !== src.shape[0])
      throw new ShapeError(
        `TransformerSeq2Seq.encode: expected ${src.shape[0]} valid lengths (one per row), got ${srcValidLens.length}`,
      )
    const memoryKeyPaddingMask = keyPaddingMaskFromLengths(srcValidLens, src.shape[1]!)
    const memory = this.transformer.encoder.call(this.embed(this.srcEmbedding, src), {
      srcKeyPaddingMask: memoryKeyPaddingMask,
    })
    return { memory, memoryKeyPaddingMask }
  }

  /** The decoder's output (B, T, d) for target inputs (B, T) (`<bos>` then the target shifted right), under a causal mask. */
  decodeHidden(tgtIn: Tensor, enc: EncoderOutput): Tensor {
    this.checkIds('target', tgtIn, this.tgtVocabSize)
    return this.transformer.decoder.call(this.embed(this.tgtEmbedding, tgtIn), enc.memory, {
      tgtMask: causalMask(tgtIn.shape[1]!),
      memoryKeyPaddingMask: enc.memoryKeyPaddingMask,
    })
  }

  /** Logits (B, T, V) for source ids (B, S), target inputs (B, T) and the sources' valid lengths. */
  forward(src: Tensor, tgtIn: Tensor, srcValidLens: readonly number[]): Tensor {
    return this.generator.call(this.decodeHidden(tgtIn, this.encode(src, srcValidLens)))
  }

  /**
   * Logits (N, V) at N chosen positions only: `rows` index the flattened (B * T) decoder outputs
   * (row b * T + t). Training on the non-padding target positions this way skips the vocabulary
   * projection of the padding.
   */
  logitsAt(src: Tensor, tgtIn: Tensor, srcValidLens: readonly number[], rows: readonly number[]): Tensor {
    const h = this.decodeHidden(tgtIn, this.encode(src, srcValidLens))
    const [B, Tn] = h.shape as [number, number]
    for (const r of rows)
      if (!(Number.isInteger(r) && r >= 0 && r < B * Tn))
        throw new ArgumentError(`TransformerSeq2Seq.logitsAt: rows must index [0, ${B * Tn}), got ${r}`)
    const picked = gather(h.reshape(B * Tn, this.dModel), 0, new T(Int32Array.from(rows), [rows.length]))
    return this.generator.call(picked)
  }

  /** A fresh incremental-decode state for an encoded batch. */
  initState(enc: EncoderOutput): DecodeState {
    return { ...enc, caches: this.transformer.decoder.layers.map(() => new KVCache()) }
  }

  /**
   * One decoding step: the next tokens (B) int32 after the steps in `state` -> logits (B, V) and the
   * state with this step appended. `state` itself is left as it was (the caches are copied, their
   * tensors shared), so beam search can extend one state along several branches.
   */
  decodeStep(tokens: Tensor, state: DecodeState): { logits: Tensor; state: DecodeState } {
    const B = state.memory.shape[0]!
    if (tokens.rank !== 1 || tokens.shape[0] !== B)
      throw new ShapeError(`TransformerSeq2Seq.decodeStep: expected tokens [${B}], got ${fmt(tokens.shape)}`)
    const ids = tokens.reshape(B, 1)
    this.checkIds('target', ids, this.tgtVocabSize)
    const caches = state.caches.map((c) => {
      const n = new KVCache()
      n.k = c.k
      n.v = c.v
      return n
    })
    const x = this.embed(this.tgtEmbedding, ids, caches[0]?.length ?? 0)
    const h = this.transformer.decoder.forwardIncremental(x, state.memory, caches, {
      memoryKeyPaddingMask: state.memoryKeyPaddingMask,
    })
    // (B, 1, d) -> (B, V)
    return { logits: this.generator.call(h.reshape(B, this.dModel)), state: { ...state, caches } }
  }
}

/**
 * BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805; d2l.ai 15.8,
 * https://d2l.ai/chapter_natural-language-processing-pretraining/bert.html) with Hugging Face
 * `BertModel`'s module tree and state-dict names (`embeddings.word_embeddings`,
 * `encoder.layer.N.attention.self.query`, `pooler.dense`, ...), so a converted checkpoint loads by
 * name. The input is the sum of token, segment (token type) and learned position embeddings; the
 * encoder is a stack of post-norm Transformer encoder layers with GELU (erf) and LayerNorm eps
 * 1e-12; the pooler maps the [CLS] vector through a tanh layer for sentence-level tasks.
 */
import {
  ArgumentError,
  DTypeError,
  Module,
  ShapeError,
  type Tensor,
  arange,
  defaultGenerator as gen,
  fmt,
  gelu,
  nn,
} from '@refnets/core'
import { scaledDotProductAttention } from '../layers/dot-product-attention.js'

export interface BertConfig {
  vocabSize: number
  hiddenSize: number
  numHiddenLayers: number
  numAttentionHeads: number
  intermediateSize: number
  hiddenDropoutProb: number
  attentionProbsDropoutProb: number
  maxPositionEmbeddings: number
  typeVocabSize: number
  layerNormEps: number
  /** Std of the N(0, std^2) initialisation of linear and embedding weights. */
  initializerRange: number
  dtype?: 'float32' | 'float64'
}

/** bert-base-uncased: 12 layers, hidden 768, 12 heads, 110M parameters. */
export const BERT_BASE: BertConfig = {
  vocabSize: 30522,
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
  hiddenDropoutProb: 0.1,
  attentionProbsDropoutProb: 0.1,
  maxPositionEmbeddings: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  initializerRange: 0.02,
}

/** d2l's small BERT: 2 layers, hidden 128, 2 heads, feed-forward 256. */
export const BERT_SMALL: BertConfig = {
  ...BERT_BASE,
  hiddenSize: 128,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 256,
  maxPositionEmbeddings: 128,
}

/** Hugging Face's _init_weights: linear and embedding weights N(0, initializerRange^2), biases 0, LayerNorm 1/0. */
export function initBertWeights(m: Module<any, any>, std: number): void {
  for (const [, mod] of m.namedModules()) {
    if (mod instanceof nn.Linear) {
      gen.normalFill(mod.weight.storage, 0, std)
      mod.bias?.storage.fill(0)
    } else if (mod instanceof nn.Embedding) {
      gen.normalFill(mod.weight.storage, 0, std)
    }
  }
}

function checkIds(what: string, ids: Tensor, limit: number, limitName: string): void {
  if (ids.dtype !== 'int32') throw new DTypeError(`${what} must be int32, got ${ids.dtype}`)
  const d = ids.data as Int32Array
  for (let i = 0; i < d.length; i++)
    if (d[i]! < 0 || d[i]! >= limit)
      throw new ArgumentError(`${what}: expected ids in [0, ${limit}) (${limitName}), got ${d[i]} at flat index ${i}`)
}

export class BertEmbeddings extends Module<[Tensor, Tensor?], Tensor> {
  word_embeddings: nn.Embedding
  position_embeddings: nn.Embedding
  token_type_embeddings: nn.Embedding
  LayerNorm: nn.LayerNorm
  dropout: nn.Dropout

  constructor(readonly config: BertConfig) {
    super()
    const { vocabSize, hiddenSize, maxPositionEmbeddings, typeVocabSize, layerNormEps, dtype = 'float32' } = config
    this.word_embeddings = new nn.Embedding(vocabSize, hiddenSize, { paddingIdx: 0, dtype })
    this.position_embeddings = new nn.Embedding(maxPositionEmbeddings, hiddenSize, { dtype })
    this.token_type_embeddings = new nn.Embedding(typeVocabSize, hiddenSize, { dtype })
    this.LayerNorm = new nn.LayerNorm(hiddenSize, { eps: layerNormEps, dtype })
    this.dropout = new nn.Dropout(config.hiddenDropoutProb)
  }

  forward(inputIds: Tensor, tokenTypeIds?: Tensor): Tensor {
    if (inputIds.rank !== 2)
      throw new ShapeError(`BertEmbeddings: expected input ids (batch, seq), got ${fmt(inputIds.shape)}`)
    const [, T] = inputIds.shape as [number, number]
    const { vocabSize, maxPositionEmbeddings, typeVocabSize } = this.config
    checkIds('input ids', inputIds, vocabSize, 'vocabSize')
    if (T > maxPositionEmbeddings)
      throw new ArgumentError(
        `BertEmbeddings: the sequence has ${T} tokens but the position table has ` +
          `${maxPositionEmbeddings}; expected at most ${maxPositionEmbeddings}`,
      )
    if (tokenTypeIds) {
      if (tokenTypeIds.shape.join() !== inputIds.shape.join())
        throw new ShapeError(
          `BertEmbeddings: expected token type ids of the input's shape ${fmt(inputIds.shape)}, got ` +
            `${fmt(tokenTypeIds.shape)}`,
        )
      checkIds('token type ids', tokenTypeIds, typeVocabSize, 'typeVocabSize')
    }
    // (B, T) -> (B, T, H) token + (T, H) position + (B, T, H) segment
    const positions = this.position_embeddings.call(arange(0, T, 1, { dtype: 'int32' }))
    let x = this.word_embeddings.call(inputIds).add(positions)
    const types = tokenTypeIds ?? inputIds.mul(0)
    x = x.add(this.token_type_embeddings.call(types))
    return this.dropout.call(this.LayerNorm.call(x))
  }
}

export class BertSelfAttention extends Module<[Tensor, Tensor | null], Tensor> {
  query: nn.Linear
  key: nn.Linear
  value: nn.Linear
  readonly numHeads: number
  readonly dropoutP: number

  constructor(config: BertConfig) {
    super()
    const { hiddenSize, numAttentionHeads, dtype = 'float32' } = config
    if (hiddenSize % numAttentionHeads !== 0)
      throw new ArgumentError(
        `BERT: numAttentionHeads must divide hiddenSize; expected a divisor of ${hiddenSize}, got ` +
          `${numAttentionHeads}`,
      )
    this.query = new nn.Linear(hiddenSize, hiddenSize, { dtype })
    this.key = new nn.Linear(hiddenSize, hiddenSize, { dtype })
    this.value = new nn.Linear(hiddenSize, hiddenSize, { dtype })
    this.numHeads = numAttentionHeads
    this.dropoutP = config.attentionProbsDropoutProb
  }

  forward(x: Tensor, padMask: Tensor | null): Tensor {
    const [B, T, H] = x.shape as [number, number, number]
    const heads = (t: Tensor) => t.reshape(B, T, this.numHeads, H / this.numHeads).permute(0, 2, 1, 3)
    // (B, T, H) -> (B, nh, T, H/nh) each
    const { output } = scaledDotProductAttention(
      heads(this.query.call(x)),
      heads(this.key.call(x)),
      heads(this.value.call(x)),
      {
        mask: padMask,
        dropoutP: this.dropoutP,
        training: this.training,
      },
    )
    // (B, nh, T, d) -> (B, T, nh, d) -> (B, T, H)
    return output.permute(0, 2, 1, 3).reshape(B, T, H)
  }
}

/** dense -> dropout -> LayerNorm(. + residual): BertSelfOutput and BertOutput. */
export class BertResidualOutput extends Module<[Tensor, Tensor], Tensor> {
  dense: nn.Linear
  LayerNorm: nn.LayerNorm
  dropout: nn.Dropout

  constructor(inFeatures: number, config: BertConfig) {
    super()
    const dtype = config.dtype ?? 'float32'
    this.dense = new nn.Linear(inFeatures, config.hiddenSize, { dtype })
    this.LayerNorm = new nn.LayerNorm(config.hiddenSize, { eps: config.layerNormEps, dtype })
    this.dropout = new nn.Dropout(config.hiddenDropoutProb)
  }

  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.call(this.dropout.call(this.dense.call(h)).add(residual))
  }
}

export class BertAttention extends Module<[Tensor, Tensor | null], Tensor> {
  self: BertSelfAttention
  output: BertResidualOutput
  constructor(config: BertConfig) {
    super()
    this.self = new BertSelfAttention(config)
    this.output = new BertResidualOutput(config.hiddenSize, config)
  }
  forward(x: Tensor, padMask: Tensor | null): Tensor {
    return this.output.call(this.self.call(x, padMask), x)
  }
}

export class BertIntermediate extends Module {
  dense: nn.Linear
  constructor(config: BertConfig) {
    super()
    this.dense = new nn.Linear(config.hiddenSize, config.intermediateSize, { dtype: config.dtype ?? 'float32' })
  }
  forward(x: Tensor): Tensor {
    // NOTE: GELU with erf, as BERT's release (not the tanh approximation).
    return gelu(this.dense.call(x))
  }
}

/** One encoder block: post-norm self-attention and GELU feed-forward. */
export class BertLayer extends Module<[Tensor, Tensor | null], Tensor> {
  attention: BertAttention
  intermediate: BertIntermediate
  output: BertResidualOutput
  constructor(config: BertConfig) {
    super()
    this.attention = new BertAttention(config)
    this.intermediate = new BertIntermediate(config)
    this.output = new BertResidualOutput(config.intermediateSize, config)
  }
  forward(x: Tensor, padMask: Tensor | null): Tensor {
    // (B, T, H) -> (B, T, H)
    const a = this.attention.call(x, padMask)
    return this.output.call(this.intermediate.call(a), a)
  }
}

export class BertEncoder extends Module<[Tensor, Tensor | null], Tensor> {
  layer: BertLayer[]
  constructor(config: BertConfig) {
    super()
    this.layer = Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config))
  }
  forward(x: Tensor, padMask: Tensor | null): Tensor {
    for (const l of this.layer) x = l.call(x, padMask)
    return x
  }
}

export class BertPooler extends Module {
  dense: nn.Linear
  constructor(config: BertConfig) {
    super()
    this.dense = new nn.Linear(config.hiddenSize, config.hiddenSize, { dtype: config.dtype ?? 'float32' })
  }
  forward(x: Tensor): Tensor {
    // (B, T, H) -> [CLS] (B, H) -> tanh(W h + b)
    return this.dense.call(x.slice(1, 0, 1).squeeze(1)).tanh()
  }
}

/**
 * The bool key-padding mask (B, 1, 1, T), true at padding, from Hugging Face's attention mask
 * (B, T) with 1 = token and 0 = padding (int32, float or bool).
 */
export function paddingMask(attentionMask: Tensor, inputShape: readonly number[]): Tensor {
  if (attentionMask.shape.join() !== inputShape.join())
    throw new ShapeError(
      `BERT: expected an attention mask of the input's shape ${fmt(inputShape)}, got ` + `${fmt(attentionMask.shape)}`,
    )
  const [B, T] = inputShape as [number, number]
  const m = attentionMask.dtype === 'bool' ? attentionMask.to('int32') : attentionMask
  return m.eq(0).reshape(B, 1, 1, T)
}

/**
 * Hugging Face's BertModel: forward(inputIds (B, T) int32, tokenTypeIds?, attentionMask?) ->
 * [sequence output (B, T, H), pooled output (B, H)] (the pooled output only with the pooler).
 */
export class BertModel extends Module<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor[]> {
  embeddings: BertEmbeddings
  encoder: BertEncoder
  pooler: BertPooler | null

  constructor(
    readonly config: BertConfig,
    { addPoolingLayer = true } = {},
  ) {
    super()
    this.embeddings = new BertEmbeddings(config)
    this.encoder = new BertEncoder(config)
    this.pooler = addPoolingLayer ? new BertPooler(config) : null
    initBertWeights(this, config.initializerRange)
  }

  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, attentionMask?: Tensor | null): Tensor[] {
    const x = this.embeddings.call(inputIds, tokenTypeIds ?? undefined)
    const seq = this.encoder.call(x, attentionMask ? paddingMask(attentionMask, inputIds.shape) : null)
    return this.pooler ? [seq, this.pooler.call(seq)] : [seq]
  }
}

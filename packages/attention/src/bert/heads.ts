/**
 * BERT's heads (Devlin et al. 2019, https://arxiv.org/abs/1810.04805, sections 3.1 and 3.2; d2l.ai
 * 15.8.5) with Hugging Face's names: masked language modelling (`cls.predictions`: a GELU
 * transform, LayerNorm, and a decoder tied to the word embeddings plus its own bias), next
 * sentence prediction (`cls.seq_relationship` on the pooled [CLS]), and the fine-tuning heads for
 * sequence classification (pooled [CLS] -> labels) and token classification (every position ->
 * labels).
 */
import {
  ArgumentError,
  Module,
  Parameter,
  ShapeError,
  Tensor,
  crossEntropy,
  fmt,
  gelu,
  linear,
  nn,
  zeros,
} from '@refnets/core'

type StateDict = Record<string, Tensor>
import { type BertConfig, BertModel, initBertWeights } from './model.js'

export class BertPredictionHeadTransform extends Module {
  dense: nn.Linear
  LayerNorm: nn.LayerNorm
  constructor(config: BertConfig) {
    super()
    const dtype = config.dtype ?? 'float32'
    this.dense = new nn.Linear(config.hiddenSize, config.hiddenSize, { dtype })
    this.LayerNorm = new nn.LayerNorm(config.hiddenSize, { eps: config.layerNormEps, dtype })
  }
  forward(x: Tensor): Tensor {
    return this.LayerNorm.call(gelu(this.dense.call(x)))
  }
}

/** The MLM head: transform, then logits over the vocabulary with the word embeddings as weights. */
export class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform
  /** Tied to `bert.embeddings.word_embeddings.weight` (vocab, H); listed once in the state dict. */
  decoderWeight: Parameter
  bias: Parameter
  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super()
    this.transform = new BertPredictionHeadTransform(config)
    this.decoderWeight = wordEmbeddings
    this.bias = new Parameter(zeros([config.vocabSize], { dtype: config.dtype ?? 'float32' }))
  }
  forward(x: Tensor): Tensor {
    // (.., H) -> (.., vocab)
    return linear(this.transform.call(x), this.decoderWeight, this.bias)
  }
}

export class BertPreTrainingHeads extends Module<[Tensor, Tensor], Tensor[]> {
  predictions: BertLMPredictionHead
  seq_relationship: nn.Linear
  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super()
    this.predictions = new BertLMPredictionHead(config, wordEmbeddings)
    this.seq_relationship = new nn.Linear(config.hiddenSize, 2, { dtype: config.dtype ?? 'float32' })
  }
  forward(seq: Tensor, pooled: Tensor): Tensor[] {
    return [this.predictions.call(seq), this.seq_relationship.call(pooled)]
  }
}

/**
 * Hugging Face's BertForPreTraining: forward(inputIds, tokenTypeIds?, attentionMask?, mlmPositions?)
 * -> [MLM logits, NSP logits (B, 2)]. With `mlmPositions` (B, P) int32 the MLM logits are computed only
 * at those positions (B, P, vocab), as d2l does; otherwise at every position (B, T, vocab).
 */
export class BertForPreTraining extends Module<
  [Tensor, (Tensor | null)?, (Tensor | null)?, (Tensor | null)?],
  Tensor[]
> {
  bert: BertModel
  cls: BertPreTrainingHeads

  constructor(readonly config: BertConfig) {
    super()
    this.bert = new BertModel(config)
    this.cls = new BertPreTrainingHeads(config, this.bert.embeddings.word_embeddings.weight)
    initBertWeights(this.cls, config.initializerRange)
  }

  forward(
    inputIds: Tensor,
    tokenTypeIds?: Tensor | null,
    attentionMask?: Tensor | null,
    mlmPositions?: Tensor | null,
  ): Tensor[] {
    const [seq, pooled] = this.bert.call(inputIds, tokenTypeIds, attentionMask) as [Tensor, Tensor]
    let picked = seq
    if (mlmPositions) {
      const [B, P] = mlmPositions.shape as [number, number]
      const T = seq.shape[1]!
      if (mlmPositions.rank !== 2 || B !== seq.shape[0])
        throw new ShapeError(`mlmPositions: expected (${seq.shape[0]}, P), got ${fmt(mlmPositions.shape)}`)
      // Flat row index b * T + p per prediction: (B, P) -> (B * P) -> gather rows of (B * T, H).
      const flat = new Int32Array(B * P)
      const pos = mlmPositions.data as Int32Array
      for (let b = 0; b < B; b++)
        for (let p = 0; p < P; p++) {
          const v = pos[b * P + p]!
          if (v < 0 || v >= T) throw new ArgumentError(`mlmPositions: expected positions in [0, ${T}), got ${v}`)
          flat[b * P + p] = b * T + v
        }
      const H = seq.shape[2]!
      picked = seq
        .reshape(B * T, H)
        .gather(0, new Tensor(flat, [B * P]))
        .reshape(B, P, H)
    }
    return this.cls.call(picked, pooled)
  }
}

/**
 * d2l's pretraining loss: the MLM cross-entropy over the predicted positions weighted by
 * `mlmWeights` (1 for real predictions, 0 for padding), plus the NSP cross-entropy.
 */
export function bertPretrainingLoss(
  mlmLogits: Tensor,
  nspLogits: Tensor,
  mlmLabels: Tensor,
  mlmWeights: Tensor,
  nspLabels: Tensor,
): { mlm: Tensor; nsp: Tensor; total: Tensor } {
  const V = mlmLogits.shape[mlmLogits.rank - 1]!
  const perToken = crossEntropy(mlmLogits.reshape(-1, V), mlmLabels.reshape(-1), { reduction: 'none' })
  const w = mlmWeights.reshape(-1).to(perToken.dtype)
  const mlm = perToken.mul(w).sum().div(w.sum().add(1e-8))
  const nsp = crossEntropy(nspLogits, nspLabels)
  return { mlm, nsp, total: mlm.add(nsp) }
}

/** Hugging Face's BertForSequenceClassification: pooled [CLS] -> dropout -> classifier (numLabels). */
export class BertForSequenceClassification extends Module<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor> {
  bert: BertModel
  dropout: nn.Dropout
  classifier: nn.Linear
  constructor(
    readonly config: BertConfig,
    readonly numLabels: number,
  ) {
    super()
    this.bert = new BertModel(config)
    this.dropout = new nn.Dropout(config.hiddenDropoutProb)
    this.classifier = new nn.Linear(config.hiddenSize, numLabels, { dtype: config.dtype ?? 'float32' })
    initBertWeights(this.classifier, config.initializerRange)
  }
  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, attentionMask?: Tensor | null): Tensor {
    const [, pooled] = this.bert.call(inputIds, tokenTypeIds, attentionMask) as [Tensor, Tensor]
    // (B, H) -> (B, numLabels)
    return this.classifier.call(this.dropout.call(pooled))
  }
}

/** Hugging Face's BertForTokenClassification: no pooler; every position -> dropout -> classifier. */
export class BertForTokenClassification extends Module<[Tensor, (Tensor | null)?, (Tensor | null)?], Tensor> {
  bert: BertModel
  dropout: nn.Dropout
  classifier: nn.Linear
  constructor(
    readonly config: BertConfig,
    readonly numLabels: number,
  ) {
    super()
    this.bert = new BertModel(config, { addPoolingLayer: false })
    this.dropout = new nn.Dropout(config.hiddenDropoutProb)
    this.classifier = new nn.Linear(config.hiddenSize, numLabels, { dtype: config.dtype ?? 'float32' })
    initBertWeights(this.classifier, config.initializerRange)
  }
  forward(inputIds: Tensor, tokenTypeIds?: Tensor | null, attentionMask?: Tensor | null): Tensor {
    const [seq] = this.bert.call(inputIds, tokenTypeIds, attentionMask) as [Tensor]
    // (B, T, H) -> (B, T, numLabels)
    return this.classifier.call(this.dropout.call(seq))
  }
}

/**
 * A Hugging Face BERT state dict in this package's module tree: drops the `position_ids` buffer and
 * the tied copies (`cls.predictions.decoder.weight` = the word embeddings,
 * `cls.predictions.decoder.bias` = `cls.predictions.bias`), checking that they really are copies.
 */
export function fromHuggingFace(sd: StateDict): StateDict {
  const out: StateDict = {}
  for (const [k, v] of Object.entries(sd)) {
    if (k.endsWith('embeddings.position_ids')) continue
    if (k === 'cls.predictions.decoder.weight' || k === 'cls.predictions.decoder.bias') {
      const twin = sd[k.endsWith('weight') ? 'bert.embeddings.word_embeddings.weight' : 'cls.predictions.bias']
      if (
        twin &&
        twin.shape.join() === v.shape.join() &&
        Array.prototype.every.call(twin.data, (x: number, i: number) => x === v.data[i])
      )
        continue
      throw new ArgumentError(
        `fromHuggingFace: ${k} must equal its tied tensor, as in Hugging Face's BertForPreTraining`,
      )
    }
    out[k] = v
  }
  return out
}

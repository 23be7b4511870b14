/**
 * BERT: Hugging Face's module tree and names, a BERT layer equal to PyTorch's
 * TransformerEncoderLayer(activation='gelu', layer_norm_eps=1e-12) on the same weights (golden
 * fixture, outputs and gradients to 1e-10), the heads, the pretraining loss, and typed errors.
 */
import {
  ArgumentError,
  DTypeError,
  Generator,
  ShapeError,
  Tensor,
  gradcheck,
  manualSeed,
  optim,
  randint,
  tensor,
} from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  BERT_SMALL,
  type BertConfig,
  BertForPreTraining,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertLayer,
  BertModel,
  bertPretrainingLoss,
  fromHuggingFace,
} from '../src/index.js'
import { fixture, maxAbsDiff, toTensor } from './helpers/golden.js'

const tiny: BertConfig = {
  ...BERT_SMALL,
  vocabSize: 50,
  hiddenSize: 8,
  numAttentionHeads: 2,
  intermediateSize: 16,
  numHiddenLayers: 2,
  maxPositionEmbeddings: 12,
  hiddenDropoutProb: 0,
  attentionProbsDropoutProb: 0,
}
const i32 = (v: number[], shape: number[]) => new Tensor(Int32Array.from(v), shape)

describe('BERT layer = TransformerEncoderLayer(gelu, eps 1e-12)', () => {
  const c = fixture.cases.find((x) => x.name === 'bert-style-encoder-layer')!
  // PyTorch name -> BERT names; in_proj_* splits into query, key and value.
  const E = c.config.dModel as number
  const p = (k: string) => toTensor(c.params[k]!)
  const rows = (t: Tensor, i: number) => t.slice(0, i * E, (i + 1) * E).contiguous()
  const sd: Record<string, Tensor> = {
    'attention.self.query.weight': rows(p('self_attn.in_proj_weight'), 0),
    'attention.self.key.weight': rows(p('self_attn.in_proj_weight'), 1),
    'attention.self.value.weight': rows(p('self_attn.in_proj_weight'), 2),
    'attention.self.query.bias': rows(p('self_attn.in_proj_bias'), 0),
    'attention.self.key.bias': rows(p('self_attn.in_proj_bias'), 1),
    'attention.self.value.bias': rows(p('self_attn.in_proj_bias'), 2),
    'attention.output.dense.weight': p('self_attn.out_proj.weight'),
    'attention.output.dense.bias': p('self_attn.out_proj.bias'),
    'attention.output.LayerNorm.weight': p('norm1.weight'),
    'attention.output.LayerNorm.bias': p('norm1.bias'),
    'intermediate.dense.weight': p('linear1.weight'),
    'intermediate.dense.bias': p('linear1.bias'),
    'output.dense.weight': p('linear2.weight'),
    'output.dense.bias': p('linear2.bias'),
    'output.LayerNorm.weight': p('norm2.weight'),
    'output.LayerNorm.bias': p('norm2.bias'),
  }

  it('matches PyTorch’s output and gradients to 1e-10', () => {
    const layer = new BertLayer({
      ...tiny,
      hiddenSize: E,
      numAttentionHeads: c.config.nhead,
      intermediateSize: c.config.dimFeedforward,
      dtype: 'float64',
    })
    layer.loadStateDict(sd)
    const src = toTensor(c.inputs.src!).requireGrad()
    // PyTorch's key padding mask (true = pad) as BERT's pad mask (B, 1, 1, S).
    const kpm = toTensor(c.masks.src_key_padding_mask!)
    const y = layer.call(src, kpm.reshape(kpm.shape[0]!, 1, 1, kpm.shape[1]!))
    expect(maxAbsDiff(y, c.outputs[0]!)).toBeLessThan(1e-10)
    y.mul(toTensor(c.R[0]!)).sum().backward()
    expect(maxAbsDiff(src.grad!, c.grads['input.src']!)).toBeLessThan(1e-10)
    const g = Object.fromEntries(layer.namedParameters())
    expect(maxAbsDiff(g['output.dense.weight']!.grad!, c.grads['linear2.weight']!)).toBeLessThan(1e-10)
    expect(maxAbsDiff(g['attention.output.LayerNorm.weight']!.grad!, c.grads['norm1.weight']!)).toBeLessThan(1e-10)
    const qGrad = c.grads['self_attn.in_proj_weight']!
    const q = { ...qGrad, shape: [E, E], data: qGrad.data.slice(0, E * E) }
    expect(maxAbsDiff(g['attention.self.query.weight']!.grad!, q)).toBeLessThan(1e-10)
  })
})

describe('BertModel', () => {
  it('has Hugging Face’s state-dict names', () => {
    manualSeed(0)
    const keys = Object.keys(new BertModel({ ...tiny, numHiddenLayers: 1 }).stateDict())
    expect(keys).toEqual([
      'embeddings.word_embeddings.weight',
      'embeddings.position_embeddings.weight',
      'embeddings.token_type_embeddings.weight',
      'embeddings.LayerNorm.weight',
      'embeddings.LayerNorm.bias',
      'encoder.layer.0.attention.self.query.weight',
      'encoder.layer.0.attention.self.query.bias',
      'encoder.layer.0.attention.self.key.weight',
      'encoder.layer.0.attention.self.key.bias',
      'encoder.layer.0.attention.self.value.weight',
      'encoder.layer.0.attention.self.value.bias',
      'encoder.layer.0.attention.output.dense.weight',
      'encoder.layer.0.attention.output.dense.bias',
      'encoder.layer.0.attention.output.LayerNorm.weight',
      'encoder.layer.0.attention.output.LayerNorm.bias',
      'encoder.layer.0.intermediate.dense.weight',
      'encoder.layer.0.intermediate.dense.bias',
      'encoder.layer.0.output.dense.weight',
      'encoder.layer.0.output.dense.bias',
      'encoder.layer.0.output.LayerNorm.weight',
      'encoder.layer.0.output.LayerNorm.bias',
      'pooler.dense.weight',
      'pooler.dense.bias',
    ])
    const pre = Object.keys(new BertForPreTraining({ ...tiny, numHiddenLayers: 1 }).stateDict())
    expect(pre.filter((k) => k.startsWith('cls.'))).toEqual(
      [
        'cls.predictions.bias',
        'cls.predictions.transform.dense.weight',
        'cls.predictions.transform.dense.bias',
        'cls.predictions.transform.LayerNorm.weight',
        'cls.predictions.transform.LayerNorm.bias',
        'cls.seq_relationship.weight',
        'cls.seq_relationship.bias',
      ].sort((a, b) => pre.indexOf(a) - pre.indexOf(b)),
    )
    expect(Object.keys(new BertForTokenClassification(tiny, 3).stateDict()).some((k) => k.includes('pooler'))).toBe(
      false,
    )
  })

  it('masks padding: padded positions do not change the real tokens’ outputs', () => {
    manualSeed(1)
    const m = new BertModel(tiny).eval()
    const ids = i32([5, 6, 7, 0, 0], [1, 5])
    const [full] = m.call(ids, null, i32([1, 1, 1, 0, 0], [1, 5]))
    const [short] = m.call(i32([5, 6, 7], [1, 3]))
    const a = full!.slice(1, 0, 3).contiguous().data
    short!.data.forEach((v, i) => {
      expect(a[i]).toBeCloseTo(v as number, 5)
    })
  })

  it('ties the MLM decoder to the word embeddings and predicts at chosen positions', () => {
    manualSeed(2)
    const m = new BertForPreTraining(tiny)
    expect(m.cls.predictions.decoderWeight).toBe(m.bert.embeddings.word_embeddings.weight)
    const ids = randint(1, 50, [2, 6], { generator: new Generator(1) })
    const [mlm, nsp] = m.call(ids, i32([0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1], [2, 6]), null, i32([1, 2, 4, 0], [2, 2]))
    expect(mlm!.shape).toEqual([2, 2, 50])
    expect(nsp!.shape).toEqual([2, 2])
    const { total, mlm: lm } = bertPretrainingLoss(
      mlm!,
      nsp!,
      i32([3, 4, 5, 6], [2, 2]),
      tensor([
        [1, 1],
        [1, 0],
      ]),
      i32([0, 1], [2]),
    )
    expect(lm.item()).toBeGreaterThan(0)
    total.backward()
    for (const [name, p] of m.namedParameters()) expect(p.grad, name).toBeTruthy()
  })

  it('builds classification heads', () => {
    manualSeed(3)
    const ids = randint(1, 50, [2, 5], { generator: new Generator(2) })
    expect(new BertForSequenceClassification(tiny, 3).call(ids).shape).toEqual([2, 3])
    expect(new BertForTokenClassification(tiny, 4).call(ids).shape).toEqual([2, 5, 4])
  })

  it('passes gradcheck through the embeddings and encoder (float64)', () => {
    manualSeed(4)
    const m = new BertModel({ ...tiny, numHiddenLayers: 1, dtype: 'float64' })
    const ids = i32([3, 4, 5, 0], [1, 4])
    const mask = i32([1, 1, 1, 0], [1, 4])
    const w = m.embeddings.word_embeddings
    const res = gradcheck(
      (table) => {
        w.weight = table as never
        return m.call(ids, null, mask)[0]!
      },
      [w.weight.detach().clone()],
    )
    expect(res.relError).toBeLessThan(1e-7)
  })

  it('raises typed errors for bad ids, long sequences, masks and head counts', () => {
    manualSeed(5)
    const m = new BertModel(tiny)
    expect(() => m.call(i32([1, 50], [1, 2]))).toThrow(ArgumentError)
    expect(() => m.call(i32([1, 50], [1, 2]))).toThrow(/expected ids in \[0, 50\) \(vocabSize\), got 50/)
    expect(() => m.call(i32([1, -1], [1, 2]))).toThrow(/got -1/)
    expect(() => m.call(i32([1, 2], [1, 2]), i32([0, 2], [1, 2]))).toThrow(/\[0, 2\) \(typeVocabSize\), got 2/)
    expect(() => m.call(new Tensor(new Int32Array(13).fill(1), [1, 13]))).toThrow(
      /13 tokens but the position table has 12/,
    )
    expect(() => m.call(tensor([[1, 2]]))).toThrow(DTypeError)
    expect(() => m.call(i32([1, 2], [1, 2]), null, i32([1, 1, 1], [1, 3]))).toThrow(ShapeError)
    expect(() => new BertModel({ ...tiny, numAttentionHeads: 3 })).toThrow(/divisor of 8, got 3/)
  })

  it('reads Hugging Face state dicts with tied copies and position ids', () => {
    manualSeed(6)
    const m = new BertForPreTraining({ ...tiny, numHiddenLayers: 1 })
    const sd = { ...m.stateDict() }
    const hf = {
      ...sd,
      'bert.embeddings.position_ids': i32([...Array(12).keys()], [1, 12]),
      'cls.predictions.decoder.weight': sd['bert.embeddings.word_embeddings.weight']!,
      'cls.predictions.decoder.bias': sd['cls.predictions.bias']!,
    }
    expect(Object.keys(fromHuggingFace(hf)).sort()).toEqual(Object.keys(sd).sort())
    m.loadStateDict(fromHuggingFace(hf))
    expect(() => fromHuggingFace({ ...hf, 'cls.predictions.decoder.bias': tensor(new Array(50).fill(9)) })).toThrow(
      /must equal its tied tensor/,
    )
  })
})

describe('BERT training', () => {
  it('fits a fixed pretraining batch (MLM loss falls, NSP learned) and hands its encoder to a classifier', () => {
    manualSeed(7)
    const cfg: BertConfig = {
      ...tiny,
      vocabSize: 30,
      hiddenSize: 16,
      numAttentionHeads: 2,
      intermediateSize: 32,
      numHiddenLayers: 1,
    }
    const model = new BertForPreTraining(cfg)
    const B = 4
    const T = 8
    const ids = randint(5, 30, [B, T], { generator: new Generator(3) })
    const types = i32(
      Array.from({ length: B * T }, (_, i) => (i % T >= 4 ? 1 : 0)),
      [B, T],
    )
    const positions = i32([1, 5, 2, 6, 3, 7, 1, 4], [B, 2])
    const labels = i32([7, 8, 9, 10, 11, 12, 13, 14], [B, 2])
    const nspLabels = i32([0, 1, 0, 1], [B])
    const weights = tensor(new Array(B * 2).fill(1), { shape: [B, 2] })
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 })
    const losses: number[] = []
    for (let step = 0; step < 40; step++) {
      const [mlm, nsp] = model.call(ids, types, null, positions)
      const loss = bertPretrainingLoss(mlm!, nsp!, labels, weights, nspLabels)
      opt.zeroGrad()
      loss.total.backward()
      opt.step()
      losses.push(loss.mlm.item())
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 4)
    model.eval()
    const nsp = model.call(ids, types, null, positions)[1]!.argmax(-1)
    expect(Array.from(nsp.data)).toEqual([0, 1, 0, 1])
    // The encoder's weights load into a sequence classifier by their `bert.` names.
    const cls = new BertForSequenceClassification(cfg, 2)
    const encoder = Object.fromEntries(Object.entries(model.stateDict()).filter(([k]) => k.startsWith('bert.')))
    expect(cls.loadStateDict(encoder, { strict: false }).missing).toEqual(['classifier.weight', 'classifier.bias'])
  })
})

/**
 * The registry of @refnets/attention: every layer and model as a ModelSpec. The registry-driven
 * test (test/specs.test.ts) and the benchmark harness iterate over `specs`; adding an entry here is
 * all a new model needs to get its shape, gradient and ONNX parity checks and its benchmark.
 *
 * Sizes: `small` keeps unit tests quick (batch 2, 5-6 steps, width 64; BERT 12 tokens, BERT-base
 * 1 x 8); `bench` is a realistic size (batch 8 sequence 128 for the layers and the small BERT;
 * BERT-base at batch 1 sequence 128, about 22 GFLOP a forward pass).
 * Masks and ids are inputs of the exported graph, so ONNX Runtime sees the same masking.
 * `build` returns the module in training mode (as PyTorch does); call `.eval()` for inference.
 */
import { Generator, Module, type ModelSpec, type SpecSize, Tensor, manualSeed, randint, randn } from '@refnets/core'
import { BERT_BASE, BERT_SMALL, type BertConfig, BertModel } from './bert/model.js'
import { BertForPreTraining, BertForSequenceClassification } from './bert/heads.js'
import { AdditiveAttention } from './layers/additive-attention.js'
import { DotProductAttention } from './layers/dot-product-attention.js'
import { MultiheadAttention } from './layers/multihead-attention.js'
import { LearnedPositionalEncoding, PositionalEncoding } from './layers/positional-encoding.js'
import { Transformer, TransformerDecoderLayer, TransformerEncoderLayer, causalMask } from './layers/transformer.js'

type Dims = { B: number; T: number; S: number; E: number }
// The width is the same at both sizes (a spec builds one module); bench grows batch and sequence.
const DIMS: Record<SpecSize, Dims> = { small: { B: 2, T: 5, S: 6, E: 64 }, bench: { B: 8, T: 128, S: 128, E: 64 } }
const tol = { atol: 1e-4, rtol: 1e-3 }

const normal = (shape: number[], seed: number) => randn(shape, { generator: new Generator(seed) })
/** Valid lengths per batch row in [1, n], int32. */
const lengths = (B: number, n: number, seed: number) => {
  const g = new Generator(seed)
  return new Tensor(
    Int32Array.from({ length: B }, (_, i) => (i === 0 ? n : 1 + g.int(n))),
    [B],
  )
}
/** A key-padding mask (B, S): true after each row's valid length (row 0 unpadded). */
const padding = (B: number, S: number, seed: number) => {
  const lens = lengths(B, S, seed).data as Int32Array
  return new Tensor(
    Uint8Array.from({ length: B * S }, (_, i) => (i % S >= lens[Math.floor(i / S)]! ? 1 : 0)),
    [B, S],
  )
}

class DotProduct extends Module<[Tensor, Tensor, Tensor, Tensor], Tensor> {
  att = new DotProductAttention(0.1)
  forward(q: Tensor, k: Tensor, v: Tensor, validLens: Tensor): Tensor {
    return this.att.call(q, k, v, { validLens })
  }
}
class Additive extends Module<[Tensor, Tensor, Tensor, Tensor], Tensor> {
  att: AdditiveAttention
  constructor(E: number) {
    super()
    this.att = new AdditiveAttention(E, E, E, { dropout: 0.1 })
  }
  forward(q: Tensor, k: Tensor, v: Tensor, validLens: Tensor): Tensor {
    return this.att.call(q, k, v, { validLens })
  }
}
/** MHA with its masks as graph inputs; returns [output, averaged weights]. */
class Mha extends Module<Tensor[], Tensor[]> {
  mha: MultiheadAttention
  constructor(
    E: number,
    heads: number,
    readonly kind: 'self' | 'cross' | 'causal' | 'fused',
    kdim?: number,
  ) {
    super()
    this.mha = new MultiheadAttention(E, heads, {
      batchFirst: true,
      dropout: 0.1,
      kdim,
      vdim: kdim,
      onnxAttentionOp: kind === 'fused',
    })
  }
  forward(...xs: Tensor[]): Tensor[] {
    if (this.kind === 'fused')
      return this.mha
        .call(xs[0]!, xs[1]!, xs[1]!, { keyPaddingMask: xs[2], attnMask: xs[3], needWeights: false })
        .slice(0, 1) as Tensor[]
    if (this.kind === 'self') return this.mha.call(xs[0]!, xs[0]!, xs[0]!, { keyPaddingMask: xs[1] }) as Tensor[]
    if (this.kind === 'cross')
      return this.mha.call(xs[0]!, xs[1]!, xs[1]!, { keyPaddingMask: xs[2], attnMask: xs[3] }) as Tensor[]
    const T = xs[0]!.shape[1]!
    return this.mha
      .call(xs[0]!, xs[0]!, xs[0]!, { attnMask: causalMask(T), needWeights: false })
      .slice(0, 1) as Tensor[]
  }
}
class EncoderLayer extends Module<[Tensor, Tensor], Tensor> {
  layer: TransformerEncoderLayer
  constructor(E: number, normFirst: boolean, onnxAttentionOp = false) {
    super()
    this.layer = new TransformerEncoderLayer(E, 4, {
      dimFeedforward: 4 * E,
      batchFirst: true,
      normFirst,
      activation: normFirst ? 'gelu' : 'relu',
      onnxAttentionOp,
    })
  }
  forward(x: Tensor, kpm: Tensor): Tensor {
    return this.layer.call(x, { srcKeyPaddingMask: kpm })
  }
}
class DecoderLayer extends Module<[Tensor, Tensor, Tensor], Tensor> {
  layer: TransformerDecoderLayer
  constructor(E: number) {
    super()
    this.layer = new TransformerDecoderLayer(E, 4, { dimFeedforward: 4 * E, batchFirst: true })
  }
  forward(tgt: Tensor, memory: Tensor, memoryKpm: Tensor): Tensor {
    return this.layer.call(tgt, memory, { tgtMask: causalMask(tgt.shape[1]!), memoryKeyPaddingMask: memoryKpm })
  }
}
class Seq2SeqTransformer extends Module<[Tensor, Tensor, Tensor], Tensor> {
  transformer: Transformer
  constructor(E: number) {
    super()
    this.transformer = new Transformer({
      dModel: E,
      nhead: 4,
      numEncoderLayers: 2,
      numDecoderLayers: 2,
      dimFeedforward: 4 * E,
      batchFirst: true,
    })
  }
  forward(src: Tensor, tgt: Tensor, srcKpm: Tensor): Tensor {
    return this.transformer.call(src, tgt, {
      tgtMask: causalMask(tgt.shape[1]!),
      srcKeyPaddingMask: srcKpm,
      memoryKeyPaddingMask: srcKpm,
    })
  }
}

const ATT = 'attention'
const TRANSFORMER = 'transformer'
const BERT = 'bert'
const VASWANI = 'Vaswani et al. 2017'
const DEVLIN = 'Devlin et al. 2019'

/** A spec with a fixed seed for the parameters; `inputs` builds seeded tensors from the size's dims. */
function spec(
  name: string,
  family: string,
  paper: string,
  make: (d: Dims) => Module<any, any>,
  inputs: (d: Dims, seed: number) => Tensor[],
  output: (d: Dims) => number[],
  extra: Partial<ModelSpec> = {},
): ModelSpec {
  return {
    name,
    family,
    paper,
    build: (seed) => {
      manualSeed(seed)
      return make(DIMS.small)
    },
    inputs: (size, seed) => inputs(DIMS[size], seed),
    outputShape: (size) => output(DIMS[size]),
    tolerance: tol,
    ...extra,
  }
}

const layerSpecs: ModelSpec[] = [
  spec(
    'dot-product-attention',
    ATT,
    VASWANI,
    () => new DotProduct(),
    ({ B, T, S, E }, s) => [
      normal([B, T, E], s),
      normal([B, S, E], s + 1),
      normal([B, S, E], s + 2),
      lengths(B, S, s + 3),
    ],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'additive-attention',
    ATT,
    'Bahdanau et al. 2015',
    ({ E }) => new Additive(E),
    ({ B, T, S, E }, s) => [
      normal([B, T, E], s),
      normal([B, S, E], s + 1),
      normal([B, S, E], s + 2),
      lengths(B, S, s + 3),
    ],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'positional-encoding',
    ATT,
    VASWANI,
    ({ E }) => new PositionalEncoding(E, 0.1, 1000),
    ({ B, T, E }, s) => [normal([B, T, E], s)],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'learned-positional-encoding',
    ATT,
    DEVLIN,
    ({ E }) => new LearnedPositionalEncoding(E, 0.1, 512),
    ({ B, T, E }, s) => [normal([B, T, E], s)],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'mha-self-key-padding',
    ATT,
    VASWANI,
    ({ E }) => new Mha(E, 4, 'self'),
    ({ B, T, E }, s) => [normal([B, T, E], s), padding(B, T, s + 1)],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'mha-cross-kdim-masks',
    ATT,
    VASWANI,
    ({ E }) => new Mha(E, 4, 'cross', E / 2),
    ({ B, T, S, E }, s) => [
      normal([B, T, E], s),
      normal([B, S, E / 2], s + 1),
      padding(B, S, s + 2),
      normal([T, S], s + 3),
    ],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'mha-causal',
    ATT,
    VASWANI,
    ({ E }) => new Mha(E, 4, 'causal'),
    ({ B, T, E }, s) => [normal([B, T, E], s)],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'mha-cross-onnx-attention-op',
    ATT,
    VASWANI,
    ({ E }) => new Mha(E, 4, 'fused'),
    ({ B, T, S, E }, s) => [
      normal([B, T, E], s),
      normal([B, S, E], s + 1),
      padding(B, S, s + 2),
      normal([T, S], s + 3),
    ],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'transformer-encoder-layer-onnx-attention-op',
    TRANSFORMER,
    VASWANI,
    ({ E }) => new EncoderLayer(E, false, true),
    ({ B, S, E }, s) => [normal([B, S, E], s), padding(B, S, s + 1)],
    ({ B, S, E }) => [B, S, E],
  ),
  spec(
    'transformer-encoder-layer',
    TRANSFORMER,
    VASWANI,
    ({ E }) => new EncoderLayer(E, false),
    ({ B, S, E }, s) => [normal([B, S, E], s), padding(B, S, s + 1)],
    ({ B, S, E }) => [B, S, E],
  ),
  spec(
    'transformer-encoder-layer-norm-first-gelu',
    TRANSFORMER,
    'Xiong et al. 2020',
    ({ E }) => new EncoderLayer(E, true),
    ({ B, S, E }, s) => [normal([B, S, E], s), padding(B, S, s + 1)],
    ({ B, S, E }) => [B, S, E],
  ),
  spec(
    'transformer-decoder-layer',
    TRANSFORMER,
    VASWANI,
    ({ E }) => new DecoderLayer(E),
    ({ B, T, S, E }, s) => [normal([B, T, E], s), normal([B, S, E], s + 1), padding(B, S, s + 2)],
    ({ B, T, E }) => [B, T, E],
  ),
  spec(
    'transformer',
    TRANSFORMER,
    VASWANI,
    ({ E }) => new Seq2SeqTransformer(E),
    ({ B, T, S, E }, s) => [normal([B, S, E], s), normal([B, T, E], s + 1), padding(B, S, s + 2)],
    ({ B, T, E }) => [B, T, E],
  ),
]

// ---- BERT --------------------------------------------------------------------------------------

/** Seeded BERT inputs: ids in [1, vocab), segments (second half 1), attention mask (row 1 padded). */
function bertInputs(B: number, T: number, vocab: number, seed: number): Tensor[] {
  const ids = randint(1, vocab, [B, T], { generator: new Generator(seed) })
  const types = new Tensor(
    Int32Array.from({ length: B * T }, (_, i) => (i % T >= T / 2 ? 1 : 0)),
    [B, T],
  )
  const mask = new Tensor(
    Int32Array.from({ length: B * T }, (_, i) => (Math.floor(i / T) === 1 && i % T >= T - 2 ? 0 : 1)),
    [B, T],
  )
  return [ids, types, mask]
}

function bertSpec(
  name: string,
  config: BertConfig,
  make: (c: BertConfig) => Module<any, any>,
  sizes: Record<SpecSize, [number, number]>,
  out: (B: number, T: number) => number[],
): ModelSpec {
  return {
    name,
    family: BERT,
    paper: DEVLIN,
    build: (seed) => {
      manualSeed(seed)
      return make(config)
    },
    inputs: (size, seed) => bertInputs(sizes[size][0], sizes[size][1], config.vocabSize, seed),
    outputShape: (size) => out(...sizes[size]),
    tolerance: tol,
  }
}

const bertSpecs: ModelSpec[] = [
  bertSpec(
    'bert-small',
    BERT_SMALL,
    (c) => new BertModel(c),
    { small: [2, 12], bench: [8, 128] },
    (B, T) => [B, T, 128],
  ),
  bertSpec(
    'bert-small-pretraining',
    BERT_SMALL,
    (c) => new BertForPreTraining(c),
    { small: [2, 12], bench: [8, 128] },
    (B, T) => [B, T, 30522],
  ),
  bertSpec(
    'bert-small-sequence-classification',
    BERT_SMALL,
    (c) => new BertForSequenceClassification(c, 2),
    { small: [2, 12], bench: [8, 128] },
    (B) => [B, 2],
  ),
  bertSpec(
    'bert-base',
    BERT_BASE,
    (c) => new BertModel(c),
    { small: [1, 8], bench: [1, 128] },
    (B, T) => [B, T, 768],
  ),
]

export const specs: ModelSpec[] = [...layerSpecs, ...bertSpecs]

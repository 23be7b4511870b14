/**
 * The registry of @refnets/rnn: every recurrent layer (uni- and bidirectional, one and two layers,
 * time-major and batch-first, with initial states and variable lengths), the cells, the character
 * language model and the seq2seq encoder, as ModelSpecs. The registry-driven test
 * (test/specs.test.ts) and the benchmark harness iterate over `specs`.
 *
 * Sizes: `small` is (T 5, B 2, I 8, H 6); `bench` is the size of an LSTM benchmark on one
 * sequence: T 32, B 1, I 128, H 256 (the language model: 28 characters, embedding 32, H 256).
 * Layers return [output, h_n] ([output, h_n, c_n] for LSTM); ONNX Runtime checks every output.
 * `build` returns the module in training mode (as PyTorch does); call `.eval()` for inference.
 */
import {
  Generator,
  type Module,
  type ModelSpec,
  type SpecSize,
  Tensor,
  manualSeed,
  randint,
  randn,
} from '@refnets/core'
import { GRUCell, LSTMCell, RNNCell } from './layers/cells.js'
import { GRU, LSTM, RNN, type RecurrentLayerOptions } from './layers/rnn.js'
import { RnnLM } from './models/rnn-lm.js'
import { Seq2SeqEncoder } from './models/seq2seq.js'

interface Size {
  T: number
  B: number
  I: number
  H: number
}
const SIZES: Record<SpecSize, Size> = { small: { T: 5, B: 2, I: 8, H: 6 }, bench: { T: 32, B: 1, I: 128, H: 256 } }
const tolerance = { atol: 1e-5, rtol: 1e-4 }

type Kind = 'rnn' | 'rnn-relu' | 'gru' | 'lstm'
const PAPER: Record<Kind, string> = {
  rnn: 'Elman 1990',
  'rnn-relu': 'Elman 1990; Le, Jaitly & Hinton 2015 (ReLU RNN)',
  gru: 'Cho et al. 2014',
  lstm: 'Hochreiter & Schmidhuber 1997',
}

function layer(kind: Kind, I: number, H: number, opts: RecurrentLayerOptions) {
  if (kind === 'gru') return new GRU(I, H, opts)
  if (kind === 'lstm') return new LSTM(I, H, opts)
  return new RNN(I, H, { ...opts, nonlinearity: kind === 'rnn-relu' ? 'relu' : 'tanh' })
}

interface LayerVariant {
  layers?: number
  bi?: boolean
  batchFirst?: boolean
  /** Pass initial states (h0, and c0 for LSTM). */
  states?: boolean
  /** Pass variable lengths (int32, one per sequence). */
  lengths?: boolean
}

function layerSpec(kind: Kind, v: LayerVariant = {}): ModelSpec {
  const L = v.layers ?? 1
  const D = v.bi ? 2 : 1
  const tags = [
    L > 1 ? `${L}layer` : '',
    v.bi ? 'bi' : '',
    v.batchFirst ? 'batch-first' : '',
    v.states ? 'states' : '',
    v.lengths ? 'lengths' : '',
  ]
  return {
    name: [kind, ...tags].filter(Boolean).join('-'),
    family: 'layer',
    paper: PAPER[kind],
    build: (seed) => {
      manualSeed(seed)
      const { I, H } = SIZES.small
      return layer(kind, I, H, { numLayers: L, bidirectional: v.bi ?? false, batchFirst: v.batchFirst ?? false })
    },
    inputs: (size, seed): Tensor[] => {
      const { I, H } = SIZES.small
      const [T, B] = size === 'small' ? [5, 2] : [32, 1]
      const g = new Generator(seed)
      const x = randn(v.batchFirst ? [B, T, I] : [T, B, I], { generator: g })
      const h0 = v.states ? [randn([L * D, B, H], { generator: g })] : []
      const c0 = v.states && kind === 'lstm' ? [randn([L * D, B, H], { generator: g })] : []
      // Lengths T, T-2, T-4, ... (at least 1): the first sequence is full, the others padded.
      const lens = v.lengths
        ? [
            new Tensor(
              Int32Array.from({ length: B }, (_, b) => Math.max(1, T - 2 * b)),
              [B],
            ),
          ]
        : []
      // NOTE: lengths come after the states in forward(x, h0, c0, lengths), so a spec with
      // lengths also passes the states: spec inputs are tensors only.
      return [x, ...h0, ...c0, ...lens]
    },
    outputShape: (size) => {
      const { H } = SIZES.small
      const [T, B] = size === 'small' ? [5, 2] : [32, 1]
      return v.batchFirst ? [B, T, D * H] : [T, B, D * H]
    },
    tolerance,
  }
}

/**
 * The same layers at the benchmark size (T 32, B 1, I 128, H 256): built separately because the
 * layer's sizes are fixed at construction.
 */
function benchLayerSpec(kind: Kind, v: LayerVariant = {}): ModelSpec {
  const base = layerSpec(kind, v)
  const L = v.layers ?? 1
  const D = v.bi ? 2 : 1
  return {
    ...base,
    name: `${base.name}-h256`,
    family: 'recurrent',
    build: (seed) => {
      manualSeed(seed)
      return layer(kind, 128, 256, { numLayers: L, bidirectional: v.bi ?? false, batchFirst: v.batchFirst ?? false })
    },
    inputs: (size, seed) => {
      const [T, B] = size === 'small' ? [5, 2] : [32, 1]
      return [randn(v.batchFirst ? [B, T, 128] : [T, B, 128], { generator: new Generator(seed) })]
    },
    outputShape: (size) => {
      const [T, B] = size === 'small' ? [5, 2] : [32, 1]
      return v.batchFirst ? [B, T, D * 256] : [T, B, D * 256]
    },
  }
}

function cellSpec(name: string, paper: string, make: (I: number, H: number) => Module<any, any>): ModelSpec {
  return {
    name,
    family: 'layer',
    paper,
    build: (seed) => {
      manualSeed(seed)
      return make(SIZES.small.I, SIZES.small.H)
    },
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const B = size === 'small' ? 2 : 1
      return [randn([B, SIZES.small.I], { generator: g }), randn([B, SIZES.small.H], { generator: g })]
    },
    outputShape: (size) => [size === 'small' ? 2 : 1, SIZES.small.H],
    tolerance,
  }
}

const layerSpecs: ModelSpec[] = []
for (const kind of ['rnn', 'rnn-relu', 'gru', 'lstm'] as const) {
  layerSpecs.push(
    layerSpec(kind),
    layerSpec(kind, { bi: true }),
    layerSpec(kind, { layers: 2 }),
    layerSpec(kind, { layers: 2, bi: true, batchFirst: true }),
    layerSpec(kind, { batchFirst: true, states: true }),
    layerSpec(kind, { layers: 2, bi: true, states: true, lengths: true }),
  )
}
layerSpecs.push(
  layerSpec('gru', { bi: true, batchFirst: true, states: true, lengths: true }),
  layerSpec('lstm', { batchFirst: true, states: true, lengths: true }),
)

const benchSpecs: ModelSpec[] = [
  benchLayerSpec('lstm'),
  benchLayerSpec('gru'),
  benchLayerSpec('rnn'),
  benchLayerSpec('lstm', { layers: 2, bi: true, batchFirst: true }),
]

const cellSpecs: ModelSpec[] = [
  cellSpec('rnn-cell', PAPER.rnn, (I, H) => new RNNCell(I, H)),
  cellSpec('gru-cell', PAPER.gru, (I, H) => new GRUCell(I, H)),
  cellSpec('lstm-cell', PAPER.lstm, (I, H) => new LSTMCell(I, H)),
]

/** Ids (B, T) over a vocabulary of `v`. */
const ids = (v: number, B: number, T: number, seed: number): Tensor =>
  randint(0, v, [B, T], { generator: new Generator(seed) })

const modelSpecs: ModelSpec[] = [
  {
    name: 'char-lm-lstm',
    family: 'language-model',
    paper: 'Mikolov et al. 2010; Hochreiter & Schmidhuber 1997',
    build: (seed) => {
      manualSeed(seed)
      return new RnnLM(28, 256, { cell: 'lstm', embedDim: 32 })
    },
    inputs: (size, seed) => [size === 'small' ? ids(28, 2, 5, seed) : ids(28, 1, 32, seed)],
    outputShape: (size) => (size === 'small' ? [2, 5, 28] : [1, 32, 28]),
    tolerance,
  },
  {
    name: 'char-lm-gru-2layer',
    family: 'language-model',
    paper: 'Mikolov et al. 2010; Cho et al. 2014',
    build: (seed) => {
      manualSeed(seed)
      return new RnnLM(28, 64, { cell: 'gru', embedDim: 16, numLayers: 2 })
    },
    inputs: (size, seed) => [size === 'small' ? ids(28, 2, 5, seed) : ids(28, 1, 32, seed)],
    outputShape: (size) => (size === 'small' ? [2, 5, 28] : [1, 32, 28]),
    tolerance,
  },
  {
    name: 'seq2seq-gru-encoder',
    family: 'seq2seq',
    paper: 'Sutskever, Vinyals & Le 2014; Cho et al. 2014',
    build: (seed) => {
      manualSeed(seed)
      return new Seq2SeqEncoder(200, { embedDim: 32, numHiddens: 256, numLayers: 2 })
    },
    inputs: (size, seed) => [size === 'small' ? ids(200, 2, 5, seed) : ids(200, 1, 32, seed)],
    outputShape: (size) => (size === 'small' ? [2, 5, 256] : [1, 32, 256]),
    tolerance,
  },
]

export const specs: ModelSpec[] = [...layerSpecs, ...cellSpecs, ...benchSpecs, ...modelSpecs]

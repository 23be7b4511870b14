/**
 * The Transformer (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762; d2l.ai 11.7,
 * https://d2l.ai/chapter_attention-mechanisms-and-transformers/transformer.html) with
 * torch.nn's names and options (https://pytorch.org/docs/1.13/nn.html#transformer-layers):
 * an encoder layer is self-attention then a position-wise feed-forward network, each wrapped in
 * a residual connection and layer norm; a decoder layer adds attention over the encoder's output
 * (memory) between them. Post-norm (the paper: x = LN(x + f(x))) is the default; `normFirst`
 * gives pre-norm (x = x + f(LN(x)), Xiong et al. 2020, https://arxiv.org/abs/2002.04745), which
 * trains deep stacks without warm-up.
 */
import { ArgumentError, Module, type Tensor, Tensor as TensorClass, gelu, nn, relu } from '@refnets/core'
import { type KVCache, MultiheadAttention } from './multihead-attention.js'

export type Activation = 'relu' | 'gelu' | ((x: Tensor) => Tensor)

export interface TransformerLayerOptions {
  dimFeedforward?: number
  dropout?: number
  activation?: Activation
  layerNormEps?: number
  batchFirst?: boolean
  normFirst?: boolean
  dtype?: 'float32' | 'float64'
  /** Attention as one ONNX `Attention` node (opset 23) at export; see MultiheadAttentionOptions. */
  onnxAttentionOp?: boolean
}

function activationFn(a: Activation): (x: Tensor) => Tensor {
  if (typeof a === 'function') return a
  if (a === 'relu') return relu
  if (a === 'gelu') return (x) => gelu(x)
  throw new ArgumentError(`activation must be 'relu', 'gelu' or a function, got '${String(a)}'`)
}

/**
 * torch.nn.Transformer.generate_square_subsequent_mask: a float (sz, sz) mask with -Infinity above
 * the diagonal, so step i attends to steps 0..i only.
 */
export function generateSquareSubsequentMask(sz: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const data = dtype === 'float64' ? new Float64Array(sz * sz) : new Float32Array(sz * sz)
  for (let i = 0; i < sz; i++) for (let j = i + 1; j < sz; j++) data[i * sz + j] = -Infinity
  return new TensorClass(data, [sz, sz])
}

/** A boolean causal mask (sz, sz), true above the diagonal (the steps a query may not see). */
export function causalMask(sz: number): Tensor {
  const data = new Uint8Array(sz * sz)
  for (let i = 0; i < sz; i++) for (let j = i + 1; j < sz; j++) data[i * sz + j] = 1
  return new TensorClass(data, [sz, sz])
}

/** The feed-forward block's common parts: linear1 -> activation -> dropout -> linear2. */
abstract class LayerBase<I extends unknown[]> extends Module<I, Tensor> {
  linear1: nn.Linear
  dropout: nn.Dropout
  linear2: nn.Linear
  readonly normFirst: boolean
  protected readonly act: (x: Tensor) => Tensor

  constructor(
    readonly dModel: number,
    opts: TransformerLayerOptions,
  ) {
    super()
    const { dimFeedforward = 2048, dropout = 0.1, activation = 'relu', dtype = 'float32' } = opts
    this.linear1 = new nn.Linear(dModel, dimFeedforward, { dtype })
    this.dropout = new nn.Dropout(dropout)
    this.linear2 = new nn.Linear(dimFeedforward, dModel, { dtype })
    this.normFirst = opts.normFirst ?? false
    this.act = activationFn(activation)
  }

  /** Position-wise feed-forward network: (.., d) -> (.., dff) -> (.., d). */
  protected ff(x: Tensor): Tensor {
    return this.linear2.call(this.dropout.call(this.act(this.linear1.call(x))))
  }
}

export interface EncoderLayerCallOptions {
  srcMask?: Tensor | null
  srcKeyPaddingMask?: Tensor | null
}

/** torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1, ...). */
export class TransformerEncoderLayer extends LayerBase<[Tensor, EncoderLayerCallOptions?]> {
  self_attn: MultiheadAttention
  norm1: nn.LayerNorm
  norm2: nn.LayerNorm
  dropout1: nn.Dropout
  dropout2: nn.Dropout

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super(dModel, opts)
    const { dropout = 0.1, layerNormEps = 1e-5, batchFirst = false, dtype = 'float32', onnxAttentionOp } = opts
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout, batchFirst, dtype, onnxAttentionOp })
    this.norm1 = new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.norm2 = new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.dropout1 = new nn.Dropout(dropout)
    this.dropout2 = new nn.Dropout(dropout)
  }

  private sa(x: Tensor, o: EncoderLayerCallOptions): Tensor {
    const [y] = this.self_attn.call(x, x, x, {
      attnMask: o.srcMask,
      keyPaddingMask: o.srcKeyPaddingMask,
      needWeights: false,
    })
    return this.dropout1.call(y)
  }

  forward(src: Tensor, o: EncoderLayerCallOptions = {}): Tensor {
    // (B, T, d) or (T, B, d) -> same shape
    let x = src
    if (this.normFirst) {
      x = x.add(this.sa(this.norm1.call(x), o))
      return x.add(this.dropout2.call(this.ff(this.norm2.call(x))))
    }
    x = this.norm1.call(x.add(this.sa(x, o)))
    return this.norm2.call(x.add(this.dropout2.call(this.ff(x))))
  }
}

export interface DecoderLayerCallOptions {
  tgtMask?: Tensor | null
  memoryMask?: Tensor | null
  tgtKeyPaddingMask?: Tensor | null
  memoryKeyPaddingMask?: Tensor | null
}

/** torch.nn.TransformerDecoderLayer: self-attention, attention over memory, feed-forward. */
export class TransformerDecoderLayer extends LayerBase<[Tensor, Tensor, DecoderLayerCallOptions?]> {
  self_attn: MultiheadAttention
  multihead_attn: MultiheadAttention
  norm1: nn.LayerNorm
  norm2: nn.LayerNorm
  norm3: nn.LayerNorm
  dropout1: nn.Dropout
  dropout2: nn.Dropout
  dropout3: nn.Dropout

  constructor(dModel: number, nhead: number, opts: TransformerLayerOptions = {}) {
    super(dModel, opts)
    const { dropout = 0.1, layerNormEps = 1e-5, batchFirst = false, dtype = 'float32', onnxAttentionOp } = opts
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout, batchFirst, dtype, onnxAttentionOp })
    this.multihead_attn = new MultiheadAttention(dModel, nhead, { dropout, batchFirst, dtype, onnxAttentionOp })
    this.norm1 = new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.norm2 = new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.norm3 = new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.dropout1 = new nn.Dropout(dropout)
    this.dropout2 = new nn.Dropout(dropout)
    this.dropout3 = new nn.Dropout(dropout)
  }

  private sa(x: Tensor, o: DecoderLayerCallOptions): Tensor {
    const [y] = this.self_attn.call(x, x, x, {
      attnMask: o.tgtMask,
      keyPaddingMask: o.tgtKeyPaddingMask,
      needWeights: false,
    })
    return this.dropout1.call(y)
  }

  private mha(x: Tensor, mem: Tensor, o: DecoderLayerCallOptions): Tensor {
    const [y] = this.multihead_attn.call(x, mem, mem, {
      attnMask: o.memoryMask,
      keyPaddingMask: o.memoryKeyPaddingMask,
      needWeights: false,
    })
    return this.dropout2.call(y)
  }

  forward(tgt: Tensor, memory: Tensor, o: DecoderLayerCallOptions = {}): Tensor {
    // tgt (B, T, d), memory (B, S, d) (or sequence-first) -> (B, T, d)
    let x = tgt
    if (this.normFirst) {
      x = x.add(this.sa(this.norm1.call(x), o))
      x = x.add(this.mha(this.norm2.call(x), memory, o))
      return x.add(this.dropout3.call(this.ff(this.norm3.call(x))))
    }
    x = this.norm1.call(x.add(this.sa(x, o)))
    x = this.norm2.call(x.add(this.mha(x, memory, o)))
    return this.norm3.call(x.add(this.dropout3.call(this.ff(x))))
  }

  /**
   * The new target steps `tgt` of an autoregressive decode, given `cache`, the self-attention keys
   * and values of the earlier steps (extended in place): equals the rows cache.length ..
   * cache.length + T - 1 of `forward` over all steps with a causal tgtMask, for the cost of the new
   * steps only. No tgtMask or tgtKeyPaddingMask: the cache already makes the attention causal.
   */
  forwardIncremental(
    tgt: Tensor,
    memory: Tensor,
    cache: KVCache,
    o: Pick<DecoderLayerCallOptions, 'memoryMask' | 'memoryKeyPaddingMask'> = {},
  ): Tensor {
    const sa = (x: Tensor) => this.dropout1.call(this.self_attn.forwardIncremental(x, cache))
    let x = tgt
    if (this.normFirst) {
      x = x.add(sa(this.norm1.call(x)))
      x = x.add(this.mha(this.norm2.call(x), memory, o))
      return x.add(this.dropout3.call(this.ff(this.norm3.call(x))))
    }
    x = this.norm1.call(x.add(sa(x)))
    x = this.norm2.call(x.add(this.mha(x, memory, o)))
    return this.norm3.call(x.add(this.dropout3.call(this.ff(x))))
  }
}

/** torch.nn.TransformerEncoder: `numLayers` layers from `makeLayer` (named layers.0, layers.1, ...) and an optional final norm. */
export class TransformerEncoder extends Module<[Tensor, EncoderLayerCallOptions?], Tensor> {
  layers: TransformerEncoderLayer[]
  norm: nn.LayerNorm | null

  constructor(
    makeLayer: () => TransformerEncoderLayer,
    readonly numLayers: number,
    norm: nn.LayerNorm | null = null,
  ) {
    super()
    this.layers = Array.from({ length: numLayers }, makeLayer)
    this.norm = norm
  }

  forward(src: Tensor, o: EncoderLayerCallOptions = {}): Tensor {
    let x = src
    for (const layer of this.layers) x = layer.call(x, o)
    return this.norm ? this.norm.call(x) : x
  }
}

/** torch.nn.TransformerDecoder: `numLayers` decoder layers and an optional final norm. */
export class TransformerDecoder extends Module<[Tensor, Tensor, DecoderLayerCallOptions?], Tensor> {
  layers: TransformerDecoderLayer[]
  norm: nn.LayerNorm | null

  constructor(
    makeLayer: () => TransformerDecoderLayer,
    readonly numLayers: number,
    norm: nn.LayerNorm | null = null,
  ) {
    super()
    this.layers = Array.from({ length: numLayers }, makeLayer)
    this.norm = norm
  }

  forward(tgt: Tensor, memory: Tensor, o: DecoderLayerCallOptions = {}): Tensor {
    let x = tgt
    for (const layer of this.layers) x = layer.call(x, memory, o)
    return this.norm ? this.norm.call(x) : x
  }

  /**
   * Incremental decoding: the new steps `tgt` given one self-attention cache per layer
   * (`caches[i]` for layers.i, extended in place); see TransformerDecoderLayer.forwardIncremental.
   */
  forwardIncremental(
    tgt: Tensor,
    memory: Tensor,
    caches: KVCache[],
    o: Pick<DecoderLayerCallOptions, 'memoryMask' | 'memoryKeyPaddingMask'> = {},
  ): Tensor {
    if (caches.length !== this.layers.length)
      throw new ArgumentError(
        `TransformerDecoder.forwardIncremental: expected one cache per layer (${this.layers.length}), got ${caches.length}`,
      )
    let x = tgt
    this.layers.forEach((layer, i) => {
      x = layer.forwardIncremental(x, memory, caches[i]!, o)
    })
    return this.norm ? this.norm.call(x) : x
  }
}

export interface TransformerOptions extends TransformerLayerOptions {
  dModel?: number
  nhead?: number
  numEncoderLayers?: number
  numDecoderLayers?: number
}

export interface TransformerCallOptions extends DecoderLayerCallOptions {
  srcMask?: Tensor | null
  srcKeyPaddingMask?: Tensor | null
}

/** torch.nn.Transformer: encoder (with final norm) and decoder (with final norm); no embeddings. */
export class Transformer extends Module<[Tensor, Tensor, TransformerCallOptions?], Tensor> {
  encoder: TransformerEncoder
  decoder: TransformerDecoder
  readonly dModel: number

  constructor(opts: TransformerOptions = {}) {
    super()
    const {
      dModel = 512,
      nhead = 8,
      numEncoderLayers = 6,
      numDecoderLayers = 6,
      layerNormEps = 1e-5,
      dtype = 'float32',
    } = opts
    this.dModel = dModel
    const ln = () => new nn.LayerNorm(dModel, { eps: layerNormEps, dtype })
    this.encoder = new TransformerEncoder(
      () => new TransformerEncoderLayer(dModel, nhead, opts),
      numEncoderLayers,
      ln(),
    )
    this.decoder = new TransformerDecoder(
      () => new TransformerDecoderLayer(dModel, nhead, opts),
      numDecoderLayers,
      ln(),
    )
  }

  forward(src: Tensor, tgt: Tensor, o: TransformerCallOptions = {}): Tensor {
    const memory = this.encoder.call(src, { srcMask: o.srcMask, srcKeyPaddingMask: o.srcKeyPaddingMask })
    return this.decoder.call(tgt, memory, o)
  }
}

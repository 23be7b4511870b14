/**
 * Multi-head attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, section 3.2.2;
 * d2l.ai 11.5, https://d2l.ai/chapter_attention-mechanisms-and-transformers/multihead-attention.html)
 * with torch.nn.MultiheadAttention's API and state-dict names
 * (https://pytorch.org/docs/1.13/generated/torch.nn.MultiheadAttention.html): h heads each attend
 * in their own E/h-dimensional projection of queries, keys and values, and the concatenated heads
 * are projected back, so the layer can look at several kinds of relation at once for the cost of
 * one full-width attention.
 */
import {
  ArgumentError,
  DTypeError,
  Module,
  Parameter,
  ShapeError,
  Tensor,
  concat,
  dropout as dropoutOp,
  fmt,
  linear,
  nn,
  softmax,
  where,
  zeros,
} from '@refnets/core'
import { attentionOp } from './attention-op.js'
import { MASK_FILL } from './masked-softmax.js'

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights (training only). */
  dropout?: number
  bias?: boolean
  /** Key and value widths (default embedDim); when either differs, q/k/v_proj_weight replace in_proj_weight. */
  kdim?: number
  vdim?: number
  /** Inputs and outputs (B, L, E) instead of PyTorch's default (L, B, E). */
  batchFirst?: boolean
  dtype?: 'float32' | 'float64'
  /**
   * Compute attention with the op that exports as one ONNX `Attention` node (opset 23) instead of
   * MatMul/Softmax (opset 17). Used when the weights are not requested and dropout is inactive.
   */
  onnxAttentionOp?: boolean
}

export interface MultiheadAttentionCallOptions {
  /** (B, S) (or (S) unbatched): bool, true = padding the queries must not attend to; or float, added. */
  keyPaddingMask?: Tensor | null
  /** (L, S) or (B * numHeads, L, S): bool, true = not allowed; or float, added to the scores. */
  attnMask?: Tensor | null
  /** Return the attention weights (default true). */
  needWeights?: boolean
  /** Average the weights over heads (B, L, S), or return them per head (B, H, L, S) (default true). */
  averageAttnWeights?: boolean
}

/** The keys and values of the steps decoded so far, per head: (B, H, T, D) each. */
export class KVCache {
  k: Tensor | null = null
  v: Tensor | null = null
  get length(): number {
    return this.k ? this.k.shape[2]! : 0
  }
}

/** A bool or float mask, checked against the shape it must have. */
function checkMask(name: string, mask: Tensor, allowed: number[][], scoresDtype: string): void {
  if (mask.dtype !== 'bool' && mask.dtype !== scoresDtype)
    throw new DTypeError(`${name}: expected a bool mask or a float mask of dtype ${scoresDtype}, got ${mask.dtype}`)
  if (!allowed.some((s) => s.length === mask.rank && s.every((d, i) => d === mask.shape[i])))
    throw new ShapeError(`${name}: expected shape ${allowed.map(fmt).join(' or ')}, got ${fmt(mask.shape)}`)
}

/** Masked entries -> MASK_FILL for a bool mask (true = masked); a float mask is added. */
const applyMask = (scores: Tensor, mask: Tensor) =>
  mask.dtype === 'bool' ? where(mask, MASK_FILL, scores) : scores.add(mask)

export class MultiheadAttention extends Module<
  [Tensor, Tensor, Tensor, MultiheadAttentionCallOptions?],
  [Tensor, Tensor | null]
> {
  readonly headDim: number
  readonly kdim: number
  readonly vdim: number
  readonly batchFirst: boolean
  readonly dropout: number
  readonly onnxAttentionOp: boolean
  /** (3E, E) when kdim = vdim = E: the query, key and value projections stacked. */
  in_proj_weight: Parameter | null = null
  q_proj_weight: Parameter | null = null
  k_proj_weight: Parameter | null = null
  v_proj_weight: Parameter | null = null
  /** (3E): the query, key and value biases stacked. */
  in_proj_bias: Parameter | null = null
  out_proj: nn.Linear

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super()
    const { dropout = 0, bias = true, batchFirst = false, dtype = 'float32' } = opts
    if (!Number.isInteger(numHeads) || numHeads < 1)
      throw new ArgumentError(`MultiheadAttention: numHeads must be a positive integer, got ${numHeads}`)
    if (embedDim % numHeads !== 0)
      throw new ArgumentError(
        `MultiheadAttention: numHeads must divide embedDim; expected a divisor of ${embedDim}, got ` +
          `numHeads ${numHeads}`,
      )
    if (!(dropout >= 0 && dropout < 1))
      throw new ArgumentError(`MultiheadAttention: dropout must be in [0, 1), got ${dropout}`)
    this.headDim = embedDim / numHeads
    this.kdim = opts.kdim ?? embedDim
    this.vdim = opts.vdim ?? embedDim
    this.batchFirst = batchFirst
    this.dropout = dropout
    this.onnxAttentionOp = opts.onnxAttentionOp ?? false
    const E = embedDim
    // PyTorch's _reset_parameters: Xavier-uniform projections, zero biases.
    if (this.kdim === E && this.vdim === E)
      this.in_proj_weight = new Parameter(nn.xavierUniform_(zeros([3 * E, E], { dtype })))
    else {
      this.q_proj_weight = new Parameter(nn.xavierUniform_(zeros([E, E], { dtype })))
      this.k_proj_weight = new Parameter(nn.xavierUniform_(zeros([E, this.kdim], { dtype })))
      this.v_proj_weight = new Parameter(nn.xavierUniform_(zeros([E, this.vdim], { dtype })))
    }
    if (bias) this.in_proj_bias = new Parameter(zeros([3 * E], { dtype }))
    this.out_proj = new nn.Linear(E, E, { bias, dtype })
    if (this.out_proj.bias) this.out_proj.bias.storage.fill(0)
  }

  /** The query (i = 0), key (1) or value (2) projection of x (..., in) -> (..., E). */
  private project(x: Tensor, i: 0 | 1 | 2): Tensor {
    const E = this.embedDim
    const w = this.in_proj_weight
      ? this.in_proj_weight.slice(0, i * E, (i + 1) * E)
      : [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight][i]!
    const b = this.in_proj_bias ? this.in_proj_bias.slice(0, i * E, (i + 1) * E) : null
    return linear(x, w, b)
  }

  /** (B, T, E) -> (B, H, T, D) */
  private splitHeads(x: Tensor): Tensor {
    const [b, t] = x.shape as [number, number]
    return x.reshape(b, t, this.numHeads, this.headDim).permute(0, 2, 1, 3)
  }

  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionCallOptions = {},
  ): [Tensor, Tensor | null] {
    const { needWeights = true, averageAttnWeights = true } = opts
    const batched = query.rank === 3
    const E = this.embedDim
    if (!batched && query.rank !== 2)
      throw new ShapeError(`MultiheadAttention: expected a query of rank 3 (or 2 unbatched), got ${fmt(query.shape)}`)
    // To batch-major (B, L, E), (B, S, kdim), (B, S, vdim).
    const toBLE = (x: Tensor) => (!batched ? x.unsqueeze(0) : this.batchFirst ? x : x.transpose(0, 1))
    const [q0, k0, v0] = [toBLE(query), toBLE(key), toBLE(value)]
    const [B, L] = q0.shape as [number, number]
    const S = k0.shape[1]!
    const layout = this.batchFirst ? '(batch, seq, width)' : '(seq, batch, width)'
    if (
      q0.shape[2] !== E ||
      k0.rank !== 3 ||
      k0.shape[0] !== B ||
      k0.shape[2] !== this.kdim ||
      v0.rank !== 3 ||
      v0.shape[0] !== B ||
      v0.shape[1] !== S ||
      v0.shape[2] !== this.vdim
    )
      throw new ShapeError(
        `MultiheadAttention: expected query, key and value ${layout} with widths ${E}, ${this.kdim}, ${this.vdim} and one batch and source length; ` +
          `got ${fmt(query.shape)}, ${fmt(key.shape)}, ${fmt(value.shape)}`,
      )
    if (opts.attnMask)
      checkMask(
        'attnMask',
        opts.attnMask,
        [
          [L, S],
          [B * this.numHeads, L, S],
        ],
        query.dtype,
      )
    if (opts.keyPaddingMask) checkMask('keyPaddingMask', opts.keyPaddingMask, batched ? [[B, S]] : [[S]], query.dtype)

    // Project and split heads: (B, L, E) -> (B, H, L, D); keys and values (B, S, *) -> (B, H, S, D).
    // NOTE: the queries are scaled by 1/sqrt(D) before the product, as PyTorch does.
    if (this.onnxAttentionOp && !needWeights && !(this.training && this.dropout > 0)) {
      const out = this.attendFused(q0, k0, v0, opts.attnMask ?? null, opts.keyPaddingMask ?? null, B)
      return [!batched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1), null]
    }
    const q = this.splitHeads(this.project(q0, 0)).mul(1 / Math.sqrt(this.headDim))
    const k = this.splitHeads(this.project(k0, 1))
    const v = this.splitHeads(this.project(v0, 2))
    const [out, weights] = this.attend(q, k, v, opts.attnMask ?? null, opts.keyPaddingMask ?? null, B)
    // (B, L, E) back to the caller's layout.
    const y = !batched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1)
    if (!needWeights) return [y, null]
    // (B, H, L, S) -> (B, L, S) averaged over heads, or per head.
    const w = averageAttnWeights ? weights.mean(1) : weights
    return [y, batched ? w : w.squeeze(0)]
  }

  /** Scores, masks, softmax, dropout, weighted sum and output projection: (B, H, L, D) -> (B, L, E) and (B, H, L, S). */
  private attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attnMask: Tensor | null,
    keyPaddingMask: Tensor | null,
    B: number,
  ): [Tensor, Tensor] {
    const [, H, L] = q.shape as [number, number, number]
    const S = k.shape[2]!
    // (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    let scores = q.matmul(k.transpose(-2, -1))
    if (attnMask) scores = applyMask(scores, attnMask.rank === 3 ? attnMask.reshape(B, H, L, S) : attnMask)
    if (keyPaddingMask)
      scores = applyMask(scores, keyPaddingMask.reshape(keyPaddingMask.rank === 1 ? [1, 1, 1, S] : [B, 1, 1, S]))
    const weights = softmax(scores, -1)
    const dropped = this.training && this.dropout > 0 ? dropoutOp(weights, this.dropout, true) : weights
    // (B, H, L, S) @ (B, H, S, D) -> (B, H, L, D) -> (B, L, H, D) -> (B, L, E)
    const heads = dropped.matmul(v).permute(0, 2, 1, 3).reshape(B, L, this.embedDim)
    return [this.out_proj.call(heads), weights]
  }

  /** The ONNX-Attention path: masks folded into one additive bias (B|1, H|1, L, S). */
  private attendFused(
    q0: Tensor,
    k0: Tensor,
    v0: Tensor,
    attnMask: Tensor | null,
    keyPaddingMask: Tensor | null,
    B: number,
  ): Tensor {
    const [, L] = q0.shape as [number, number]
    const S = k0.shape[1]!
    const H = this.numHeads
    const q = this.splitHeads(this.project(q0, 0))
    const k = this.splitHeads(this.project(k0, 1))
    const v = this.splitHeads(this.project(v0, 2))
    const additive = (m: Tensor, shape: number[]) =>
      (m.dtype === 'bool' ? where(m, MASK_FILL, 0).to(q.dtype as 'float32') : m).reshape(shape)
    let bias: Tensor | null = null
    if (attnMask) bias = additive(attnMask, attnMask.rank === 3 ? [B, H, L, S] : [1, 1, L, S])
    if (keyPaddingMask) {
      const kpm = additive(keyPaddingMask, keyPaddingMask.rank === 1 ? [1, 1, 1, S] : [B, 1, 1, S])
      bias = bias ? bias.add(kpm) : kpm
    }
    // NOTE: ONNX Runtime's Attention wants the mask's query axis spelled out (no broadcast over L).
    if (bias && bias.shape[2] !== L) bias = bias.expand(bias.shape[0]!, bias.shape[1]!, L, S)
    // (B, H, L, D) -> (B, L, H, D) -> (B, L, E) -> out_proj
    const heads = attentionOp(q, k, v, bias, 1 / Math.sqrt(this.headDim))
      .permute(0, 2, 1, 3)
      .reshape(B, L, this.embedDim)
    return this.out_proj.call(heads)
  }

  /**
   * Causal self-attention over new steps x, given the keys and values of the earlier steps in
   * `cache` (which is extended in place): the incremental-decoding path of an autoregressive
   * decoder. x is (B, T, E) with batchFirst, else (T, B, E); the result equals rows
   * cache.length .. cache.length + T - 1 of a full causal forward over all steps.
   */
  forwardIncremental(x: Tensor, cache: KVCache): Tensor {
    if (this.kdim !== this.embedDim || this.vdim !== this.embedDim)
      throw new ArgumentError('MultiheadAttention.forwardIncremental: self-attention needs kdim = vdim = embedDim')
    if (x.rank !== 3 || x.shape[2] !== this.embedDim)
      throw new ShapeError(
        `forwardIncremental: expected x ${this.batchFirst ? '(batch, steps' : '(steps, batch'}, ` +
          `${this.embedDim}), got ${fmt(x.shape)}`,
      )
    const xb = this.batchFirst ? x : x.transpose(0, 1)
    const [B, T] = xb.shape as [number, number]
    if (cache.k && cache.k.shape[0] !== B)
      throw new ShapeError(`forwardIncremental: the cache holds batch ${cache.k.shape[0]}, got batch ${B}`)
    const q = this.splitHeads(this.project(xb, 0)).mul(1 / Math.sqrt(this.headDim))
    const kNew = this.splitHeads(this.project(xb, 1))
    const vNew = this.splitHeads(this.project(xb, 2))
    const past = cache.length
    // (B, H, past, D) ++ (B, H, T, D) -> (B, H, past + T, D)
    cache.k = cache.k ? concat([cache.k, kNew], 2) : kNew
    cache.v = cache.v ? concat([cache.v, vNew], 2) : vNew
    // New step i (absolute past + i) may see keys j <= past + i.
    const mask = new Uint8Array(T * (past + T))
    for (let i = 0; i < T; i++) for (let j = past + i + 1; j < past + T; j++) mask[i * (past + T) + j] = 1
    const [out] = this.attend(q, cache.k, cache.v, new Tensor(mask, [T, past + T]), null, B)
    return this.batchFirst ? out : out.transpose(0, 1)
  }
}

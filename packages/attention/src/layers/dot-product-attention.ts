/**
 * Scaled dot-product attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, eq. 1;
 * d2l.ai 11.3.2): softmax(Q K^T / sqrt(d)) V. Dividing by sqrt(d) keeps the scores' variance at 1
 * for unit-variance queries and keys, so the softmax does not saturate as the width d grows.
 */
import {
  ArgumentError,
  type Generator,
  Module,
  ShapeError,
  type Tensor,
  dropout as dropoutOp,
  fmt,
} from '@refnets/core'
import { type AttentionMask, maskedSoftmax } from './masked-softmax.js'

export interface ScaledDotProductOptions {
  /** Valid lengths, or a bool (true = masked) / float (added) mask broadcasting to (..., Q, K). */
  mask?: AttentionMask | null
  /** Dropout probability on the attention weights; applied only when `training`. */
  dropoutP?: number
  training?: boolean
  /** The scale of the scores (default 1 / sqrt(d)). */
  scale?: number
  generator?: Generator
}

/** softmax(Q K^T * scale + mask) V for (..., Q, d), (..., K, d), (..., K, dv); returns output and weights. */
export function scaledDotProductAttention(
  queries: Tensor,
  keys: Tensor,
  values: Tensor,
  opts: ScaledDotProductOptions = {},
): { output: Tensor; weights: Tensor } {
  const d = queries.shape[queries.rank - 1]!
  if (keys.shape[keys.rank - 1] !== d)
    throw new ShapeError(
      `dot-product attention: keys must have the queries' width ${d} in the last dim, got keys ` + `${fmt(keys.shape)}`,
    )
  if (keys.shape[keys.rank - 2] !== values.shape[values.rank - 2])
    throw new ShapeError(
      `dot-product attention: keys ${fmt(keys.shape)} and values ${fmt(values.shape)} must have as many rows`,
    )
  const p = opts.dropoutP ?? 0
  if (!(p >= 0 && p < 1)) throw new ArgumentError(`dropoutP must be in [0, 1), got ${p}`)
  const scale = opts.scale ?? 1 / Math.sqrt(d)
  // (..., Q, d) @ (..., d, K) -> (..., Q, K)
  const scores = queries.matmul(keys.transpose(-2, -1)).mul(scale)
  const weights = maskedSoftmax(scores, opts.mask)
  const dropped = opts.training && p > 0 ? dropoutOp(weights, p, true, opts.generator) : weights
  // (..., Q, K) @ (..., K, dv) -> (..., Q, dv)
  return { output: dropped.matmul(values), weights }
}

/** d2l's `DotProductAttention(dropout)` as a module: forward(queries, keys, values, mask?). */
export class DotProductAttention extends Module<[Tensor, Tensor, Tensor, (AttentionMask | null)?], Tensor> {
  /** The weights of the last forward pass (..., Q, K), for plotting. */
  attentionWeights: Tensor | null = null

  constructor(readonly dropout = 0) {
    super()
    if (!(dropout >= 0 && dropout < 1)) throw new ArgumentError(`dropout must be in [0, 1), got ${dropout}`)
  }

  forward(queries: Tensor, keys: Tensor, values: Tensor, mask?: AttentionMask | null): Tensor {
    const { output, weights } = scaledDotProductAttention(queries, keys, values, {
      mask,
      dropoutP: this.dropout,
      training: this.training,
    })
    this.attentionWeights = weights
    return output
  }
}

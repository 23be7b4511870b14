/**
 * Additive attention (Bahdanau, Cho & Bengio 2015, https://arxiv.org/abs/1409.0473; d2l.ai 11.3.3,
 * https://d2l.ai/chapter_attention-mechanisms-and-transformers/attention-scoring-functions.html):
 * a(q, k) = w_v^T tanh(W_q q + W_k k). Queries and keys may have different sizes; the score is a
 * one-hidden-layer MLP over their sum, so it costs more than a dot product but needs no common width.
 */
import { Module, type Tensor, nn } from '@refnets/core'
import { type AttentionMask, maskedSoftmax } from './masked-softmax.js'

export interface AdditiveAttentionOptions {
  /** Dropout on the attention weights (training only). */
  dropout?: number
  dtype?: 'float32' | 'float64'
}

/** d2l's `AdditiveAttention(num_hiddens, dropout)`: W_q, W_k and w_v are bias-free Linear layers. */
export class AdditiveAttention extends Module<[Tensor, Tensor, Tensor, (AttentionMask | null)?], Tensor> {
  W_k: nn.Linear
  W_q: nn.Linear
  w_v: nn.Linear
  dropout: nn.Dropout
  /** The weights of the last forward pass (B, Q, K), for plotting. */
  attentionWeights: Tensor | null = null

  constructor(
    keySize: number,
    querySize: number,
    numHiddens: number,
    { dropout = 0, dtype = 'float32' }: AdditiveAttentionOptions = {},
  ) {
    super()
    this.W_k = new nn.Linear(keySize, numHiddens, { bias: false, dtype })
    this.W_q = new nn.Linear(querySize, numHiddens, { bias: false, dtype })
    this.w_v = new nn.Linear(numHiddens, 1, { bias: false, dtype })
    this.dropout = new nn.Dropout(dropout)
  }

  forward(queries: Tensor, keys: Tensor, values: Tensor, mask?: AttentionMask | null): Tensor {
    // (B, Q, Dq) -> (B, Q, H); (B, K, Dk) -> (B, K, H)
    const q = this.W_q.call(queries)
    const k = this.W_k.call(keys)
    // (B, Q, 1, H) + (B, 1, K, H) -> (B, Q, K, H): every query meets every key.
    const features = q.unsqueeze(2).add(k.unsqueeze(1)).tanh()
    // (B, Q, K, H) -> (B, Q, K, 1) -> (B, Q, K)
    const scores = this.w_v.call(features).squeeze(-1)
    const weights = maskedSoftmax(scores, mask)
    this.attentionWeights = weights
    // (B, Q, K) @ (B, K, Dv) -> (B, Q, Dv)
    return this.dropout.call(weights).matmul(values)
  }
}

/**
 * Masked softmax (d2l.ai 11.3, https://d2l.ai/chapter_attention-mechanisms-and-transformers/attention-scoring-functions.html):
 * a softmax over the last axis that ignores some keys, given either valid lengths (d2l's
 * `valid_lens`: per batch row, or per batch row and query) or a mask in PyTorch's convention
 * (a boolean mask where `true` marks a key that may NOT be attended, or a float mask added to the
 * scores).
 */
import { ArgumentError, DTypeError, ShapeError, Tensor, arange, fmt, softmax, where } from '@refnets/core'

/** Valid lengths (int32) of shape (B) or (B, Q), or a bool/float mask that broadcasts to the scores. */
export type AttentionMask = { validLens: Tensor } | Tensor

/**
 * NOTE: masked positions are replaced by -1e9 (not -Infinity, and not added): exp(-1e9 - max)
 * is exactly 0 in float32 and float64 whenever a row keeps one key, so the weights equal PyTorch's
 * `masked_fill(-inf)`; a row with no key left gets uniform weights (d2l's -1e6 choice) instead of
 * NaN.
 */
export const MASK_FILL = -1e9

/** Throw a ShapeError unless `mask` broadcasts to `target` (trailing-aligned). */
export function checkBroadcast(what: string, mask: readonly number[], target: readonly number[], hint = ''): void {
  const ok =
    mask.length <= target.length && mask.every((d, i) => d === 1 || d === target[target.length - mask.length + i])
  if (!ok) throw new ShapeError(`${what}: expected a shape that broadcasts to ${fmt(target)}${hint}, got ${fmt(mask)}`)
}

/** A bool (B, [Q,] K) tensor, true where key k >= valid length: those keys are masked. */
export function lengthMask(validLens: Tensor, scoreShape: readonly number[]): Tensor {
  if (validLens.dtype !== 'int32') throw new DTypeError(`validLens must be int32, got ${validLens.dtype}`)
  const rank = scoreShape.length
  const k = scoreShape[rank - 1]!
  const lens = validLens.data as Int32Array
  for (const l of lens) if (l < 0) throw new ArgumentError(`validLens must be >= 0, got ${l}`)
  // (B) -> (B, 1, ..., 1, 1) or (B, Q) -> (B, 1, ..., Q, 1), compared with (K) positions.
  let shaped: Tensor
  if (validLens.rank === 1 && validLens.shape[0] === scoreShape[0])
    shaped = validLens.reshape([scoreShape[0]!, ...new Array(rank - 1).fill(1)])
  else if (validLens.rank === 2 && validLens.shape[0] === scoreShape[0] && validLens.shape[1] === scoreShape[rank - 2])
    shaped = validLens.reshape([scoreShape[0]!, ...new Array(rank - 3).fill(1), validLens.shape[1]!, 1])
  else
    throw new ShapeError(
      `validLens: expected (${scoreShape[0]}) or (${scoreShape[0]}, ${scoreShape[rank - 2]}) for scores ${fmt(scoreShape)}, got ${fmt(validLens.shape)}`,
    )
  return arange(0, k, 1, { dtype: 'int32' }).ge(shaped)
}

/** Apply a mask to scores: masked entries -> MASK_FILL (bool or valid lengths), or add a float mask. */
export function applyMask(scores: Tensor, mask: AttentionMask | null | undefined): Tensor {
  if (!mask) return scores
  if (!(mask instanceof Tensor)) return where(lengthMask(mask.validLens, scores.shape), MASK_FILL, scores)
  checkBroadcast('attention mask', mask.shape, scores.shape, ' (queries, keys) or (batch, ..., queries, keys)')
  if (mask.dtype === 'bool') return where(mask, MASK_FILL, scores)
  if (mask.dtype !== scores.dtype)
    throw new DTypeError(`a float attention mask must have the scores' dtype ${scores.dtype}, got ${mask.dtype}`)
  return scores.add(mask)
}

/**
 * Softmax over the last axis of `scores` (..., Q, K) with masked keys given weight 0.
 * `maskedSoftmax(X, { validLens })` is d2l's `masked_softmax(X, valid_lens)`.
 */
export function maskedSoftmax(scores: Tensor, mask?: AttentionMask | null): Tensor {
  if (scores.rank < 2)
    throw new ShapeError(`maskedSoftmax: expected scores of rank >= 2 (..., queries, keys), got ${fmt(scores.shape)}`)
  return softmax(applyMask(scores, mask), -1)
}

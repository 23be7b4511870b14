/** Dropout as a function (nn/dropout.ts wraps it in a module): x times a random mask, so backward comes free. */
import { ArgumentError } from '../errors.js'
import { type Generator, defaultGenerator } from '../random.js'
import type { Tensor } from '../tensor.js'
import { empty } from './util.js'

/**
 * Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html; d2l.ai
 * https://d2l.ai/chapter_multilayer-perceptrons/dropout.html): keep each unit with probability
 * keep = 1 - p and scale the kept ones by 1/keep while training, so the expected activation is
 * unchanged and inference is the identity (no rescaling needed at test time).
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p < 1)) throw new ArgumentError(`dropout probability must be in [0, 1), got ${p}`)
  if (!training || p === 0) return x
  const keep = 1 - p
  const mask = empty(x.dtype, x.shape)
  const m = mask.storage
  for (let i = 0; i < m.length; i++) m[i] = generator.random() < keep ? 1 / keep : 0
  return x.mul(mask)
}

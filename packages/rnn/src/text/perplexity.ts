/**
 * Perplexity (https://d2l.ai/chapter_recurrent-neural-networks/rnn.html#perplexity): the exponential
 * of the average negative log-likelihood per token, exp(-1/n sum log P(x_t | x_<t)). 1 is a perfect
 * model; a uniform guess over V tokens scores V.
 */
import { ArgumentError } from '@refnets/core'

/** Perplexity from a summed negative log-likelihood (nats) over `count` tokens. */
export function perplexity(totalNll: number, count: number): number {
  if (!(count > 0)) throw new ArgumentError(`perplexity needs a positive token count, got ${count}`)
  if (!Number.isFinite(totalNll))
    throw new ArgumentError(`perplexity: the summed negative log-likelihood is ${totalNll}`)
  return Math.exp(totalNll / count)
}

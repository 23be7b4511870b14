/**
 * n-gram frequency statistics (https://d2l.ai/chapter_recurrent-neural-networks/text-sequence.html):
 * counts of unigrams, bigrams and trigrams, and (rank, frequency) pairs for a log-log Zipf plot.
 * Word frequencies follow Zipf's law n_i ∝ 1 / i^alpha, a straight line in log-log coordinates.
 */
import { ArgumentError } from '@refnets/core'
import { countTokens } from './vocab.js'

/** The n-grams of a token list, each joined by a space: ngrams(['a','b','c'], 2) = ['a b', 'b c']. */
export function ngrams(tokens: string[], n: number): string[] {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`ngrams: n must be a positive integer, got ${n}`)
  const out: string[] = []
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '))
  return out
}

/** [n-gram, count] most frequent first (ties by first appearance). */
export const ngramFreqs = (tokens: string[], n: number): [string, number][] => countTokens(ngrams(tokens, n))

/** (rank, frequency) points of a frequency table, rank from 1: the data of a Zipf plot. */
export const zipfPoints = (freqs: [string, number][]): [number, number][] => freqs.map(([, f], i) => [i + 1, f])

/**
 * The Zipf exponent alpha fitted by least squares on log f = -alpha log rank + c, over ranks
 * [from, to] (1-based, inclusive): the head and the tail of real text bend away from the line.
 */
export function zipfExponent(freqs: [string, number][], from = 1, to = freqs.length): number {
  const pts = zipfPoints(freqs)
    .slice(from - 1, to)
    .map(([r, f]) => [Math.log(r), Math.log(f)] as const)
  if (pts.length < 2) throw new ArgumentError(`zipfExponent needs at least 2 ranks, got ${pts.length}`)
  const mx = pts.reduce((s, p) => s + p[0], 0) / pts.length
  const my = pts.reduce((s, p) => s + p[1], 0) / pts.length
  let sxy = 0
  let sxx = 0
  for (const [x, y] of pts) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
  }
  return -sxy / sxx
}

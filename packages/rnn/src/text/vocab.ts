/**
 * Vocabulary: token <-> index, as d2l.ai builds it (https://d2l.ai/chapter_recurrent-neural-networks/text-sequence.html).
 * Index 0 is `<unk>`, then the reserved tokens in the order given (typically `<pad> <bos> <eos>`),
 * then every token seen at least `minFreq` times, most frequent first (ties in order of first
 * appearance, as Python's stable sort of a Counter gives).
 */
import { ArgumentError } from '@refnets/core'

export interface VocabOptions {
  /** Tokens seen fewer times are mapped to `<unk>` (default 0: keep all). */
  minFreq?: number
  /** Special tokens placed right after `<unk>`, e.g. ['<pad>', '<bos>', '<eos>']. */
  reservedTokens?: string[]
}

export class Vocab {
  readonly idxToToken: string[]
  readonly tokenToIdx: Map<string, number>
  /** [token, count] for every distinct token, most frequent first. */
  readonly tokenFreqs: [string, number][]

  /** `tokens` may be a flat list or a list of lines of tokens. */
  constructor(tokens: string[] | string[][] = [], { minFreq = 0, reservedTokens = [] }: VocabOptions = {}) {
    if (!(minFreq >= 0)) throw new ArgumentError(`Vocab: minFreq must be >= 0, got ${minFreq}`)
    if (reservedTokens.includes('<unk>'))
      throw new ArgumentError('Vocab: <unk> is always index 0; do not list it in reservedTokens')
    this.tokenFreqs = countTokens(tokens)
    this.idxToToken = ['<unk>', ...reservedTokens]
    this.tokenToIdx = new Map(this.idxToToken.map((t, i) => [t, i]))
    if (this.tokenToIdx.size !== this.idxToToken.length)
      throw new ArgumentError(`Vocab: reserved tokens repeat: ${reservedTokens.join(' ')}`)
    for (const [token, freq] of this.tokenFreqs) {
      if (freq < minFreq) break
      if (!this.tokenToIdx.has(token)) {
        this.tokenToIdx.set(token, this.idxToToken.length)
        this.idxToToken.push(token)
      }
    }
  }

  get length(): number {
    return this.idxToToken.length
  }

  get unk(): number {
    return 0
  }

  /** Index of a token (`<unk>`'s index 0 for an unknown one). */
  indexOf(token: string): number {
    return this.tokenToIdx.get(token) ?? 0
  }

  /** Indices of a list of tokens. */
  encode(tokens: string[]): number[] {
    return tokens.map((t) => this.indexOf(t))
  }

  /** Tokens of a list of indices; an index outside the vocabulary is an error. */
  decode(indices: ArrayLike<number>): string[] {
    return Array.from(indices, (i) => {
      const t = this.idxToToken[i]
      if (t === undefined)
        throw new ArgumentError(`Vocab.decode: index ${i} is outside the vocabulary [0, ${this.length})`)
      return t
    })
  }
}

/** Distinct tokens with counts, most frequent first; ties keep the order of first appearance. */
export function countTokens(tokens: string[] | string[][]): [string, number][] {
  const counts = new Map<string, number>()
  for (const t of tokens.flat()) counts.set(t, (counts.get(t) ?? 0) + 1)
  // Array.prototype.sort is stable, so equal counts keep insertion (first-appearance) order.
  return [...counts].sort((a, b) => b[1] - a[1])
}

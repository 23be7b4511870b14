/**
 * A compact vocabulary: the WordPiece ids a corpus actually uses, renumbered 0..n-1. A small BERT
 * trained on one book needs an output layer over a few thousand pieces, not all 30,522, which
 * makes the MLM head and the embeddings several times cheaper; pieces outside the subset map to [UNK].
 * With `minCount`, only the pieces seen at least that many times are kept, as d2l's vocabulary keeps
 * the tokens of frequency at least `min_freq` (d2l.ai 8.2) and maps the rest to its unknown token.
 */
import { ArgumentError } from '@refnets/core'
import { WordPieceTokenizer } from './wordpiece.js'

export class VocabSubset {
  /** Full-vocabulary id of each compact id. */
  readonly fullIds: number[]
  private readonly compactOf: Map<number, number>
  private readonly unk: number

  /**
   * [PAD] (compact 0, the embeddings' padding index), [UNK], [CLS], [SEP], [MASK], then the ids of
   * `ids` that occur at least `minCount` times (default 1: all of them), in increasing order.
   */
  constructor(
    readonly tokenizer: WordPieceTokenizer,
    ids: Iterable<number>,
    { minCount = 1 }: { minCount?: number } = {},
  ) {
    if (!(Number.isInteger(minCount) && minCount >= 1))
      throw new ArgumentError(`VocabSubset: minCount must be a positive integer, got ${minCount}`)
    const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => tokenizer.id(t))
    const counts = new Map<number, number>()
    for (const i of ids) {
      if (!Number.isInteger(i) || i < 0 || i >= tokenizer.size)
        throw new ArgumentError(`VocabSubset: expected ids in [0, ${tokenizer.size}), got ${i}`)
      counts.set(i, (counts.get(i) ?? 0) + 1)
    }
    const rest = [...counts]
      .filter(([i, c]) => c >= minCount && !special.includes(i))
      .map(([i]) => i)
      .sort((a, b) => a - b)
    this.fullIds = [...special, ...rest]
    this.compactOf = new Map(this.fullIds.map((id, k) => [id, k]))
    this.unk = this.compactOf.get(tokenizer.id('[UNK]'))!
  }

  get size(): number {
    return this.fullIds.length
  }

  /** Compact ids of full ids ([UNK] for ids outside the subset). */
  compact(ids: readonly number[]): number[] {
    return ids.map((i) => this.compactOf.get(i) ?? this.unk)
  }

  /** Full ids of compact ids. */
  expand(ids: readonly number[]): number[] {
    return ids.map((i) => {
      const f = this.fullIds[i]
      if (f === undefined) throw new ArgumentError(`VocabSubset: expected compact ids in [0, ${this.size}), got ${i}`)
      return f
    })
  }

  /**
   * A WordPiece tokenizer over the subset alone, whose ids are the compact ids: words whose pieces
   * were left out are split into smaller pieces of the subset instead of becoming [UNK].
   */
  toTokenizer(): WordPieceTokenizer {
    return new WordPieceTokenizer(
      this.fullIds.map((i) => this.tokenizer.idToToken[i]!),
      {
        lowerCase: this.tokenizer.lowerCase,
        stripAccents: this.tokenizer.stripAccents,
        unkToken: this.tokenizer.unkToken,
        maxInputCharsPerWord: this.tokenizer.maxInputCharsPerWord,
        tokenizeChineseChars: this.tokenizer.tokenizeChineseChars,
      },
    )
  }

  /** Tokens of compact ids. */
  tokens(ids: readonly number[]): string[] {
    return this.expand(ids).map((i) => this.tokenizer.idToToken[i]!)
  }
}

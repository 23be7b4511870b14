/**
 * A compact vocabulary: the WordPiece ids a corpus actually uses, renumbered 0..n-1. A small BERT
 * trained on one book needs an output layer over a few thousand pieces, not all 30,522, which
 * makes the MLM head and the embeddings several times cheaper; pieces outside the subset map to [UNK].
 */
import { ArgumentError } from '@refnets/core'
import type { WordPieceTokenizer } from './wordpiece.js'

export class VocabSubset {
  /** Full-vocabulary id of each compact id. */
  readonly fullIds: number[]
  private readonly compactOf: Map<number, number>
  private readonly unk: number

  /** [PAD] (compact 0, the embeddings' padding index), [UNK], [CLS], [SEP], [MASK], then `ids` in increasing order. */
  constructor(
    readonly tokenizer: WordPieceTokenizer,
    ids: Iterable<number>,
  ) {
    const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => tokenizer.id(t))
    const rest = [...new Set(ids)].filter((i) => !special.includes(i)).sort((a, b) => a - b)
    for (const i of rest)
      if (!Number.isInteger(i) || i < 0 || i >= tokenizer.size)
        throw new ArgumentError(`VocabSubset: expected ids in [0, ${tokenizer.size}), got ${i}`)
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

  /** Tokens of compact ids. */
  tokens(ids: readonly number[]): string[] {
    return this.expand(ids).map((i) => this.tokenizer.idToToken[i]!)
  }
}

/**
 * BERT's pretraining data as d2l builds it (d2l.ai 15.9,
 * https://d2l.ai/chapter_natural-language-processing-pretraining/bert-dataset.html; Devlin et al.
 * 2019, https://arxiv.org/abs/1810.04805, section 3.1): sentence pairs where half the second
 * sentences are the true next sentence and half a random sentence (next sentence prediction), and
 * 15% of the tokens chosen for masked language modelling, of which 80% become [MASK], 10% a
 * random token and 10% stay unchanged, so the model cannot rely on seeing [MASK] at test time.
 */
import { ArgumentError, Generator, Tensor } from '@refnets/core'
import type { WordPieceTokenizer } from './wordpiece.js'

/** NSP labels as Hugging Face's BertForPreTraining: 0 = B follows A, 1 = B is a random sentence. */
export const IS_NEXT = 0
export const NOT_NEXT = 1

export interface PretrainingExample {
  /** [CLS] a [SEP] b [SEP] with some tokens masked, padded to maxLen. */
  readonly tokenIds: Int32Array
  readonly segments: Int32Array
  readonly validLen: number
  /** Positions of the MLM predictions, padded with 0 to maxPreds. */
  readonly predPositions: Int32Array
  /** 1 for a real prediction, 0 for padding. */
  readonly mlmWeights: Int32Array
  /** The original token ids at predPositions (0 for padding). */
  readonly mlmLabels: Int32Array
  readonly nspLabel: number
}

export interface PretrainingDataOptions {
  maxLen?: number
  /** Fraction of tokens to predict (default 0.15). */
  maskRate?: number
  seed?: number
  /** Ids a "random token" replacement draws from (default: every id in the corpus but the special tokens). */
  replacementIds?: number[]
  /**
   * The document (a book, an article) each paragraph comes from. When given, a "not next" sentence is
   * drawn from a paragraph of another document, as Google's BERT data builder does
   * (create_pretraining_data.py draws its random segment from a document other than the current one);
   * without it, from any paragraph (d2l's rule, where each paragraph is a document).
   */
  documents?: readonly number[]
  /**
   * How the two parts of an example are cut. 'sentences' (default, d2l): A is a sentence and B the next
   * sentence of its paragraph, or half the time a random sentence. 'segments' (Google's
   * create_pretraining_data.py): the sentences of a document (the consecutive paragraphs of one `documents`
   * id, else one paragraph) are gathered in order until they fill maxLen - 3 tokens (a tenth of the
   * documents aim shorter); A is the first 1..n-1 of them and B the rest, or half the time the sentences of
   * another document from a random one on, up to the length left (the unused sentences start the next
   * chunk); then the longer part loses a token at its front or back, at random, until the pair fits.
   * Longer parts carry more of the topic that next sentence prediction learns from first.
   */
  pairs?: 'sentences' | 'segments'
}

/**
 * Paragraphs (blank-line separated) of sentences (split after . ? ! followed by a space), the way
 * d2l splits WikiText-2 paragraphs into sentences; paragraphs with fewer than two sentences are dropped.
 */
export function splitParagraphs(text: string): string[][] {
  return text
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .replace(/\s+/g, ' ')
        .trim()
        .split(/(?<=[.?!])\s+/)
        .filter((s) => /[A-Za-z]/.test(s)),
    )
    .filter((p) => p.length >= 2)
}

type Pair = [a: number[], b: number[], nspLabel: number]

/** d2l's pairs: each adjacent sentence pair of a paragraph, or the first with a random sentence. */
function* sentencePairs(ids: number[][][], g: Generator, documents?: readonly number[]): Iterable<Pair> {
  for (let p = 0; p < ids.length; p++) {
    const para = ids[p]!
    for (let i = 0; i + 1 < para.length; i++) {
      if (g.random() < 0.5) {
        yield [para[i]!, para[i + 1]!, IS_NEXT]
        continue
      }
      // A random sentence from a random paragraph (as d2l: it may, rarely, be the true next one), of
      // another document when documents are given (10 draws at most, as Google's builder).
      let o = g.int(ids.length)
      for (let t = 0; documents && documents[o] === documents[p] && t < 10; t++) o = g.int(ids.length)
      const other = ids[o]!
      yield [para[i]!, other[g.int(other.length)]!, NOT_NEXT]
    }
  }
}

/** Google's pairs of multi-sentence segments (see PretrainingDataOptions.pairs). */
function* segmentPairs(
  ids: number[][][],
  g: Generator,
  maxTokens: number,
  documents?: readonly number[],
): Iterable<Pair> {
  // The documents' sentences: consecutive paragraphs with one document id, or each paragraph.
  const docs: number[][][] = []
  for (let p = 0; p < ids.length; p++)
    if (p > 0 && documents && documents[p] === documents[p - 1]) docs[docs.length - 1]!.push(...ids[p]!)
    else docs.push([...ids[p]!])
  for (let d = 0; d < docs.length; d++) {
    const doc = docs[d]!
    const target = g.random() < 0.1 ? 2 + g.int(maxTokens - 1) : maxTokens
    let chunk: number[][] = []
    let length = 0
    for (let i = 0; i < doc.length; i++) {
      chunk.push(doc[i]!)
      length += doc[i]!.length
      if (i < doc.length - 1 && length < target) continue
      const aEnd = chunk.length >= 2 ? 1 + g.int(chunk.length - 1) : 1
      const a = chunk.slice(0, aEnd).flat()
      let b: number[]
      let nsp = IS_NEXT
      if (chunk.length === 1 || g.random() < 0.5) {
        nsp = NOT_NEXT
        let o = g.int(docs.length)
        for (let t = 0; o === d && docs.length > 1 && t < 10; t++) o = g.int(docs.length)
        const other = docs[o]!
        b = []
        // At least one sentence, then more while B is short of the length left (as Google's builder).
        for (let s = g.int(other.length); s < other.length; s++) {
          b.push(...other[s]!)
          if (b.length >= target - a.length) break
        }
        i -= chunk.length - aEnd
      } else b = chunk.slice(aEnd).flat()
      while (a.length + b.length > maxTokens) {
        const longer = a.length > b.length ? a : b
        if (g.random() < 0.5) longer.shift()
        else longer.pop()
      }
      yield [a, b, nsp]
      chunk = []
      length = 0
    }
  }
}

/** The pretraining examples of a corpus: every pair (see PretrainingDataOptions.pairs) that fits maxLen, masked. */
export function makePretrainingExamples(
  paragraphs: string[][],
  tokenizer: WordPieceTokenizer,
  opts: PretrainingDataOptions = {},
): PretrainingExample[] {
  const { maxLen = 64, maskRate = 0.15, seed = 0, documents, pairs = 'sentences' } = opts
  if (documents && documents.length !== paragraphs.length)
    throw new ArgumentError(
      `makePretrainingExamples: documents must give one id per paragraph (${paragraphs.length}), got ${documents.length}`,
    )
  if (!(maxLen >= 5)) throw new ArgumentError(`maxLen must be at least 5 ([CLS] a [SEP] b [SEP]), got ${maxLen}`)
  if (pairs !== 'sentences' && pairs !== 'segments')
    throw new ArgumentError(`makePretrainingExamples: pairs must be 'sentences' or 'segments', got ${String(pairs)}`)
  const g = new Generator(seed)
  const ids = paragraphs.map((p) => p.map((s) => tokenizer.tokenize(s).map((t) => tokenizer.id(t))))
  const [cls, sep, mask, pad] = ['[CLS]', '[SEP]', '[MASK]', '[PAD]'].map((t) => tokenizer.id(t)) as [
    number,
    number,
    number,
    number,
  ]
  const special = new Set([cls, sep, mask, pad])
  const replacement =
    opts.replacementIds ?? [...new Set(ids.flat(2))].filter((i) => !special.has(i)).sort((a, b) => a - b)
  if (replacement.length === 0)
    throw new ArgumentError('makePretrainingExamples: the corpus has no tokens to draw replacements from')
  const maxPreds = Math.round(maxLen * maskRate)
  const out: PretrainingExample[] = []
  const newExample = exampleRows(maxLen, maxPreds)
  const source = pairs === 'segments' ? segmentPairs(ids, g, maxLen - 3, documents) : sentencePairs(ids, g, documents)
  for (const [a, b, nsp] of source) {
    if (a.length + b.length + 3 > maxLen || a.length === 0 || b.length === 0) continue
    const tokens = [cls, ...a, sep, ...b, sep]
    const segments = [0, ...a.map(() => 0), 0, ...b.map(() => 1), 1]
    // 15% of the non-special positions, at least one, in random order.
    const candidates = tokens.map((_, k) => k).filter((k) => tokens[k] !== cls && tokens[k] !== sep)
    for (let k = candidates.length - 1; k > 0; k--) {
      const j = g.int(k + 1)
      ;[candidates[k], candidates[j]] = [candidates[j]!, candidates[k]!]
    }
    const numPreds = Math.max(1, Math.round(tokens.length * maskRate))
    const picked = candidates.slice(0, numPreds).sort((x, y) => x - y)
    const masked = [...tokens]
    for (const pos of picked) {
      const r = g.random()
      // 80% [MASK], 10% unchanged, 10% a random token.
      masked[pos] = r < 0.8 ? mask : r < 0.9 ? tokens[pos]! : replacement[g.int(replacement.length)]!
    }
    const e = newExample(tokens.length, nsp)
    e.tokenIds.set(masked)
    e.tokenIds.fill(pad, masked.length)
    e.segments.set(segments)
    e.predPositions.set(picked)
    e.mlmWeights.fill(1, 0, picked.length)
    e.mlmLabels.set(picked.map((k) => tokens[k]!))
    out.push(e)
  }
  return out
}

/**
 * An example stored as one view of a shared block, its arrays cut from it when asked for: a corpus
 * gives tens of thousands of examples, and as objects of JS number arrays they made a heap of ~90 MB
 * that every full garbage collection of the training loop walked (~50 ms each, several a step).
 */
class PackedExample implements PretrainingExample {
  constructor(
    private readonly row: Int32Array,
    private readonly maxLen: number,
    private readonly maxPreds: number,
    readonly validLen: number,
    readonly nspLabel: number,
  ) {}
  get tokenIds() {
    return this.row.subarray(0, this.maxLen)
  }
  get segments() {
    return this.row.subarray(this.maxLen, 2 * this.maxLen)
  }
  get predPositions() {
    return this.part(0)
  }
  get mlmWeights() {
    return this.part(1)
  }
  get mlmLabels() {
    return this.part(2)
  }
  private part(k: number) {
    const at = 2 * this.maxLen + k * this.maxPreds
    return this.row.subarray(at, at + this.maxPreds)
  }
}

/** Rows of examples (tokens, segments, positions, weights, labels) cut from blocks of 1,024. */
function exampleRows(maxLen: number, maxPreds: number) {
  const BLOCK = 1024
  const width = 2 * maxLen + 3 * maxPreds
  let block = new Int32Array(0)
  let used = 0
  return (validLen: number, nspLabel: number) => {
    if (used === block.length) {
      block = new Int32Array(BLOCK * width)
      used = 0
    }
    used += width
    return new PackedExample(block.subarray(used - width, used), maxLen, maxPreds, validLen, nspLabel)
  }
}

export interface PretrainingBatch {
  inputIds: Tensor
  tokenTypeIds: Tensor
  attentionMask: Tensor
  predPositions: Tensor
  mlmWeights: Tensor
  mlmLabels: Tensor
  nspLabels: Tensor
}

/**
 * Stack examples into tensors: (B, T) int32 ids, types and mask; (B, P) positions, weights, labels;
 * (B) NSP labels. With `trim`, T is the batch's longest valid length instead of maxLen: the padding
 * beyond it is masked anyway, so the outputs at real tokens are the same and the step is cheaper.
 */
export function collatePretraining(
  examples: PretrainingExample[],
  { dtype = 'float32', trim = false }: { dtype?: 'float32' | 'float64'; trim?: boolean } = {},
): PretrainingBatch {
  const B = examples.length
  if (B === 0) throw new ArgumentError('collatePretraining: expected at least one example, got none')
  const T = trim ? Math.max(...examples.map((e) => e.validLen)) : examples[0]!.tokenIds.length
  const P = examples[0]!.predPositions.length
  /** (B, n) int32: each example's row, its first n values. */
  const rows = (f: (e: PretrainingExample) => Int32Array, n: number) => {
    const d = new Int32Array(B * n)
    for (let i = 0; i < B; i++) d.set(f(examples[i]!).subarray(0, n), i * n)
    return new Tensor(d, [B, n])
  }
  const mask = new Int32Array(B * T)
  for (let i = 0; i < B; i++) mask.fill(1, i * T, i * T + Math.min(T, examples[i]!.validLen))
  return {
    inputIds: rows((e) => e.tokenIds, T),
    tokenTypeIds: rows((e) => e.segments, T),
    attentionMask: new Tensor(mask, [B, T]),
    predPositions: rows((e) => e.predPositions, P),
    mlmWeights: rows((e) => e.mlmWeights, P).to(dtype),
    mlmLabels: rows((e) => e.mlmLabels, P),
    nspLabels: new Tensor(Int32Array.from(examples.map((e) => e.nspLabel)), [B]),
  }
}

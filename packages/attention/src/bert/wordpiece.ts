/**
 * BERT's WordPiece tokenizer (Devlin et al. 2019, https://arxiv.org/abs/1810.04805, section 3;
 * Wu et al. 2016, https://arxiv.org/abs/1609.08144; d2l.ai 15.8): basic tokenisation as BERT's
 * release does it (drop control characters, map whitespace to spaces, put spaces around CJK
 * ideographs, lower-case and strip accents, split off punctuation), then greedy longest-match-first
 * WordPiece with `##` marking a piece that continues a word, and [UNK] for a word it cannot cover
 * (or one longer than 100 characters). Encoding adds [CLS]/[SEP], token type ids for sentence
 * pairs, truncation, padding, attention masks and character offsets back into the text.
 */
import { ArgumentError, ShapeError } from '@refnets/core'

export interface WordPieceOptions {
  lowerCase?: boolean
  /** Strip accents (default: as lowerCase, like BERT's uncased models). */
  stripAccents?: boolean
  unkToken?: string
  maxInputCharsPerWord?: number
  /** Put spaces around CJK ideographs (default true). */
  tokenizeChineseChars?: boolean
}

export interface EncodeOptions {
  /** Add [CLS] ... [SEP] (default true). */
  addSpecialTokens?: boolean
  /** Truncate to this many tokens (special tokens included), longest sequence first. */
  maxLength?: number
  truncation?: boolean
  /** Pad with [PAD] to maxLength. */
  padding?: boolean
}

export interface Encoding {
  tokens: string[]
  ids: number[]
  /** 0 for [CLS], the first sentence and its [SEP]; 1 for the second sentence and its [SEP]. */
  tokenTypeIds: number[]
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[]
  /** [start, end) in UTF-16 code units of the input text ([0, 0] for special and pad tokens). */
  offsets: [number, number][]
  /** Which input (0 or 1) each token came from, null for special and pad tokens. */
  sequenceIds: (number | null)[]
}

/** A basic token: its normalised text and, per character of it, the [start, end) of its source character. */
interface Piece {
  text: string
  spans: [number, number][]
}

const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c)
const isControl = (c: string) => c !== '\t' && c !== '\n' && c !== '\r' && /\p{C}/u.test(c)
// BERT treats every non-alphanumeric ASCII character as punctuation ("^", "$", "`"), plus Unicode P*.
const isPunctuation = (c: string) => {
  const cp = c.codePointAt(0)!
  return (
    (cp >= 33 && cp <= 47) ||
    (cp >= 58 && cp <= 64) ||
    (cp >= 91 && cp <= 96) ||
    (cp >= 123 && cp <= 126) ||
    /\p{P}/u.test(c)
  )
}
/** The CJK Unified Ideographs blocks BERT spaces out (not Hiragana, Katakana or Hangul). */
const isCjk = (cp: number) =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f)

export class WordPieceTokenizer {
  readonly vocab: Map<string, number>
  readonly idToToken: string[]
  readonly lowerCase: boolean
  readonly stripAccents: boolean
  readonly unkToken: string
  readonly maxInputCharsPerWord: number
  readonly tokenizeChineseChars: boolean

  /** `tokens`: the vocabulary, id = index (one token per line of BERT's vocab.txt). */
  constructor(tokens: string[], opts: WordPieceOptions = {}) {
    this.idToToken = tokens
    this.vocab = new Map(tokens.map((t, i) => [t, i]))
    this.lowerCase = opts.lowerCase ?? true
    this.stripAccents = opts.stripAccents ?? this.lowerCase
    this.unkToken = opts.unkToken ?? '[UNK]'
    this.maxInputCharsPerWord = opts.maxInputCharsPerWord ?? 100
    this.tokenizeChineseChars = opts.tokenizeChineseChars ?? true
    for (const t of [this.unkToken, '[CLS]', '[SEP]', '[PAD]', '[MASK]'])
      if (!this.vocab.has(t)) throw new ArgumentError(`WordPieceTokenizer: the vocabulary must contain ${t}`)
  }

  /** Parse vocab.txt: one token per line (a final newline is not a token). */
  static fromVocabText(text: string, opts: WordPieceOptions = {}): WordPieceTokenizer {
    const lines = text.split('\n').map((l) => l.replace(/\r$/, ''))
    if (lines.at(-1) === '') lines.pop()
    return new WordPieceTokenizer(lines, opts)
  }

  get size(): number {
    return this.idToToken.length
  }

  id(token: string): number {
    return this.vocab.get(token) ?? this.vocab.get(this.unkToken)!
  }

  /** Clean, split on whitespace, CJK and punctuation, lower-case and strip accents. */
  private basic(text: string): Piece[] {
    const out: Piece[] = []
    let cur: Piece = { text: '', spans: [] }
    const flush = () => {
      if (cur.text) out.push(cur)
      cur = { text: '', spans: [] }
    }
    const push = (s: string, span: [number, number]) => {
      for (const ch of s) {
        cur.text += ch
        for (let k = 0; k < ch.length; k++) cur.spans.push(span)
      }
    }
    // Whitespace-delimited words first (after cleaning), so lower-casing sees whole words (final sigma).
    const words: { text: string; start: number }[] = []
    let word = ''
    let wordStart = 0
    for (let i = 0; i < text.length; ) {
      const ch = String.fromCodePoint(text.codePointAt(i)!)
      const cp = ch.codePointAt(0)!
      const sep = isWhitespace(ch) || (this.tokenizeChineseChars && isCjk(cp))
      const drop = cp === 0 || cp === 0xfffd || isControl(ch)
      if (sep || drop) {
        if (!drop || sep) {
          if (word) words.push({ text: word, start: wordStart })
          word = ''
        }
        if (sep && !isWhitespace(ch)) words.push({ text: ch, start: i })
        if (drop && !sep) {
          // A dropped control character does not split the word: keep its place with a marker.
          if (!word) wordStart = i
          word += '\u0000'
        }
      } else {
        if (!word) wordStart = i
        word += ch
      }
      i += ch.length
    }
    if (word) words.push({ text: word, start: wordStart })

    for (const w of words) {
      // Source span of every UTF-16 unit of the word ('\0' markers stand for dropped characters).
      const srcSpans: [number, number][] = []
      for (let i = 0; i < w.text.length; ) {
        const cp = w.text.codePointAt(i)!
        const n = cp > 0xffff ? 2 : 1
        for (let k = 0; k < n; k++) srcSpans.push([w.start + i, w.start + i + n])
        i += n
      }
      const lower = this.lowerCase ? w.text.toLowerCase() : w.text
      const sameLength = lower.length === w.text.length
      for (let i = 0; i < lower.length; ) {
        const cp = lower.codePointAt(i)!
        const ch = String.fromCodePoint(cp)
        const span = srcSpans[sameLength ? i : Math.min(i, srcSpans.length - 1)]!
        i += ch.length
        if (ch === '\u0000') continue
        const norm = this.stripAccents ? ch.normalize('NFD').replace(/\p{Mn}/gu, '') : ch
        for (const c of norm) {
          if (isPunctuation(c)) {
            flush()
            push(c, span)
            flush()
          } else push(c, span)
        }
      }
      flush()
    }
    // Lower-casing may change lengths (rare): re-derive spans per character in that case.
    return out.map((p) =>
      p.spans.length === p.text.length ? p : { text: p.text, spans: Array.from(p.text, () => p.spans[0]!) },
    )
  }

  /** Greedy longest-match-first WordPiece of one basic token. */
  private wordPiece(p: Piece): { token: string; span: [number, number] }[] {
    const chars = Array.from(p.text)
    const spanOf = (charStart: number, charEnd: number): [number, number] => {
      const u0 = chars.slice(0, charStart).join('').length
      const u1 = chars.slice(0, charEnd).join('').length
      return [p.spans[u0]![0], p.spans[u1 - 1]![1]]
    }
    if (chars.length > this.maxInputCharsPerWord) return [{ token: this.unkToken, span: spanOf(0, chars.length) }]
    const pieces: { token: string; span: [number, number] }[] = []
    let start = 0
    while (start < chars.length) {
      let end = chars.length
      let found: string | null = null
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('')
        if (this.vocab.has(sub)) {
          found = sub
          break
        }
        end--
      }
      if (found === null) return [{ token: this.unkToken, span: spanOf(0, chars.length) }]
      pieces.push({ token: found, span: spanOf(start, end) })
      start = end
    }
    return pieces
  }

  private pieces(text: string): { token: string; span: [number, number] }[] {
    return this.basic(text).flatMap((p) => this.wordPiece(p))
  }

  /** WordPiece tokens of a text, without special tokens. */
  tokenize(text: string): string[] {
    return this.pieces(text).map((p) => p.token)
  }

  /**
   * Encode one text or a pair: [CLS] a [SEP] (b [SEP]), with token type ids, attention mask and
   * offsets. With `maxLength` and truncation (the default when maxLength is set), tokens are removed
   * from the end of the longer sequence first; with `padding`, [PAD] fills up to maxLength.
   */
  encode(text: string, pair?: string | null, opts: EncodeOptions = {}): Encoding {
    const { addSpecialTokens = true, maxLength, truncation = maxLength !== undefined, padding = false } = opts
    const a = this.pieces(text)
    const b = pair === undefined || pair === null ? null : this.pieces(pair)
    const special = addSpecialTokens ? (b ? 3 : 2) : 0
    if (maxLength !== undefined) {
      if (!Number.isInteger(maxLength) || maxLength < special + (b ? 2 : 1))
        throw new ArgumentError(
          `encode: maxLength must be an integer >= ${special + (b ? 2 : 1)} to hold the special tokens ` +
            `and one token per text, got ${maxLength}`,
        )
      if (truncation) while (a.length + (b?.length ?? 0) + special > maxLength) (b && b.length > a.length ? b : a).pop()
      else if (a.length + (b?.length ?? 0) + special > maxLength)
        throw new ShapeError(
          `encode: ${a.length + (b?.length ?? 0) + special} tokens do not fit maxLength ${maxLength} ` +
            `and truncation is off`,
        )
    }
    const enc: Encoding = { tokens: [], ids: [], tokenTypeIds: [], attentionMask: [], offsets: [], sequenceIds: [] }
    const add = (token: string, type: number, span: [number, number], seq: number | null, mask = 1) => {
      enc.tokens.push(token)
      enc.ids.push(this.id(token))
      enc.tokenTypeIds.push(type)
      enc.attentionMask.push(mask)
      enc.offsets.push(span)
      enc.sequenceIds.push(seq)
    }
    if (addSpecialTokens) add('[CLS]', 0, [0, 0], null)
    for (const p of a) add(p.token, 0, p.span, 0)
    if (addSpecialTokens) add('[SEP]', 0, [0, 0], null)
    if (b) {
      for (const p of b) add(p.token, 1, p.span, 1)
      if (addSpecialTokens) add('[SEP]', 1, [0, 0], null)
    }
    if (padding && maxLength !== undefined) while (enc.ids.length < maxLength) add('[PAD]', 0, [0, 0], null, 0)
    return enc
  }

  /** Join tokens back to text: "##" pieces attach to the previous word; special tokens are skipped. */
  decode(ids: number[], { skipSpecialTokens = true } = {}): string {
    const special = new Set(['[CLS]', '[SEP]', '[PAD]', '[MASK]'])
    let out = ''
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.size)
        throw new ArgumentError(`decode: token id must be in [0, ${this.size}), got ${id}`)
      const t = this.idToToken[id]!
      if (skipSpecialTokens && special.has(t)) continue
      out += t.startsWith('##') ? t.slice(2) : (out ? ' ' : '') + t
    }
    return out
  }
}

/**
 * Tokenisation as in d2l.ai's text-preprocessing chapter (https://d2l.ai/chapter_recurrent-neural-networks/text-sequence.html):
 * a line becomes a list of words (split on spaces) or of characters. Preprocessing of raw text
 * (keep letters, lower-case) lives with the corpus loaders.
 */
import { ArgumentError } from '@refnets/core'

export type TokenKind = 'word' | 'char'

/** Split each line into word or character tokens. Empty words (double spaces) are dropped. */
export function tokenize(lines: string[], kind: TokenKind = 'word'): string[][] {
  if (kind === 'word') return lines.map((l) => l.split(' ').filter((w) => w.length > 0))
  if (kind === 'char') return lines.map((l) => [...l])
  throw new ArgumentError(`tokenize: kind must be 'word' or 'char', got '${String(kind)}'`)
}

/**
 * d2l's preprocessing of the time machine: every run of non-letters becomes one space, then
 * lower-case. The result is one string (173,428 characters for the whole book).
 */
export function preprocessTimeMachine(text: string): string {
  return text.replace(/[^A-Za-z]+/g, ' ').toLowerCase()
}

/** d2l's preprocess_nmt for one sentence: no-break spaces become spaces, lower case, and a space
 * before , . ! ? so punctuation is a token of its own. */
export function preprocessNmt(s: string): string {
  const t = s.replace(/[\u202f\u00a0]/g, ' ').toLowerCase()
  let out = ''
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!
    if (i > 0 && ',.!?'.includes(c) && t[i - 1] !== ' ') out += ' '
    out += c
  }
  return out
}

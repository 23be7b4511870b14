/**
 * Node-only loaders of the public text files in the `shared/data` folder next to the repository
 * (`<repo>/../shared/data/text/...`): the time machine and the English-French pairs.
 * Import from `@refnets/rnn/data`; everything else in the package runs in any JavaScript runtime.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ArgumentError } from '@refnets/core'
import { preprocessNmt, preprocessTimeMachine, tokenize } from './text/tokenize.js'
import { Vocab } from './text/vocab.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Absolute path of a file under `<repo>/../shared/data`. */
export const sharedDataPath = (...parts: string[]): string => resolve(repoRoot, '../shared/data', ...parts)

/** The raw text of H. G. Wells' The Time Machine, as d2l.ai downloads it. */
export const readTimeMachine = (path = sharedDataPath('text/timemachine.txt')): string => readFileSync(path, 'utf8')

export interface TimeMachine {
  /** The preprocessed text (letters and single spaces, lower case). */
  text: string
  /** Token ids of the whole book. */
  corpus: Int32Array
  vocab: Vocab
}

/**
 * d2l's load_corpus_time_machine: character (default) or word tokens of the preprocessed book and
 * their vocabulary (28 entries for characters: `<unk>`, space and 26 letters).
 */
export function loadTimeMachine(kind: 'char' | 'word' = 'char', path?: string): TimeMachine {
  const text = preprocessTimeMachine(readTimeMachine(path))
  const tokens = kind === 'char' ? [...text] : tokenize([text], 'word')[0]!
  const vocab = new Vocab(tokens)
  return { text, corpus: Int32Array.from(vocab.encode(tokens)), vocab }
}

/**
 * English-French sentence pairs (tab separated, shortest first). d2l's preprocessing: narrow and
 * ordinary no-break spaces become spaces, lower case, and a space before , . ! ? so punctuation is
 * a token of its own.
 */
export function loadFraEng(path = sharedDataPath('text/fra-eng.txt'), maxPairs = Infinity): [string, string][] {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean)
  const pairs: [string, string][] = []
  for (const line of lines.slice(0, maxPairs)) {
    const cols = line.split('\t')
    if (cols.length < 2) throw new ArgumentError(`fra-eng: expected 'English<TAB>French', got '${line.slice(0, 60)}'`)
    pairs.push([preprocessNmt(cols[0]!), preprocessNmt(cols[1]!)])
  }
  return pairs
}

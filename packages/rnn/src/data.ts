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
import { type SourceGroup, groupBySource, splitGroups } from './nmt.js'
import { bleu, tokens } from './bleu.js'

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

/** The English -> French data both translation examples train and test on (see `fraEngTranslationData`). */
export interface FraEngTranslationData {
  pairs: [string, string][]
  groups: SourceGroup[]
  train: SourceGroup[]
  test: SourceGroup[]
  /** Every (English, French) pair of the training groups. */
  trainPairs: [string, string][]
  /** Vocabularies of the training pairs' tokens (min frequency, reserved <pad> <bos> <eos>). */
  src: Vocab
  tgt: Vocab
}

/**
 * The fra-eng split of the seq2seq examples (rnn's GRU, attention's Transformer), in one place so their BLEU
 * compares: the first `maxPairs` pairs grouped by English sentence, 10% of the groups (a permutation seeded
 * with 0) held out as the test set, and vocabularies built from the training pairs only.
 */
export function fraEngTranslationData(maxPairs: number, minFreq: number, path?: string): FraEngTranslationData {
  const pairs = loadFraEng(path, maxPairs)
  const groups = groupBySource(pairs)
  const { train, test } = splitGroups(groups, 0.1, 0)
  const trainPairs = train.flatMap((g) => g.references.map((r) => [g.source, r] as [string, string]))
  const special = { minFreq, reservedTokens: ['<pad>', '<bos>', '<eos>'] }
  const src = new Vocab(
    trainPairs.map(([e]) => tokens(e)),
    special,
  )
  const tgt = new Vocab(
    trainPairs.map(([, f]) => tokens(f)),
    special,
  )
  return { pairs, groups, train, test, trainPairs, src, tgt }
}

/** d2l's four example sentences (https://d2l.ai/chapter_recurrent-modern/seq2seq.html). */
export const D2L_SENTENCES = ['go .', 'i lost .', "he's calm .", "i'm home ."] as const

/**
 * d2l's four sentences translated by `translate` and scored with d2l's BLEU (k = 2) against their best
 * reference; `bleu` is null for a sentence that is not in the data (no reference), and `training` says whether
 * it is one of the training sentences.
 */
export function scoreD2lSentences(
  data: FraEngTranslationData,
  translate: (sentence: string) => string,
): { source: string; translation: string; bleu: number | null; training: boolean }[] {
  const training = new Set(data.train.map((g) => g.source))
  return D2L_SENTENCES.map((source) => {
    const refs = data.groups.find((g) => g.source === source)?.references ?? []
    const translation = translate(source)
    const score = refs.length ? Math.max(...refs.map((r) => bleu(translation, r, 2))) : null
    return { source, translation, bleu: score, training: training.has(source) }
  })
}

/** One line per sentence of `scoreD2lSentences`, as the examples print them. */
export function formatD2lScore(r: ReturnType<typeof scoreD2lSentences>[number]): string {
  if (r.bleu === null) return `${r.source} => ${r.translation} (not in the data: no reference to score against)`
  const where = r.training ? 'a training sentence' : 'a test sentence'
  return `${r.source} => ${r.translation}, bleu ${r.bleu.toFixed(3)} (d2l's BLEU, k = 2, best reference; ${where})`
}

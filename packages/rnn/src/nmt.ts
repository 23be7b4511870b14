/**
 * Machine-translation data and inference for the seq2seq model
 * (https://d2l.ai/chapter_recurrent-modern/machine-translation-and-dataset.html):
 * - `groupBySource`: all translations of one source sentence become its references, and the
 *   train/test split is made over distinct source sentences, so no test source is seen in training;
 * - `truncatePad`: fixed-length id rows (<eos> appended, then <pad>), with valid lengths;
 * - `translate`: greedy or beam-search decoding of one sentence with a trained Seq2Seq; tokens
 *   listed in `suppress` (by default `<pad>` and `<bos>`, never a valid output) get log-probability
 *   -Infinity, so decoding picks the best other token (suppressing `<unk>` as well makes the model
 *   emit its best in-vocabulary guess instead of a token that matches no reference).
 */
import { type Tensor, ArgumentError, Generator, Tensor as T, logSoftmax, noGrad } from '@refnets/core'
import { type Hypothesis, beamSearch, greedyDecode } from './decode.js'
import type { Seq2Seq } from './models/seq2seq.js'
import { tokens as split } from './bleu.js'
import type { Vocab } from './text/vocab.js'

export interface SourceGroup {
  source: string
  references: string[]
}

/** Group pairs by source sentence (first-appearance order). */
export function groupBySource(pairs: [string, string][]): SourceGroup[] {
  const m = new Map<string, string[]>()
  for (const [s, t] of pairs) {
    const refs = m.get(s)
    if (refs) refs.push(t)
    else m.set(s, [t])
  }
  return [...m].map(([source, references]) => ({ source, references }))
}

/**
 * Split groups into train and test: a seeded permutation of the groups, the first `testFraction`
 * of it for test. Deterministic for a given seed and input order.
 */
export function splitGroups(
  groups: SourceGroup[],
  testFraction: number,
  seed = 0,
): { train: SourceGroup[]; test: SourceGroup[] } {
  if (!(testFraction > 0 && testFraction < 1))
    throw new ArgumentError(`testFraction must be in (0, 1), got ${testFraction}`)
  const perm = new Generator(seed).permutation(groups.length)
  const nTest = Math.round(groups.length * testFraction)
  const test: SourceGroup[] = []
  const train: SourceGroup[] = []
  perm.forEach((g, i) => {
    ;(i < nTest ? test : train).push(groups[g]!)
  })
  return { train, test }
}

/** Ids of a sentence + <eos>, cut or padded with <pad> to numSteps; returns ids and the valid length. */
export function truncatePad(sentence: string, vocab: Vocab, numSteps: number): { ids: number[]; validLen: number } {
  const ids = [...vocab.encode(split(sentence)), vocab.indexOf('<eos>')].slice(0, numSteps)
  const validLen = ids.length
  while (ids.length < numSteps) ids.push(vocab.indexOf('<pad>'))
  return { ids, validLen }
}

/** Rows of ids as a (B, T) int32 tensor. */
export const idRows = (rows: number[][]): Tensor => new T(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length])

export interface TranslateOptions {
  numSteps: number
  beamSize?: number
  alpha?: number
  /** Target tokens never emitted (default `<pad>` and `<bos>`). */
  suppress?: string[]
}

/** Translate one preprocessed sentence: greedy with beamSize 1 (default), else beam search. */
export function translate(
  model: Seq2Seq,
  srcVocab: Vocab,
  tgtVocab: Vocab,
  sentence: string,
  { numSteps, beamSize = 1, alpha = 0.75, suppress = ['<pad>', '<bos>'] }: TranslateOptions,
): { text: string; hypothesis: Hypothesis } {
  const banned = suppress.map((tok) => {
    const i = tgtVocab.indexOf(tok)
    if (i === tgtVocab.unk && tok !== '<unk>')
      throw new ArgumentError(`translate: cannot suppress '${tok}', which is not in the target vocabulary`)
    if (tok === '<eos>') throw new ArgumentError('translate: <eos> cannot be suppressed (decoding would never end)')
    return i
  })
  return noGrad(() => {
    const wasTraining = model.training
    model.eval()
    try {
      const { ids, validLen } = truncatePad(sentence, srcVocab, numSteps)
      const { state, context } = model.encode(idRows([ids]), [validLen])
      const step = (prev: number, s: Tensor) => {
        // (1, 1) -> logits (1, 1, V) -> log-probabilities (V)
        const [logits, next] = model.decoder.call(idRows([[prev]]), s, context)
        const logProbs = Float64Array.from(logSoftmax(logits!, -1).data)
        for (const i of banned) logProbs[i] = Number.NEGATIVE_INFINITY
        return { logProbs, state: next! }
      }
      const opts = { bos: tgtVocab.indexOf('<bos>'), eos: tgtVocab.indexOf('<eos>'), maxLen: numSteps }
      const hyp =
        beamSize === 1 ? greedyDecode(step, state, opts) : beamSearch(step, state, { ...opts, beamSize, alpha })[0]!
      return { text: tgtVocab.decode(hyp.tokens).join(' '), hypothesis: hyp }
    } finally {
      model.train(wasTraining)
    }
  })
}

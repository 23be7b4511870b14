/**
 * Decoding a sequence from a step-wise model (https://d2l.ai/chapter_recurrent-modern/beam-search.html):
 * - greedy: the most likely token at each step;
 * - beam search (Sutskever et al. 2014, https://arxiv.org/abs/1409.3215): keep the `beamSize`
 *   best partial sequences by summed log-probability, expand each by its `beamSize` best tokens,
 *   set aside those that emit `<eos>`, and finally pick the candidate with the best
 *   length-normalised score (1 / L^alpha) * sum_t log P(y_t | y_<t, c), L counting every emitted
 *   token, `<eos>` included (d2l uses alpha = 0.75).
 * The model is a function from (previous token, state) to (log-probabilities over the vocabulary,
 * new state), so any decoder (a seq2seq GRU, a language model) can be plugged in.
 */
import { ArgumentError } from '@refnets/core'

export type StepFn<S> = (prevToken: number, state: S) => { logProbs: ArrayLike<number>; state: S }

export interface Hypothesis {
  /** Emitted tokens, without `<bos>` and without `<eos>`. */
  tokens: number[]
  /** Summed log-probability of the emitted tokens (`<eos>` included when emitted). */
  logProb: number
  /** logProb / L^alpha. */
  score: number
  finished: boolean
}

export interface DecodeOptions {
  bos: number
  eos: number
  maxLen: number
}

/** Greedy decoding: argmax at each step, until `<eos>` or maxLen tokens. */
export function greedyDecode<S>(step: StepFn<S>, init: S, { bos, eos, maxLen }: DecodeOptions): Hypothesis {
  if (!(maxLen >= 1)) throw new ArgumentError(`maxLen must be >= 1, got ${maxLen}`)
  const out: number[] = []
  let state = init
  let prev = bos
  let logProb = 0
  for (let t = 0; t < maxLen; t++) {
    const r = step(prev, state)
    state = r.state
    let best = 0
    for (let v = 1; v < r.logProbs.length; v++) if (r.logProbs[v]! > r.logProbs[best]!) best = v
    logProb += r.logProbs[best]!
    if (best === eos) return { tokens: out, logProb, score: logProb, finished: true }
    out.push(best)
    prev = best
  }
  return { tokens: out, logProb, score: logProb, finished: false }
}

interface Beam<S> {
  tokens: number[]
  logProb: number
  state: S
}

const normalised = (logProb: number, len: number, alpha: number) => logProb / Math.max(len, 1) ** alpha

/**
 * Beam search; returns every candidate (finished or cut at maxLen), best score first.
 * beamSize 1 is greedy search.
 */
export function beamSearch<S>(
  step: StepFn<S>,
  init: S,
  { bos, eos, maxLen, beamSize = 4, alpha = 0.75 }: DecodeOptions & { beamSize?: number; alpha?: number },
): Hypothesis[] {
  if (!Number.isInteger(beamSize) || beamSize < 1)
    throw new ArgumentError(`beamSize must be a positive integer, got ${beamSize}`)
  if (!(maxLen >= 1)) throw new ArgumentError(`maxLen must be >= 1, got ${maxLen}`)
  let beams: Beam<S>[] = [{ tokens: [], logProb: 0, state: init }]
  const done: Hypothesis[] = []
  for (let t = 0; t < maxLen && beams.length > 0; t++) {
    const expanded: { from: Beam<S>; token: number; logProb: number; state: S }[] = []
    for (const b of beams) {
      const r = step(b.tokens.length ? b.tokens[b.tokens.length - 1]! : bos, b.state)
      // The beamSize best tokens of this beam (enough: no more than beamSize survive overall).
      const idx = Array.from({ length: r.logProbs.length }, (_, v) => v)
        .sort((a, c) => r.logProbs[c]! - r.logProbs[a]! || a - c)
        .slice(0, beamSize)
      for (const v of idx) expanded.push({ from: b, token: v, logProb: b.logProb + r.logProbs[v]!, state: r.state })
    }
    expanded.sort((a, b) => b.logProb - a.logProb)
    const next: Beam<S>[] = []
    for (const e of expanded) {
      if (next.length === beamSize) break
      if (e.token === eos) {
        const score = normalised(e.logProb, e.from.tokens.length + 1, alpha)
        done.push({ tokens: e.from.tokens, logProb: e.logProb, score, finished: true })
        continue
      }
      next.push({ tokens: [...e.from.tokens, e.token], logProb: e.logProb, state: e.state })
    }
    beams = next
  }
  for (const b of beams)
    done.push({
      tokens: b.tokens,
      logProb: b.logProb,
      score: normalised(b.logProb, b.tokens.length, alpha),
      finished: false,
    })
  return done.sort((a, b) => b.score - a.score)
}

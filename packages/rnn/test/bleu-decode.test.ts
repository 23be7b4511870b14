/**
 * BLEU against NLTK 3.8 (fixtures/bleu.json, written by scripts/gen_bleu_fixtures.py) on 24 fixed
 * sentence pairs: d2l's sentence BLEU (k = 2, 3, 4) and corpus BLEU-4 / BLEU-2 with several
 * references. Greedy and beam search on a fixed Markov model where greedy is not optimal,
 * checked against exhaustive enumeration.
 */
import { ArgumentError } from '@refnets/core'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type StepFn, beamSearch, bleu, corpusBleu, greedyDecode } from '../src/index.js'

interface BleuCase {
  hypothesis: string
  references: string[]
  d2l: Record<string, number>
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/bleu.json', import.meta.url), 'utf8')) as {
  nltk: string
  cases: BleuCase[]
  corpusBleu4: number
  corpusBleu4First12: number
  corpusBleu2: number
}

describe('BLEU matches NLTK', () => {
  it('has at least 20 fixed pairs', () => expect(fx.cases.length).toBeGreaterThanOrEqual(20))

  it.each(fx.cases.map((c, i) => [i, c] as [number, BleuCase]))("d2l's sentence BLEU, pair %i", (_i, c) => {
    for (const k of ['2', '3', '4']) expect(bleu(c.hypothesis, c.references[0]!, Number(k))).toBeCloseTo(c.d2l[k]!, 12)
  })

  it('corpus BLEU-4 and BLEU-2 with all references', () => {
    const refs = fx.cases.map((c) => c.references)
    const hyps = fx.cases.map((c) => c.hypothesis)
    expect(corpusBleu(refs, hyps)).toBeCloseTo(fx.corpusBleu4, 12)
    expect(corpusBleu(refs.slice(0, 12), hyps.slice(0, 12))).toBeCloseTo(fx.corpusBleu4First12, 12)
    expect(corpusBleu(refs, hyps, [0.5, 0.5])).toBeCloseTo(fx.corpusBleu2, 12)
  })

  it('d2l examples and edge cases', () => {
    expect(bleu('il est calme .', 'il est calme .', 2)).toBe(1)
    expect(bleu('', 'a b', 2)).toBe(0)
    // Brevity penalty: a correct but short prediction scores below 1.
    expect(bleu('a b', 'a b c d', 2)).toBeCloseTo(Math.exp(1 - 4 / 2), 15)
    expect(() => bleu('a', 'a', 0)).toThrow(ArgumentError)
    expect(() => corpusBleu([['a']], ['a', 'b'])).toThrow(ArgumentError)
  })
})

/**
 * A fixed model over tokens {0: eos, 1: a, 2: b}; the next-token distribution depends on the
 * previous token only. Greedy picks `a` first (0.5), but `b` leads to a surer continuation.
 */
const TABLE: Record<number, number[]> = {
  [-1]: [0.05, 0.5, 0.45], // after <bos>
  1: [0.34, 0.33, 0.33],
  2: [0.9, 0.05, 0.05],
}
const BOS = -1
const markov: StepFn<null> = (prev, state) => ({ logProbs: TABLE[prev]!.map(Math.log), state })

function exhaustive(maxLen: number, alpha: number): { tokens: number[]; score: number } {
  let best = { tokens: [] as number[], score: -Infinity }
  const visit = (seq: number[], lp: number) => {
    const prev = seq.length ? seq[seq.length - 1]! : BOS
    const lps = TABLE[prev]!.map(Math.log)
    // End here with <eos>.
    const s = (lp + lps[0]!) / (seq.length + 1) ** alpha
    if (s > best.score) best = { tokens: seq, score: s }
    if (seq.length + 1 === maxLen) {
      for (const v of [1, 2]) {
        const sc = (lp + lps[v]!) / (seq.length + 1) ** alpha
        if (sc > best.score) best = { tokens: [...seq, v], score: sc }
      }
      return
    }
    for (const v of [1, 2]) visit([...seq, v], lp + lps[v]!)
  }
  visit([], 0)
  return best
}

describe('greedy and beam search', () => {
  const opts = { bos: BOS, eos: 0, maxLen: 4 }

  it('greedy takes the argmax at each step', () => {
    const g = greedyDecode(markov, null, opts)
    expect(g.tokens).toEqual([1])
    expect(g.logProb).toBeCloseTo(Math.log(0.5) + Math.log(0.34), 12)
  })

  it('beam search finds a better sequence than greedy, and with a full beam the exhaustive optimum', () => {
    const b = beamSearch(markov, null, { ...opts, beamSize: 2, alpha: 0.75 })[0]!
    expect(b.tokens).toEqual([2])
    expect(b.logProb).toBeGreaterThan(greedyDecode(markov, null, opts).logProb)
    for (const alpha of [0, 0.75, 1]) {
      const full = beamSearch(markov, null, { ...opts, beamSize: 3 ** 4, alpha })[0]!
      const ex = exhaustive(4, alpha)
      expect(full.score).toBeCloseTo(ex.score, 12)
      expect(full.tokens).toEqual(ex.tokens)
    }
  })

  it('beam 1 is greedy; bad options are rejected', () => {
    expect(beamSearch(markov, null, { ...opts, beamSize: 1, alpha: 0 })[0]!.tokens).toEqual(
      greedyDecode(markov, null, opts).tokens,
    )
    expect(() => beamSearch(markov, null, { ...opts, beamSize: 0 })).toThrow(ArgumentError)
    expect(() => greedyDecode(markov, null, { ...opts, maxLen: 0 })).toThrow(ArgumentError)
  })
})

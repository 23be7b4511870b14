/**
 * BLEU (Papineni et al. 2002, https://aclanthology.org/P02-1040/), in two forms:
 * - `bleu`: d2l's sentence score
 *   (https://d2l.ai/chapter_recurrent-modern/seq2seq.html#evaluation-of-predicted-sequences):
 *   exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n^(1/2^n): the brevity penalty, and
 *   longer n-gram matches weighted more (p_n^(1/2^n) grows with n for p_n < 1);
 * - `corpusBleu`: the standard corpus-level BLEU-4 (uniform weights 1/4): clipped n-gram counts
 *   summed over the corpus, each hypothesis clipped against the maximum count over its references,
 *   and a brevity penalty from the summed closest reference lengths (ties: the shorter one), as
 *   NLTK's corpus_bleu without smoothing.
 * Tokens are strings; `tokens('a b c')` splits on spaces.
 */
import { ArgumentError } from '@refnets/core'

export const tokens = (s: string): string[] => s.split(' ').filter((t) => t.length > 0)

function ngramCounts(toks: string[], n: number): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i + n <= toks.length; i++) {
    const g = toks.slice(i, i + n).join('\u0001')
    m.set(g, (m.get(g) ?? 0) + 1)
  }
  return m
}

/** d2l's BLEU of one prediction against one label, n-grams up to k. */
export function bleu(pred: string | string[], label: string | string[], k = 4): number {
  const p = typeof pred === 'string' ? tokens(pred) : pred
  const l = typeof label === 'string' ? tokens(label) : label
  if (!Number.isInteger(k) || k < 1) throw new ArgumentError(`bleu: k must be a positive integer, got ${k}`)
  if (p.length === 0) return 0
  let score = Math.exp(Math.min(0, 1 - l.length / p.length))
  for (let n = 1; n <= Math.min(k, p.length); n++) {
    const labelSubs = ngramCounts(l, n)
    let matches = 0
    for (let i = 0; i + n <= p.length; i++) {
      const g = p.slice(i, i + n).join('\u0001')
      const c = labelSubs.get(g) ?? 0
      if (c > 0) {
        matches++
        labelSubs.set(g, c - 1)
      }
    }
    score *= (matches / (p.length - n + 1)) ** (0.5 ** n)
  }
  return score
}

/** Closest reference length to `c` (ties: the shorter), as NLTK's closest_ref_length. */
function closestRefLength(refs: string[][], c: number): number {
  let best = refs[0]!.length
  for (const r of refs) {
    const d = Math.abs(r.length - c)
    const bd = Math.abs(best - c)
    if (d < bd || (d === bd && r.length < best)) best = r.length
  }
  return best
}

/**
 * Corpus BLEU: `references[i]` are the references of `hypotheses[i]` (token lists or strings).
 * Default weights (1/4, 1/4, 1/4, 1/4): BLEU-4.
 */
export function corpusBleu(
  references: (string | string[])[][],
  hypotheses: (string | string[])[],
  weights = [0.25, 0.25, 0.25, 0.25],
): number {
  if (references.length !== hypotheses.length)
    throw new ArgumentError(`corpusBleu: ${hypotheses.length} hypotheses but ${references.length} reference lists`)
  const tok = (s: string | string[]) => (typeof s === 'string' ? tokens(s) : s)
  const N = weights.length
  const num = new Array<number>(N).fill(0)
  const den = new Array<number>(N).fill(0)
  let hypLen = 0
  let refLen = 0
  hypotheses.forEach((h, i) => {
    const hyp = tok(h)
    const refs = references[i]!.map(tok)
    if (refs.length === 0) throw new ArgumentError(`corpusBleu: hypothesis ${i} has no reference`)
    for (let n = 1; n <= N; n++) {
      const counts = ngramCounts(hyp, n)
      const maxRef = new Map<string, number>()
      for (const r of refs) for (const [g, c] of ngramCounts(r, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c))
      let clipped = 0
      let total = 0
      for (const [g, c] of counts) {
        clipped += Math.min(c, maxRef.get(g) ?? 0)
        total += c
      }
      num[n - 1]! += clipped
      // NOTE: NLTK's modified_precision uses max(1, count) as the denominator.
      den[n - 1]! += Math.max(1, total)
    }
    hypLen += hyp.length
    refLen += closestRefLength(refs, hyp.length)
  })
  if (num[0] === 0 || num.some((x) => x === 0)) return 0
  const bp = hypLen > refLen ? 1 : hypLen === 0 ? 0 : Math.exp(1 - refLen / hypLen)
  let s = 0
  for (let n = 0; n < N; n++) s += weights[n]! * Math.log(num[n]! / den[n]!)
  return bp * Math.exp(s)
}

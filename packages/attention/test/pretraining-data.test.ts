/**
 * d2l's BERT pretraining data on The Time Machine with bert-base-uncased's WordPiece: about half
 * the pairs are random next sentences, about 15% of tokens are predicted with the 80/10/10 rule,
 * and padding, segments and masks line up.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ArgumentError } from '@refnets/core'
import {
  IS_NEXT,
  NOT_NEXT,
  VocabSubset,
  WordPieceTokenizer,
  collatePretraining,
  type PretrainingExample,
  makePretrainingExamples,
  splitParagraphs,
} from '../src/index.js'
import { bertVocabText, sharedData } from './helpers/data-paths.js'

const tok = WordPieceTokenizer.fromVocabText(bertVocabText())
const paragraphs = splitParagraphs(readFileSync(sharedData('text/timemachine.txt'), 'utf8'))
const examples = makePretrainingExamples(paragraphs, tok, { maxLen: 64, seed: 0 })

describe('BERT pretraining data', () => {
  it('splits paragraphs into sentences', () => {
    expect(paragraphs.length).toBeGreaterThan(100)
    expect(splitParagraphs('One. Two? Three!\n\nAlone.\n\nA b. C d.')).toEqual([
      ['One.', 'Two?', 'Three!'],
      ['A b.', 'C d.'],
    ])
  })

  it('draws "not next" sentences from another document when documents are given', () => {
    // Two documents whose sentences use one word each: B's unmasked words tell where it came from.
    const docs = [0, 1, 0, 1, 0, 1, 0, 1]
    const paras = docs.map((d) => Array.from({ length: 6 }, () => (d ? 'beta beta beta.' : 'alpha alpha alpha.')))
    const word = [tok.id('alpha'), tok.id('beta')]
    /** The documents of the unmasked words of segment 0 and of segment 1. */
    const sources = (e: PretrainingExample) => {
      const masked = new Set(e.predPositions.subarray(0, e.mlmWeights.filter((w) => w === 1).length))
      const seen = [new Set<number>(), new Set<number>()]
      for (let t = 1; t < e.validLen - 1; t++)
        if (!masked.has(t) && word.includes(e.tokenIds[t]!)) seen[e.segments[t]!]!.add(word.indexOf(e.tokenIds[t]!))
      return seen
    }
    const sameDocument = (e: PretrainingExample) => {
      const [a, b] = sources(e)
      return [...a!].some((d) => b!.has(d))
    }
    const across = (opts: { documents?: number[] }) => {
      const ex = makePretrainingExamples(paras, tok, { maxLen: 16, seed: 3, ...opts }).filter(
        (e) => e.nspLabel === NOT_NEXT,
      )
      expect(ex.length).toBeGreaterThan(5)
      return ex.filter(sameDocument).length / ex.length
    }
    expect(across({ documents: docs })).toBe(0)
    expect(across({})).toBeGreaterThan(0.2)
    expect(() => makePretrainingExamples(paras, tok, { documents: [0, 1] })).toThrow(
      /one id per paragraph \(8\), got 2/,
    )
  })

  it("cuts Google's multi-sentence segments: B follows A in its document, or comes from another document", () => {
    // Documents of 20 paragraphs each; a pair's unmasked tokens are found in the documents' token streams.
    const documents = paragraphs.map((_, p) => Math.floor(p / 20))
    const stream = new Map<number, number[]>()
    paragraphs.forEach((para, p) => {
      const ids = para.flatMap((s) => tok.tokenize(s).map((t) => tok.id(t)))
      stream.set(documents[p]!, [...(stream.get(documents[p]!) ?? []), ...ids])
    })
    /** Where `part` starts in `doc`'s stream, at or after `from` (-1: not there). */
    const find = (doc: number, part: number[], from = 0) => {
      const s = stream.get(doc)!
      for (let i = from; i + part.length <= s.length; i++) if (part.every((t, k) => s[i + k] === t)) return i
      return -1
    }
    const maxLen = 64
    const segs = makePretrainingExamples(paragraphs, tok, { maxLen, seed: 2, documents, pairs: 'segments' })
    expect(segs.length).toBeGreaterThan(300)
    const notNext = segs.filter((e) => e.nspLabel === NOT_NEXT).length / segs.length
    expect(notNext).toBeGreaterThan(0.4)
    expect(notNext).toBeLessThan(0.6)
    // Segments fill the length (a tenth of the documents aim shorter); d2l's sentence pairs do not.
    const meanLen = (ex: PretrainingExample[]) => ex.reduce((n, e) => n + e.validLen, 0) / ex.length
    expect(meanLen(segs)).toBeGreaterThan(0.8 * maxLen)
    expect(meanLen(examples)).toBeLessThan(0.7 * maxLen)
    let checked = 0
    for (const e of segs.slice(0, 300)) {
      const original = Array.from(e.tokenIds.subarray(0, e.validLen))
      e.predPositions.forEach((pos, k) => {
        if (e.mlmWeights[k] === 1) original[pos] = e.mlmLabels[k]!
      })
      const bStart = e.segments.indexOf(1)
      const [a, b] = [original.slice(1, bStart - 1), original.slice(bStart, e.validLen - 1)]
      const home = [...stream.keys()].filter((d) => find(d, a) >= 0)
      expect(home.length).toBeGreaterThan(0)
      if (e.nspLabel === IS_NEXT) expect(home.some((d) => find(d, b, find(d, a) + a.length - 1) >= 0)).toBe(true)
      else expect([...stream.keys()].some((d) => find(d, b) >= 0 && home.some((h) => h !== d))).toBe(true)
      checked++
    }
    expect(checked).toBe(300)
    expect(() => makePretrainingExamples(paragraphs, tok, { pairs: 'words' as 'segments' })).toThrow(
      /pairs must be 'sentences' or 'segments', got words/,
    )
  })

  it('makes about half the pairs random next sentences', () => {
    expect(examples.length).toBeGreaterThan(500)
    const notNext = examples.filter((e) => e.nspLabel === NOT_NEXT).length / examples.length
    expect(notNext).toBeGreaterThan(0.4)
    expect(notNext).toBeLessThan(0.6)
    expect(examples.every((e) => e.nspLabel === IS_NEXT || e.nspLabel === NOT_NEXT)).toBe(true)
  })

  it('lays out [CLS] a [SEP] b [SEP] with segments, padding and about 15% predictions', () => {
    const [cls, sep, mask, pad] = ['[CLS]', '[SEP]', '[MASK]', '[PAD]'].map((t) => tok.id(t))
    let predicted = 0
    let tokens = 0
    let masked = 0
    let kept = 0
    for (const e of examples) {
      expect(e.tokenIds.length).toBe(64)
      expect(e.tokenIds[0]).toBe(cls)
      expect(e.tokenIds[e.validLen - 1]).toBe(sep)
      expect(e.tokenIds.slice(e.validLen).every((t) => t === pad)).toBe(true)
      const firstSep = e.segments.indexOf(1) - 1
      expect(e.tokenIds[firstSep]).toBe(sep)
      const n = e.mlmWeights.filter((w) => w === 1).length
      expect(n).toBe(Math.max(1, Math.round(e.validLen * 0.15)))
      for (let k = 0; k < n; k++) {
        const pos = e.predPositions[k]!
        expect(pos).toBeGreaterThan(0)
        expect(pos).toBeLessThan(e.validLen - 1)
        if (e.tokenIds[pos] === mask) masked++
        else if (e.tokenIds[pos] === e.mlmLabels[k]) kept++
      }
      predicted += n
      tokens += e.validLen
    }
    expect(predicted / tokens).toBeGreaterThan(0.13)
    expect(predicted / tokens).toBeLessThan(0.17)
    // 80% [MASK]; 10% kept (plus the rare random draw of the same token).
    expect(masked / predicted).toBeGreaterThan(0.77)
    expect(masked / predicted).toBeLessThan(0.83)
    expect(kept / predicted).toBeGreaterThan(0.08)
    expect(kept / predicted).toBeLessThan(0.12)
  })

  it('collates a batch into tensors', () => {
    const b = collatePretraining(examples.slice(0, 4))
    expect(b.inputIds.shape).toEqual([4, 64])
    expect(b.predPositions.shape).toEqual([4, 10])
    expect(Array.from(b.attentionMask.data.slice(0, 64), Number).reduce((a, c) => a + c, 0)).toBe(examples[0]!.validLen)
    expect(b.nspLabels.shape).toEqual([4])
    expect(() => collatePretraining([])).toThrow(/at least one example/)
    const t = collatePretraining(examples.slice(0, 4), { trim: true })
    expect(t.inputIds.shape).toEqual([4, Math.max(...examples.slice(0, 4).map((e) => e.validLen))])
    expect(t.predPositions.shape).toEqual([4, 10])
  })
})

describe('VocabSubset', () => {
  it('renumbers the corpus ids with [PAD] at 0 and maps the rest to [UNK]', () => {
    const v = new VocabSubset(
      tok,
      examples.flatMap((e) => [...e.mlmLabels]),
    )
    expect(v.tokens([0, 1, 2, 3, 4])).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])
    const the = tok.id('the')
    const [c] = v.compact([the])
    expect(v.expand([c!])).toEqual([the])
    expect(v.compact([tok.id('[unused5]')])).toEqual([1])
    expect(() => v.expand([v.size])).toThrow(/compact ids in \[0, \d+\), got \d+/)
  })

  it('keeps only the pieces seen minCount times, and its tokenizer splits the rest into kept pieces', () => {
    const the = tok.id('the')
    const time = tok.id('time')
    const machine = tok.id('machine')
    const ids = [the, the, the, time, time, machine]
    const v = new VocabSubset(tok, ids, { minCount: 2 })
    expect(v.size).toBe(5 + 2)
    expect(v.tokens(v.compact([the, time, machine]))).toEqual(['the', 'time', '[UNK]'])
    const all = new VocabSubset(tok, ids)
    expect(all.size).toBe(5 + 3)
    expect(() => new VocabSubset(tok, ids, { minCount: 0 })).toThrow(ArgumentError)
    expect(() => new VocabSubset(tok, ids, { minCount: 1.5 })).toThrow(/minCount must be a positive integer/)
    expect(() => new VocabSubset(tok, [the, tok.size])).toThrow(ArgumentError)

    // "timeless" is one piece of the full vocabulary but not of a subset that has "time" and "##less".
    const sub = new VocabSubset(tok, [the, time, tok.id('##less')]).toTokenizer()
    expect(tok.tokenize('timeless')).toEqual(['timeless'])
    expect(sub.tokenize('the timeless')).toEqual(['the', 'time', '##less'])
    expect(sub.encode('the timeless').ids).toEqual([2, 5, 6, 7, 3])
    expect(sub.id('[PAD]')).toBe(0)
    expect(sub.tokenize('zebra')).toEqual(['[UNK]'])
  })
})

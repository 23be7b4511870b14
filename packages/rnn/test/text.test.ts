/**
 * The text pipeline: tokenizers, Vocab (d2l semantics), the time-machine loader, language-model
 * minibatches, n-gram statistics and perplexity. Expected counts were computed with Python's
 * collections.Counter over the same preprocessing (re.sub('[^A-Za-z]+', ' ', text).lower()).
 */
import { ArgumentError, Generator } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { fraEngTranslationData, formatD2lScore, loadFraEng, loadTimeMachine, scoreD2lSentences } from '../src/data.js'
import {
  Vocab,
  countTokens,
  ngramFreqs,
  ngrams,
  perplexity,
  preprocessNmt,
  randomLmBatches,
  sequentialLmBatches,
  tokenize,
  zipfExponent,
  zipfPoints,
} from '../src/index.js'

describe('tokenize and Vocab', () => {
  it('splits lines into words or characters', () => {
    expect(tokenize(['the time  machine', ''], 'word')).toEqual([['the', 'time', 'machine'], []])
    expect(tokenize(['ab c'], 'char')).toEqual([['a', 'b', ' ', 'c']])
    expect(() => tokenize(['x'], 'byte' as never)).toThrow(ArgumentError)
  })

  it('orders tokens by frequency after <unk> and the reserved tokens, ties by first appearance', () => {
    const v = new Vocab(
      [
        ['b', 'a', 'c'],
        ['a', 'c', 'd', 'a'],
      ],
      { reservedTokens: ['<pad>', '<bos>', '<eos>'] },
    )
    expect(v.idxToToken).toEqual(['<unk>', '<pad>', '<bos>', '<eos>', 'a', 'c', 'b', 'd'])
    expect(v.length).toBe(8)
    expect(v.encode(['a', 'zzz', '<eos>'])).toEqual([4, 0, 3])
    expect(v.decode([4, 5, 1])).toEqual(['a', 'c', '<pad>'])
    expect(() => v.decode([8])).toThrow(ArgumentError)
    expect(v.tokenFreqs[0]).toEqual(['a', 3])
  })

  it('drops tokens under minFreq to <unk>', () => {
    const v = new Vocab(['a', 'a', 'b', 'c', 'c'], { minFreq: 2 })
    expect(v.idxToToken).toEqual(['<unk>', 'a', 'c'])
    expect(v.indexOf('b')).toBe(0)
    expect(() => new Vocab([], { reservedTokens: ['<unk>'] })).toThrow(ArgumentError)
  })
})

describe('the time machine', () => {
  it('loads as d2l preprocesses it: 173,428 characters, a 28-entry character vocabulary', () => {
    const { text, corpus, vocab } = loadTimeMachine('char')
    expect(text.length).toBe(173_428)
    expect(corpus.length).toBe(173_428)
    expect(vocab.length).toBe(28)
    expect(vocab.idxToToken.slice(0, 10)).toEqual(['<unk>', ' ', 'e', 't', 'a', 'i', 'n', 'o', 's', 'h'])
    expect(vocab.tokenFreqs[1]).toEqual(['e', 17_838])
  })

  it('word level: 32,775 words, 4,579 distinct, "the" 2,261 times; 824 words appear at least 5 times', () => {
    const { corpus, vocab } = loadTimeMachine('word')
    expect(corpus.length).toBe(32_775)
    expect(vocab.length).toBe(4_580)
    expect(vocab.tokenFreqs.slice(0, 3)).toEqual([
      ['the', 2261],
      ['i', 1267],
      ['and', 1245],
    ])
    expect(new Vocab(vocab.decode(corpus), { minFreq: 5 }).length).toBe(825)
  })

  it('n-gram statistics and Zipf’s law', () => {
    const { corpus, vocab } = loadTimeMachine('word')
    const words = vocab.decode(corpus)
    expect(ngrams(['a', 'b', 'c'], 2)).toEqual(['a b', 'b c'])
    expect(ngramFreqs(words, 2).slice(0, 3)).toEqual([
      ['of the', 309],
      ['in the', 169],
      ['i had', 130],
    ])
    expect(ngramFreqs(words, 3)[0]).toEqual(['the time traveller', 59])
    expect(zipfPoints(countTokens(words)).slice(0, 2)).toEqual([
      [1, 2261],
      [2, 1267],
    ])
    // The middle of the unigram curve is close to a straight line of slope about -1 in log-log.
    const alpha = zipfExponent(countTokens(words), 10, 1000)
    expect(alpha).toBeGreaterThan(0.8)
    expect(alpha).toBeLessThan(1.3)
    expect(() => ngrams(words, 0)).toThrow(ArgumentError)
  })
})

describe('language-model minibatches', () => {
  const corpus = Int32Array.from({ length: 35 }, (_, i) => i)

  it('random partitioning: disjoint subsequences, Y = X shifted by one', () => {
    const batches = [...randomLmBatches(corpus, 2, 5, new Generator(1))]
    expect(batches.length).toBeGreaterThanOrEqual(3)
    const starts = new Set<number>()
    for (const { X, Y } of batches) {
      expect(X.shape).toEqual([2, 5])
      const x = X.data
      const y = Y.data
      for (let i = 0; i < 10; i++) expect(y[i]).toBe(x[i]! + 1)
      for (let r = 0; r < 2; r++) {
        for (let j = 1; j < 5; j++) expect(x[r * 5 + j]).toBe(x[r * 5]! + j)
        starts.add(x[r * 5]!)
      }
    }
    const s = [...starts].sort((a, b) => a - b)
    for (let i = 1; i < s.length; i++) expect((s[i]! - s[0]!) % 5).toBe(0)
  })

  it('sequential partitioning: row r of consecutive minibatches continues the text', () => {
    const batches = [...sequentialLmBatches(corpus, 2, 5, new Generator(2))]
    expect(batches.length).toBeGreaterThanOrEqual(2)
    for (let b = 1; b < batches.length; b++)
      for (let r = 0; r < 2; r++) expect(batches[b]!.X.data[r * 5]).toBe(batches[b - 1]!.X.data[r * 5 + 4]! + 1)
    expect(batches[0]!.Y.data[0]).toBe(batches[0]!.X.data[0]! + 1)
    expect(() => [...sequentialLmBatches(corpus, 4, 10)]).toThrow(ArgumentError)
  })
})

describe('perplexity', () => {
  it('is exp of the mean negative log-likelihood: 1 for a perfect model, V for a uniform one', () => {
    expect(perplexity(0, 10)).toBe(1)
    expect(perplexity(10 * Math.log(28), 10)).toBeCloseTo(28, 12)
    expect(() => perplexity(1, 0)).toThrow(ArgumentError)
    expect(() => perplexity(NaN, 3)).toThrow(ArgumentError)
  })
})

describe('English-French pairs', () => {
  it('reads and preprocesses d2l’s fra-eng file', () => {
    const pairs = loadFraEng(undefined, 3)
    expect(pairs[0]).toEqual(['go .', 'va !'])
    expect(preprocessNmt('Hello,World!\u202f')).toBe('hello ,world ! ')
    expect(preprocessNmt('Qui\u202f?')).toBe('qui ?')
  })

  it('the translation split: 10% of English sentences held out with all their references, vocabularies from training only', () => {
    const d = fraEngTranslationData(2000, 2)
    expect(d.pairs.length).toBe(2000)
    expect(d.train.length + d.test.length).toBe(d.groups.length)
    expect(d.test.length).toBe(Math.round(d.groups.length * 0.1))
    const trainSources = new Set(d.train.map((g) => g.source))
    expect(d.test.some((g) => trainSources.has(g.source))).toBe(false)
    expect(d.trainPairs.length).toBe(d.train.reduce((n, g) => n + g.references.length, 0))
    // A word seen only in test sentences is not in the source vocabulary.
    const trainWords = new Set(d.trainPairs.flatMap(([e]) => e.split(' ')))
    const testOnly = d.test.flatMap((g) => g.source.split(' ')).find((w) => !trainWords.has(w))!
    expect(d.src.indexOf(testOnly)).toBe(d.src.indexOf('<unk>'))
    // The same arguments give the same split (the examples compare BLEU on it).
    expect(fraEngTranslationData(2000, 2).test.map((g) => g.source)).toEqual(d.test.map((g) => g.source))
  })

  it("d2l's four sentences: scored against their best reference, null where the data has none", () => {
    const d = fraEngTranslationData(2000, 2)
    const echo = scoreD2lSentences(d, (e) => (e === 'go .' ? 'va !' : 'xyz'))
    expect(echo.map((r) => r.source)).toEqual(['go .', 'i lost .', "he's calm .", "i'm home ."])
    expect(echo[0]).toMatchObject({ translation: 'va !', bleu: 1, training: true })
    expect(echo[1]!.bleu).toBe(0)
    expect(echo[2]!.bleu).toBeNull() // "He's calm." is not in fra-eng.txt
    expect(formatD2lScore(echo[2]!)).toMatch(/no reference/)
    expect(formatD2lScore(echo[0]!)).toMatch(/bleu 1.000 .*a training sentence/)
  })
})

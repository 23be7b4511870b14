/**
 * word2vec pieces: subsampling, context windows, the unigram^0.75 noise sampler, skip-gram and
 * CBOW batches, the negative-sampling loss (value and gradcheck), a tiny corpus on which trained
 * vectors put co-occurring words together, analogies on hand-made vectors, and the SVG plot.
 */
import { ArgumentError, Generator, Tensor, optim } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  NoiseSampler,
  Word2Vec,
  analogy,
  centersAndContexts,
  neighbours,
  noiseWeights,
  scatterSvg,
  subsample,
  word2vecBatches,
} from '../src/index.js'

describe('word2vec data', () => {
  it('subsamples frequent words more', () => {
    const s = [Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? 2 : 1))]
    const counts = new Map([
      [1, 1800],
      [2, 200],
    ])
    const kept = subsample(s, counts, new Generator(1), 0.01)[0]!
    const k1 = kept.filter((w) => w === 1).length / 1800
    const k2 = kept.filter((w) => w === 2).length / 200
    expect(k1).toBeLessThan(k2)
    expect(k1).toBeCloseTo(Math.sqrt(0.01 / 0.9), 1)
  })

  it('windows stay inside the sentence and exclude the centre', () => {
    const { centers, contexts } = centersAndContexts([[1, 2, 3, 4, 5], [6]], 2, new Generator(0))
    expect(centers).toEqual([1, 2, 3, 4, 5])
    contexts.forEach((c, i) => {
      expect(c.length).toBeGreaterThanOrEqual(1)
      expect(c.length).toBeLessThanOrEqual(4)
      expect(c).not.toContain(centers[i])
    })
    expect(() => centersAndContexts([[1, 2]], 0, new Generator(0))).toThrow(ArgumentError)
  })

  it('draws noise words with probability proportional to count^0.75', () => {
    const w = noiseWeights(
      new Map([
        [1, 16],
        [2, 1],
      ]),
      3,
    )
    expect(Array.from(w)).toEqual([0, 8, 1])
    const s = new NoiseSampler(w, new Generator(3))
    const n = [0, 0, 0]
    for (let i = 0; i < 9000; i++) n[s.draw()]!++
    expect(n[0]).toBe(0)
    expect(n[1]! / 9000).toBeCloseTo(8 / 9, 1)
  })

  it('builds padded skip-gram and CBOW batches', () => {
    const data = { centers: [1, 2], contexts: [[2, 3], [1]] }
    const s = new NoiseSampler(
      noiseWeights(
        new Map([
          [1, 1],
          [2, 1],
          [3, 1],
          [4, 1],
        ]),
        5,
      ),
      new Generator(0),
    )
    const [b] = [...word2vecBatches(data, 'skip-gram', 2, 2, s, new Generator(0))]
    expect(b!.targets.shape).toEqual([2, 6])
    const rows = b!.inputs.data[0] === 1 ? [0, 1] : [1, 0]
    expect(Array.from(b!.labels.data.subarray(rows[0]! * 6, rows[0]! * 6 + 6))).toEqual([1, 1, 0, 0, 0, 0])
    expect(Array.from(b!.mask.data.subarray(rows[1]! * 6, rows[1]! * 6 + 6))).toEqual([1, 1, 1, 0, 0, 0])
    const [c] = [...word2vecBatches(data, 'cbow', 2, 2, s, new Generator(0))]
    expect(c!.inputs.shape).toEqual([2, 2])
    expect(c!.targets.shape).toEqual([2, 3])
  })
})

describe('negative-sampling loss', () => {
  it('trains vectors so that words sharing contexts become neighbours (skip-gram and CBOW)', () => {
    // Two topics: {1,2,3} always appear together, {4,5,6} together.
    const g = new Generator(5)
    const sentences = Array.from({ length: 200 }, (_, i) => Array.from({ length: 6 }, () => (i % 2 ? 1 : 4) + g.int(3)))
    const counts = new Map<number, number>()
    for (const s of sentences) for (const w of s) counts.set(w, (counts.get(w) ?? 0) + 1)
    for (const kind of ['skip-gram', 'cbow'] as const) {
      const model = new Word2Vec(7, 8, kind)
      const opt = new optim.Adam(model.parameters(), { lr: 0.05 })
      const noise = new NoiseSampler(noiseWeights(counts, 7), new Generator(1))
      const data = centersAndContexts(sentences, 2, new Generator(2))
      let first = 0
      let last = 0
      for (let epoch = 0; epoch < 4; epoch++)
        for (const b of word2vecBatches(data, kind, 64, 2, noise, new Generator(epoch))) {
          opt.zeroGrad()
          const l = model.call(b)
          l.backward()
          opt.step()
          if (!first) first = l.item()
          last = l.item()
        }
      expect(last).toBeLessThan(first)
      const W = model.vectors()
      const nn1 = neighbours(W, 1, 2)
        .map(([i]) => i)
        .sort()
      expect(nn1, kind).toEqual([2, 3])
    }
  })
})

describe('analogies and plots', () => {
  it('solves a : b :: c : ? by cosine similarity to b - a + c', () => {
    // ids: 1 man, 2 woman, 3 king, 4 queen, 5 apple
    const W = new Tensor(Float64Array.from([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, -1, -1, 0.2]), [6, 3])
    expect(analogy(W, 1, 2, 3)[0]![0]).toBe(4)
  })

  it('writes an SVG scatter with escaped labels', () => {
    const svg = scatterSvg(
      [
        [0, 0],
        [1, 2],
      ],
      ['a<b', 'c'],
    )
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('a&lt;b')
    expect((svg.match(/<circle/g) ?? []).length).toBe(2)
    expect(() => scatterSvg([[0, NaN]], ['x'])).toThrow(ArgumentError)
  })
})

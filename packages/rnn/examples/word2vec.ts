/**
 * word2vec on The Time Machine (https://d2l.ai/chapter_natural-language-processing-pretraining/word2vec-pretraining.html):
 * skip-gram (default) or CBOW with negative sampling, on the book's lines as sentences (d2l's
 * preprocessing, words seen at least 5 times, frequent words subsampled), then cosine nearest
 * neighbours, analogy queries, and a 2-D PCA projection of the 150 most frequent words written as
 * an SVG scatter plot.
 *
 *   pnpm example:word2vec [--kind skip-gram|cbow] [--epochs 30] [--dim 50] [--out docs/figures/word2vec-skip-gram.svg]
 */
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Generator, data, manualSeed, optim } from '@refnets/core'
import {
  NoiseSampler,
  Vocab,
  Word2Vec,
  analogy,
  centersAndContexts,
  neighbours,
  noiseWeights,
  preprocessTimeMachine,
  scatterSvg,
  subsample,
  tokenize,
  word2vecBatches,
} from '../src/index.js'
import { readTimeMachine } from '../src/data.js'

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def
}
const kind = arg('kind', 'skip-gram') as 'skip-gram' | 'cbow'
const epochs = Number(arg('epochs', '30'))
const dim = Number(arg('dim', '50'))
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const out = resolve(repoRoot, arg('out', `docs/figures/word2vec-${kind}.svg`))

manualSeed(0)
const lines = readTimeMachine()
  .split('\n')
  .map((l) => preprocessTimeMachine(l).trim())
  .filter(Boolean)
const sentencesTok = tokenize(lines, 'word')
const vocab = new Vocab(sentencesTok, { minFreq: 5 })
const sentences = sentencesTok.map((s) => vocab.encode(s).filter((id) => id !== vocab.unk))
const counts = new Map<number, number>()
for (const s of sentences) for (const w of s) counts.set(w, (counts.get(w) ?? 0) + 1)
const kept = subsample(sentences, counts, new Generator(1))
const pairs = centersAndContexts(kept, 5, new Generator(2))
console.log(
  `${lines.length} lines, vocabulary ${vocab.length} (min frequency 5); ${pairs.centers.length} centre words after subsampling`,
)
console.log(`${kind}, embedding ${dim}, window up to 5, 5 noise words per positive, Adam lr 0.005, ${epochs} epochs`)

const model = new Word2Vec(vocab.length, dim, kind)
const opt = new optim.Adam(model.parameters(), { lr: 0.005 })
const noise = new NoiseSampler(noiseWeights(counts, vocab.length), new Generator(3))
const t0 = Date.now()
for (let epoch = 1; epoch <= epochs; epoch++) {
  let sum = 0
  let n = 0
  for (const b of word2vecBatches(pairs, kind, 256, 5, noise, new Generator(10 + epoch))) {
    opt.zeroGrad()
    const l = model.call(b)
    l.backward()
    opt.step()
    sum += l.item()
    n++
  }
  console.log(`epoch ${epoch}: loss ${(sum / n).toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
}

const W = model.vectors()
const show = (ids: [number, number][]) => ids.map(([i, s]) => `${vocab.idxToToken[i]} ${s.toFixed(2)}`).join(', ')
for (const w of ['time', 'machine', 'man', 'night', 'hand', 'white', 'said', 'little'])
  console.log(`nearest to '${w}': ${show(neighbours(W, vocab.indexOf(w), 5))}`)
for (const [a, b, c, want] of [
  ['he', 'his', 'she', 'her'],
  ['he', 'him', 'i', 'me'],
  ['i', 'my', 'we', 'our'],
  ['day', 'days', 'thing', 'things'],
  ['go', 'went', 'come', 'came'],
] as const) {
  const got = analogy(W, vocab.indexOf(a), vocab.indexOf(b), vocab.indexOf(c), 3)
  console.log(
    `${a} : ${b} :: ${c} : ? -> ${show(got)} (expected '${want}': ${got.some(([i]) => vocab.idxToToken[i] === want) ? 'in top 3' : 'not in top 3'})`,
  )
}

// 2-D projection of the 150 most frequent words.
const top = Array.from({ length: 150 }, (_, i) => i + 1)
const X = W.gather(0, new (W.constructor as typeof import('@refnets/core').Tensor)(Int32Array.from(top), [top.length]))
const proj = data.pca(X, 2).transform(X)
const pts = Array.from({ length: top.length }, (_, i) => [proj.data[2 * i]!, proj.data[2 * i + 1]!] as [number, number])
mkdirSync(dirname(out), { recursive: true })
writeFileSync(
  out,
  scatterSvg(
    pts,
    top.map((i) => vocab.idxToToken[i]!),
    { title: `word2vec ${kind} on The Time Machine: PCA of the 150 most frequent words` },
  ),
)
console.log(`wrote ${out}`)

/**
 * word2vec (Mikolov et al. 2013, https://arxiv.org/abs/1301.3781 and
 * https://arxiv.org/abs/1310.4546; d2l https://d2l.ai/chapter_natural-language-processing-pretraining/word2vec.html):
 * - skip-gram: a centre word predicts each word of its context window;
 * - CBOW: the mean of the context words' vectors predicts the centre word;
 * both trained with negative sampling: the true (centre, context) pair is scored against K noise
 * words drawn from the unigram distribution raised to 0.75, with binary logistic losses, so a
 * step costs O(K) instead of a softmax over the vocabulary. Frequent words are subsampled (kept
 * with probability sqrt(t / f(w)), t = 1e-4). Two embedding tables: `centre` (v) and `context` (u);
 * the word vectors used afterwards are the centre vectors.
 */
import { type Tensor, ArgumentError, Generator, Module, Tensor as T, matmul, nn, softplus } from '@refnets/core'

/** Subsample frequent tokens: keep w with probability sqrt(t / f(w)) (d2l's subsample). */
export function subsample(sentences: number[][], counts: Map<number, number>, gen: Generator, t = 1e-4): number[][] {
  let total = 0
  for (const c of counts.values()) total += c
  return sentences.map((s) => s.filter((w) => gen.random() < Math.sqrt(t / (counts.get(w)! / total))))
}

/** Every centre word with its context (a window of random size 1..maxWindow on each side). */
export function centersAndContexts(
  sentences: number[][],
  maxWindow: number,
  gen: Generator,
): { centers: number[]; contexts: number[][] } {
  if (!Number.isInteger(maxWindow) || maxWindow < 1)
    throw new ArgumentError(`maxWindow must be a positive integer, got ${maxWindow}`)
  const centers: number[] = []
  const contexts: number[][] = []
  for (const s of sentences) {
    if (s.length < 2) continue
    for (let i = 0; i < s.length; i++) {
      const w = 1 + gen.int(maxWindow)
      const ctx: number[] = []
      for (let j = Math.max(0, i - w); j < Math.min(s.length, i + 1 + w); j++) if (j !== i) ctx.push(s[j]!)
      centers.push(s[i]!)
      contexts.push(ctx)
    }
  }
  return { centers, contexts }
}

/** Draws noise words with P(w) proportional to count(w)^0.75, by binary search over the CDF. */
export class NoiseSampler {
  private readonly cdf: Float64Array
  constructor(
    readonly weights: ArrayLike<number>,
    readonly gen: Generator,
  ) {
    this.cdf = new Float64Array(weights.length)
    let s = 0
    for (let i = 0; i < weights.length; i++) this.cdf[i] = s += weights[i]!
    if (!(s > 0)) throw new ArgumentError('NoiseSampler: the weights sum to zero')
  }
  draw(): number {
    const u = this.gen.random() * this.cdf[this.cdf.length - 1]!
    let lo = 0
    let hi = this.cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.cdf[mid]! > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/** Unigram^0.75 noise weights for ids 0..V-1 (0 for ids never seen). */
export function noiseWeights(counts: Map<number, number>, V: number): Float64Array {
  const w = new Float64Array(V)
  for (const [id, c] of counts) w[id] = c ** 0.75
  return w
}

export interface Word2VecBatch {
  /** (B) skip-gram: the centre ids; CBOW: (B, Lc) the context ids (padded with 0) */
  inputs: Tensor
  /** CBOW: (B, Lc) 1 for real context words; skip-gram: null */
  inputMask: Tensor | null
  /** (B, L) ids scored against the input: positives then noise words (padded with 0) */
  targets: Tensor
  /** (B, L) 1 for real entries, 0 for padding */
  mask: Tensor
  /** (B, L) 1 for positives (context words in skip-gram, the centre in CBOW), 0 for noise */
  labels: Tensor
}

const ints = (rows: number[][], L: number) =>
  new T(Int32Array.from(rows.flatMap((r) => [...r, ...Array(L - r.length).fill(0)])), [rows.length, L])
const floats = (rows: number[][], L: number) =>
  new T(Float32Array.from(rows.flatMap((r) => [...r, ...Array(L - r.length).fill(0)])), [rows.length, L])

/**
 * Minibatches for skip-gram (d2l's batchify: each centre with all its context words plus K noise
 * words per context word) or CBOW (the context predicts the centre plus K noise words).
 */
export function* word2vecBatches(
  data: { centers: number[]; contexts: number[][] },
  kind: 'skip-gram' | 'cbow',
  batchSize: number,
  K: number,
  noise: NoiseSampler,
  gen: Generator,
): IterableIterator<Word2VecBatch> {
  const order = gen.permutation(data.centers.length)
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = Array.from(order.subarray(s, s + batchSize))
    const targets: number[][] = []
    const labels: number[][] = []
    for (const i of idx) {
      const pos = kind === 'skip-gram' ? data.contexts[i]! : [data.centers[i]!]
      const neg: number[] = []
      const avoid = new Set(kind === 'skip-gram' ? pos : [data.centers[i]!])
      while (neg.length < K * pos.length) {
        const w = noise.draw()
        if (!avoid.has(w)) neg.push(w)
      }
      targets.push([...pos, ...neg])
      labels.push([...pos.map(() => 1), ...neg.map(() => 0)])
    }
    const L = Math.max(...targets.map((r) => r.length))
    const batch: Word2VecBatch = {
      inputs:
        kind === 'skip-gram'
          ? new T(Int32Array.from(idx.map((i) => data.centers[i]!)), [idx.length])
          : ints(
              idx.map((i) => data.contexts[i]!),
              Math.max(...idx.map((i) => data.contexts[i]!.length)),
            ),
      inputMask:
        kind === 'cbow'
          ? floats(
              idx.map((i) => data.contexts[i]!.map(() => 1)),
              Math.max(...idx.map((i) => data.contexts[i]!.length)),
            )
          : null,
      targets: ints(targets, L),
      mask: floats(
        targets.map((r) => r.map(() => 1)),
        L,
      ),
      labels: floats(labels, L),
    }
    yield batch
  }
}

/** Two embedding tables, as d2l's skip-gram net: `centre` (v, the word vectors) and `context` (u). */
export class Word2Vec extends Module<[Word2VecBatch], Tensor> {
  centre: nn.Embedding
  context: nn.Embedding

  constructor(
    readonly vocabSize: number,
    readonly embedDim: number,
    readonly kind: 'skip-gram' | 'cbow' = 'skip-gram',
  ) {
    super()
    this.centre = new nn.Embedding(vocabSize, embedDim)
    this.context = new nn.Embedding(vocabSize, embedDim)
    // NOTE: small uniform init (word2vec's C code: U(-0.5, 0.5) / dim) rather than N(0, 1): dot
    // products of N(0, 1) vectors of dimension 100 saturate the sigmoid at the start.
    const d = this.centre.weight.storage
    const g = new Generator(7)
    for (let i = 0; i < d.length; i++) d[i] = (g.random() - 0.5) / embedDim
    this.context.weight.storage.fill(0)
  }

  /** The negative-sampling loss of a batch, averaged over its real (unpadded) entries. */
  forward(b: Word2VecBatch): Tensor {
    // skip-gram: (B) -> (B, 1, E); CBOW: (B, Lc) -> (B, Lc, E) -> masked mean (B, 1, E)
    let v: Tensor
    if (this.kind === 'skip-gram') v = this.centre.call(b.inputs).unsqueeze(1)
    else {
      const m = b.inputMask!.unsqueeze(2)
      v = this.centre.call(b.inputs).mul(m).sum(1, true).div(m.sum(1, true))
    }
    // (B, L) -> (B, L, E); scores (B, 1, E) @ (B, E, L) -> (B, L)
    const u = this.context.call(b.targets)
    const x = matmul(v, u.transpose(1, 2)).squeeze(1)
    // NOTE: logistic loss -log sigmoid(x) = softplus(-x) for positives and softplus(x) for noise,
    // in the stable softplus form.
    const loss = softplus(x.neg())
      .mul(b.labels)
      .add(softplus(x).mul(b.labels.neg().add(1)))
    return loss.mul(b.mask).sum().div(b.mask.sum())
  }

  /** Word vectors: the centre table (V, E). */
  vectors(): Tensor {
    return this.centre.weight.detach()
  }
}

/** Cosine similarity of row `q` to every row of `W` (V, E). */
export function cosineSimilarities(W: Tensor, q: ArrayLike<number>): Float64Array {
  const [V, E] = W.shape as [number, number]
  const d = W.data
  let qn = 0
  for (let j = 0; j < E; j++) qn += q[j]! * q[j]!
  qn = Math.sqrt(qn) + 1e-12
  const out = new Float64Array(V)
  for (let i = 0; i < V; i++) {
    let dot = 0
    let n = 0
    for (let j = 0; j < E; j++) {
      dot += d[i * E + j]! * q[j]!
      n += d[i * E + j]! ** 2
    }
    out[i] = dot / ((Math.sqrt(n) + 1e-12) * qn)
  }
  return out
}

const row = (W: Tensor, i: number) => W.data.subarray(i * W.shape[1]!, (i + 1) * W.shape[1]!)

/** The k most cosine-similar ids to `id` (itself and `exclude` left out), with similarities. */
export function nearest(W: Tensor, q: ArrayLike<number>, k: number, exclude: number[] = []): [number, number][] {
  const s = cosineSimilarities(W, q)
  const skip = new Set(exclude)
  return Array.from(s, (v, i) => [i, v] as [number, number])
    .filter(([i]) => !skip.has(i))
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
}

/** Nearest neighbours of a word id. */
export const neighbours = (W: Tensor, id: number, k: number) => nearest(W, row(W, id), k, [id, 0])

/** a : b :: c : ? — the ids closest to b - a + c (a, b and c excluded). */
export function analogy(W: Tensor, a: number, b: number, c: number, k = 1): [number, number][] {
  const E = W.shape[1]!
  const [ra, rb, rc] = [row(W, a), row(W, b), row(W, c)]
  const q = Float64Array.from({ length: E }, (_, j) => rb[j]! - ra[j]! + rc[j]!)
  return nearest(W, q, k, [a, b, c, 0])
}

import { describe, expect, it } from 'vitest'
import { gradcheck } from '../src/gradcheck.js'
import { randn } from '../src/ops/index.js'
import { Generator, manualSeed } from '../src/random.js'
import { tensor } from '../src/tensor.js'
import { KNearestNeighbors } from '../src/models/knn.js'
import { LinearSVM } from '../src/models/linear-svm.js'
import { LogisticRegression } from '../src/models/logistic-regression.js'
import { multiclassHingeLoss } from '../src/models/losses.js'
import { MLP, MLPDropout } from '../src/models/mlp.js'
import { SoftmaxRegression } from '../src/models/softmax-regression.js'

const labels = (...v: number[]) => tensor(Int32Array.from(v))

describe('losses', () => {
  it("multiclass hinge loss reproduces CS231n's cat / car / frog example (5.27)", () => {
    // CS231n 2017 lecture 3 (https://cs231n.stanford.edu/slides/2017/cs231n_2017_lecture3.pdf):
    // columns of its table are images; rows are classes cat, car, frog.
    const scores = tensor(
      [
        [3.2, 5.1, -1.7],
        [1.3, 4.9, 2.0],
        [2.2, 2.5, -3.1],
      ],
      { dtype: 'float64' },
    )
    const per = [2.9, 0, 12.9]
    expect(multiclassHingeLoss(scores, labels(0, 1, 2)).item()).toBeCloseTo(per.reduce((a, b) => a + b) / 3, 12)
    expect(multiclassHingeLoss(scores.slice(0, 0, 1), labels(0)).item()).toBeCloseTo(2.9, 12)
  })

  it('softmax regression and the MLP use cross-entropy, logistic regression BCE from logits', () => {
    const s = tensor(
      [
        [1, 2, 3],
        [0, 0, 0],
      ],
      { dtype: 'float64' },
    )
    const p0 = Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3))
    const ce = (-Math.log(p0) + Math.log(3)) / 2
    expect(new SoftmaxRegression(3, 3).loss(s, labels(0, 2)).item()).toBeCloseTo(ce, 12)
    // Labels stored as floats are accepted.
    expect(new MLP([3, 3]).loss(s, tensor([0, 2])).item()).toBeCloseTo(ce, 12)
    const sig = (x: number) => 1 / (1 + Math.exp(-x))
    const lr = new LogisticRegression(1)
    expect(lr.loss(tensor([0.5, -1], { dtype: 'float64' }), tensor([1, 0])).item()).toBeCloseTo(
      (-Math.log(sig(0.5)) - Math.log(1 - sig(-1))) / 2,
      12,
    )
    // Stable for large logits: log(1 + e^100) = 100, not Infinity.
    expect(lr.loss(tensor([100, -100]), tensor([0, 1])).item()).toBeCloseTo(100, 4)
  })

  it('the hinge loss passes a gradient check', () => {
    const s = randn([4, 3], { dtype: 'float64', generator: new Generator(1) })
    expect(gradcheck((x) => multiclassHingeLoss(x, labels(0, 2, 1, 1)), [s]).ok).toBe(true)
  })

  it('checks shapes', () => {
    expect(() => multiclassHingeLoss(tensor([[1, 2]]), labels(0, 1))).toThrow(/class indices/)
  })
})

describe('classic models', () => {
  it('logistic regression returns one logit per sample and thresholds it at 0', () => {
    manualSeed(0)
    const m = new LogisticRegression(2)
    const x = tensor([
      [1, 2],
      [-3, 0.5],
    ])
    expect(m.call(x).shape).toEqual([2])
    const z = m.call(x).data
    expect([...m.predict(x).data]).toEqual([...z].map((v) => (v > 0 ? 1 : 0)))
    expect(m.predictProba(x).data[0]).toBeCloseTo(1 / (1 + Math.exp(-z[0]!)), 6)
    expect(Object.keys(m.stateDict())).toEqual(['linear.weight', 'linear.bias'])
  })

  it('softmax regression gives (N, C) scores and probabilities that sum to 1', () => {
    const m = new SoftmaxRegression(4, 3)
    const x = randn([5, 4])
    expect(m.call(x).shape).toEqual([5, 3])
    const p = m.predictProba(x).sum(1).data
    for (const v of p) expect(v).toBeCloseTo(1, 6)
    expect(m.predict(x).dtype).toBe('int32')
  })

  it('linear SVM adds lambda * sum W^2 to the hinge loss', () => {
    const m = new LinearSVM(3, 2, { reg: 0.5 })
    const x = randn([4, 3])
    const y = labels(0, 1, 1, 0)
    const s = m.call(x)
    const w2 = m.linear.weight.square().sum().item()
    expect(m.loss(s, y).item()).toBeCloseTo(multiclassHingeLoss(s, y).item() + 0.5 * w2, 5)
  })

  it('MLP names its layers like torch.nn.Sequential', () => {
    expect(Object.keys(new MLP([4, 8, 3]).stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias'])
    const deep = new MLP([4, 8, 8, 3], { activation: 'tanh', dropout: 0.5 })
    expect(Object.keys(deep.stateDict())).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '6.weight', '6.bias'])
    expect(deep.call(randn([2, 4])).shape).toEqual([2, 3])
    expect(() => new MLP([4])).toThrow(/sizes/)
    expect(() => new MLP([4, 2], { activation: 'swish' as 'relu' })).toThrow(/activation/)
  })

  it('dropout zeroes about p of the units in training, scales the rest by 1/(1-p), and is the identity in eval', () => {
    manualSeed(3)
    const d = new MLPDropout(0.25)
    const x = tensor(new Float32Array(4000).fill(1), { shape: [4000] })
    const y = d.call(x).data
    const zeros = [...y].filter((v) => v === 0).length
    expect(zeros / 4000).toBeGreaterThan(0.22)
    expect(zeros / 4000).toBeLessThan(0.28)
    expect(new Set([...y].filter((v) => v !== 0))).toEqual(new Set([Math.fround(1 / 0.75)]))
    d.eval()
    expect(d.call(x)).toBe(x)
  })
})

describe('k-nearest neighbours', () => {
  const x = tensor([
    [0, 0],
    [0, 1],
    [1, 0],
    [5, 5],
    [5, 6],
    [6, 5],
  ])
  const y = labels(0, 0, 0, 1, 1, 1)

  it('votes among the k nearest training points', () => {
    const knn = new KNearestNeighbors({ k: 3 }).fit(x, y)
    const q = tensor([
      [0.2, 0.2],
      [5.5, 5.5],
      [2, 2],
    ])
    expect(knn.call(q).toArray()).toEqual([
      [3, 0],
      [0, 3],
      [3, 0],
    ])
    expect([...knn.predict(q).data]).toEqual([0, 1, 0])
  })

  it('L1 and L2 distances rank neighbours differently', () => {
    // From (0, 0): A = (3, 0) has L1 3, L2 3; B = (2, 2) has L1 4, L2 2.83.
    const knn1 = new KNearestNeighbors({ k: 1, distance: 'l1' }).fit(
      tensor([
        [3, 0],
        [2, 2],
      ]),
      labels(0, 1),
    )
    const knn2 = new KNearestNeighbors({ k: 1, distance: 'l2' }).fit(
      tensor([
        [3, 0],
        [2, 2],
      ]),
      labels(0, 1),
    )
    expect(knn1.distances(tensor([[0, 0]]))[1]).toBe(4)
    expect(knn2.distances(tensor([[0, 0]]))[1]).toBeCloseTo(Math.SQRT2 * 2, 12)
    expect(knn1.predict(tensor([[0, 0]])).item()).toBe(0)
    expect(knn2.predict(tensor([[0, 0]])).item()).toBe(1)
  })

  it('breaks vote ties towards the smaller label and reports misuse', () => {
    const knn = new KNearestNeighbors({ k: 2 }).fit(tensor([[0], [2]]), labels(1, 0))
    expect(knn.predict(tensor([[1]])).item()).toBe(0)
    expect(() => new KNearestNeighbors().predict(tensor([[1]]))).toThrow(/fit/)
    expect(() => new KNearestNeighbors({ k: 7 }).fit(x, y)).toThrow(/only 6/)
    expect(() => knn.predict(tensor([[1, 2]]))).toThrow(/queries/)
  })
})

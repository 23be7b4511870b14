import { describe, expect, it } from 'vitest'
import { arange } from '../src/ops/index.js'
import { tensor } from '../src/tensor.js'
import { TensorDataset } from '../src/data/dataset.js'
import { kFold, randomSplit, splitIndices, trainTestSplit, trainValTestSplit } from '../src/data/split.js'

const sorted = (a: Iterable<number>) => [...a].sort((p, q) => p - q)

describe('kFold', () => {
  it('partitions the samples: each is tested exactly once, folds differ by at most one', () => {
    const folds = kFold(11, 3)
    expect(folds.map((f) => f.testIndex.length)).toEqual([4, 4, 3])
    expect(sorted(folds.flatMap((f) => [...f.testIndex]))).toEqual([...Array(11).keys()])
    for (const f of folds) {
      expect(f.trainIndex.length + f.testIndex.length).toBe(11)
      expect(sorted([...f.trainIndex, ...f.testIndex])).toEqual([...Array(11).keys()])
    }
    // Without shuffling the folds are consecutive.
    expect([...folds[1]!.testIndex]).toEqual([4, 5, 6, 7])
  })

  it('shuffles reproducibly with a seed', () => {
    const a = kFold(20, 5, { shuffle: true, seed: 3 })
    const b = kFold(20, 5, { shuffle: true, seed: 3 })
    expect(a.map((f) => [...f.testIndex])).toEqual(b.map((f) => [...f.testIndex]))
    expect([...a[0]!.testIndex]).not.toEqual([0, 1, 2, 3])
    expect(sorted(a.flatMap((f) => [...f.testIndex]))).toEqual([...Array(20).keys()])
  })

  it('stratified folds hold every class in equal shares', () => {
    const labels = Int32Array.from({ length: 30 }, (_, i) => (i < 15 ? 0 : i < 25 ? 1 : 2))
    const folds = kFold(30, 5, { shuffle: true, seed: 1, stratify: labels })
    for (const f of folds)
      expect([0, 1, 2].map((c) => [...f.testIndex].filter((i) => labels[i] === c).length)).toEqual([3, 2, 1])
    expect(sorted(folds.flatMap((f) => [...f.testIndex]))).toEqual([...Array(30).keys()])
  })

  it('rejects k outside [2, n]', () => {
    expect(() => kFold(5, 1)).toThrow(/k/)
    expect(() => kFold(5, 6)).toThrow(/k/)
  })
})

describe('splits', () => {
  it('trainTestSplit keeps rows of x and y together and covers every sample once', () => {
    const x = arange(0, 20).to('float32').reshape([10, 2])
    const y = arange(0, 10)
    const s = trainTestSplit(x, y, { testSize: 0.3, seed: 1 })
    expect(s.xTest.shape).toEqual([3, 2])
    expect(s.yTrain.shape).toEqual([7])
    const rows = (t: typeof x) => (t.toArray() as number[][]).map((r) => r[0]! / 2)
    expect(rows(s.xTrain)).toEqual([...s.yTrain.data])
    expect(sorted([...s.yTrain.data, ...s.yTest.data])).toEqual([...Array(10).keys()])
    expect(trainTestSplit(x, y, { testSize: 0.3, seed: 1 }).yTest.toArray()).toEqual(s.yTest.toArray())
  })

  it('trainValTestSplit makes three disjoint parts', () => {
    const x = arange(0, 100).to('float32').reshape([100, 1])
    const s = trainValTestSplit(x, arange(0, 100), { valSize: 0.2, testSize: 0.1 })
    expect([s.yTrain.size, s.yVal.size, s.yTest.size]).toEqual([70, 20, 10])
    expect(new Set([...s.yTrain.data, ...s.yVal.data, ...s.yTest.data]).size).toBe(100)
  })

  it('stratified splits keep the class proportions', () => {
    const labels = tensor(Int32Array.from({ length: 100 }, (_, i) => (i < 80 ? 0 : 1)))
    const [test, train] = splitIndices(100, [0.25], { stratify: labels, seed: 2 })
    const ones = (idx: Int32Array) => [...idx].filter((i) => i >= 80).length
    expect(test!.length).toBe(25)
    expect(ones(test!)).toBe(5)
    expect(ones(train!)).toBe(15)
    // Per-class rounding still gives the requested total (largest remainder): 33 + 67 samples.
    const uneven = tensor(Int32Array.from({ length: 100 }, (_, i) => (i < 33 ? 0 : 1)))
    const [t2, r2] = splitIndices(100, [0.25], { stratify: uneven })
    expect([t2!.length, r2!.length]).toEqual([25, 75])
    expect([...t2!].filter((i) => i < 33).length).toBe(8)
  })

  it('randomSplit gives subsets of the requested sizes', () => {
    const ds = new TensorDataset(arange(0, 10))
    const [a, b] = randomSplit(ds, [0.8, 0.2])
    expect([a!.length, b!.length]).toEqual([8, 2])
    expect(() => splitIndices(10, [0.5, 8])).toThrow(/add up/)
  })
})

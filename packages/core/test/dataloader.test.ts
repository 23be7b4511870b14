import { describe, expect, it } from 'vitest'
import { arange } from '../src/ops/index.js'
import { tensor } from '../src/tensor.js'
import { DataLoader } from '../src/data/dataloader.js'
import { Subset, TensorDataset, collate, materialize } from '../src/data/dataset.js'

const ds = () => new TensorDataset(arange(0, 20).to('float32').reshape([10, 2]), arange(0, 10))

const firstColumn = (loader: DataLoader) =>
  [...loader].map(([x]) => [...x!.data].filter((_, i) => i % 2 === 0).map((v) => v / 2))

describe('TensorDataset', () => {
  it('indexes rows of every tensor', () => {
    const [x, y] = ds().get(3)
    expect(x!.toArray()).toEqual([6, 7])
    expect(y!.item()).toBe(3)
  })

  it('rejects tensors with different first dimensions and bad indices', () => {
    expect(() => new TensorDataset(arange(0, 4), arange(0, 5))).toThrow(/same first dimension/)
    expect(() => ds().get(10)).toThrow(/out of range/)
  })

  it('batches by gather equal the stacked items', () => {
    const d = ds()
    const [xb, yb] = d.getBatch(Int32Array.from([4, 1]))
    const [xs, ys] = collate([d.get(4), d.get(1)])
    expect(xb!.toArray()).toEqual(xs!.toArray())
    expect(yb!.toArray()).toEqual(ys!.toArray())
    expect(xb!.shape).toEqual([2, 2])
  })
})

describe('DataLoader', () => {
  it('yields stacked batches in order without shuffling, the last one smaller', () => {
    const loader = new DataLoader(ds(), { batchSize: 4 })
    expect(loader.length).toBe(3)
    const batches = [...loader]
    expect(batches.map(([x, y]) => [x!.shape, y!.shape])).toEqual([
      [[4, 2], [4]],
      [[4, 2], [4]],
      [[2, 2], [2]],
    ])
    expect(batches[2]![1]!.toArray()).toEqual([8, 9])
  })

  it('dropLast drops the incomplete batch; the default batch size is 64', () => {
    expect([...new DataLoader(ds(), { batchSize: 4, dropLast: true })].length).toBe(2)
    expect(new DataLoader(ds()).batchSize).toBe(64)
  })

  it('shuffles reproducibly from a seed, with a new order every epoch', () => {
    const a = new DataLoader(ds(), { batchSize: 3, shuffle: true, seed: 7 })
    const b = new DataLoader(ds(), { batchSize: 3, shuffle: true, seed: 7 })
    const a1 = firstColumn(a)
    const a2 = firstColumn(a)
    expect(firstColumn(b)).toEqual(a1)
    expect(firstColumn(b)).toEqual(a2)
    expect(a2).not.toEqual(a1)
    // Every epoch is a permutation of all samples.
    expect(a1.flat().sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const c = new DataLoader(ds(), { batchSize: 3, shuffle: true, seed: 8 })
    expect(firstColumn(c)).not.toEqual(a1)
  })

  it('works with a dataset that only has get(i) and with Subset', () => {
    const plain = { length: 3, get: (i: number) => [tensor([i, i]), tensor([i])] }
    const [[x, y]] = [...new DataLoader(plain, { batchSize: 3 })]
    expect(x!.toArray()).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ])
    expect(y!.shape).toEqual([3, 1])
    const sub = new Subset(ds(), Int32Array.from([9, 0]))
    expect(materialize(sub)[1]!.toArray()).toEqual([9, 0])
    expect([...new DataLoader(sub, { batchSize: 1 })].map(([, t]) => t!.item())).toEqual([9, 0])
  })

  it('rejects a bad batch size', () => {
    expect(() => new DataLoader(ds(), { batchSize: 0 })).toThrow(/batchSize/)
  })
})

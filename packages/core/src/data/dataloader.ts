/**
 * DataLoader: mini-batches over a dataset, shuffled each epoch from a seed. Mini-batch sizes are
 * usually 64..256 and powers of two run a little faster (Ng's Deep Learning course on
 * mini-batch gradient descent, https://www.coursera.org/learn/deep-neural-network),
 * so the default is 64. With a seed, epoch e uses the permutation drawn from `seed` after e earlier
 * epochs: two loaders with the same seed give the same batches, epoch after epoch.
 */
import { ArgumentError } from '../errors.js'
import { Generator } from '../random.js'
import type { Tensor } from '../tensor.js'
import { type Dataset, collate } from './dataset.js'

export interface DataLoaderOptions {
  /** Samples per batch (default 64). */
  batchSize?: number
  /** Draw a new order every epoch (default false). */
  shuffle?: boolean
  /** Seed of the shuffling generator (default 0), so runs are reproducible. */
  seed?: number
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean
}

export class DataLoader<T = Tensor[]> implements Iterable<T> {
  readonly batchSize: number
  readonly shuffle: boolean
  readonly dropLast: boolean
  private readonly generator: Generator

  constructor(
    readonly dataset: Dataset<T>,
    { batchSize = 64, shuffle = false, seed = 0, dropLast = false }: DataLoaderOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new ArgumentError(`batchSize must be a positive integer, got ${batchSize}`)
    this.batchSize = batchSize
    this.shuffle = shuffle
    this.dropLast = dropLast
    this.generator = new Generator(seed)
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize)
  }

  /** The sample order of the next epoch (advances the generator when shuffling). */
  private order(): Int32Array {
    const n = this.dataset.length
    return this.shuffle ? this.generator.permutation(n) : Int32Array.from({ length: n }, (_, i) => i)
  }

  *[Symbol.iterator](): Iterator<T> {
    const order = this.order()
    const n = order.length
    for (let b = 0; b < this.length; b++) {
      const idx = order.slice(b * this.batchSize, Math.min(n, (b + 1) * this.batchSize))
      yield this.dataset.getBatch ? this.dataset.getBatch(idx) : collate([...idx].map((i) => this.dataset.get(i)))
    }
  }
}

/**
 * Datasets: anything with a length and an indexable item (PyTorch's map-style `Dataset`). A
 * `TensorDataset` wraps tensors that share their first dimension, and can hand out a whole
 * mini-batch with one gather per tensor (the DataLoader uses that instead of stacking items).
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { fmt } from '../shape.js'
import { type Tensor, tensor } from '../tensor.js'
import { gather, stack } from '../ops/index.js'

export interface Dataset<T = Tensor[]> {
  readonly length: number
  get(i: number): T
  /** Optional fast path: the items at `indices`, already stacked into a batch. */
  getBatch?(indices: Int32Array): T
}

/** Rows of tensors that share their first dimension: item i is `[t0[i], t1[i], ...]`. */
export class TensorDataset implements Dataset<Tensor[]> {
  readonly tensors: Tensor[]

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new ArgumentError('TensorDataset needs at least one tensor')
    const n = tensors[0]!.shape[0]
    for (const t of tensors)
      if (t.rank === 0 || t.shape[0] !== n)
        throw new ShapeError(`TensorDataset: every tensor needs the same first dimension ${n}, got ${fmt(t.shape)}`)
    this.tensors = tensors
  }

  get length(): number {
    return this.tensors[0]!.shape[0]!
  }

  get(i: number): Tensor[] {
    checkIndex(i, this.length)
    return this.tensors.map((t) => t.slice(0, i, i + 1).squeeze(0))
  }

  getBatch(indices: Int32Array): Tensor[] {
    const idx = tensor(indices, { dtype: 'int32' })
    return this.tensors.map((t) => gather(t, 0, idx))
  }
}

/** A view of `dataset` at the given indices (PyTorch `Subset`). */
export class Subset<T = Tensor[]> implements Dataset<T> {
  constructor(
    readonly dataset: Dataset<T>,
    readonly indices: Int32Array,
  ) {
    for (const i of indices) checkIndex(i, dataset.length)
  }

  get length(): number {
    return this.indices.length
  }

  get(i: number): T {
    checkIndex(i, this.length)
    return this.dataset.get(this.indices[i]!)
  }

  getBatch(indices: Int32Array): T {
    const mapped = indices.map((i) => this.indices[i]!)
    return this.dataset.getBatch ? this.dataset.getBatch(mapped) : collate([...mapped].map((i) => this.dataset.get(i)))
  }
}

/** Stack a list of items (each a tensor, or an array of tensors) into one batch. */
export function collate<T>(items: T[]): T {
  if (items.length === 0) throw new ArgumentError('cannot collate an empty batch')
  const first = items[0]
  if (Array.isArray(first))
    return first.map((_, j) =>
      stack(
        items.map((it) => (it as Tensor[])[j]!),
        0,
      ),
    ) as T
  return stack(items as Tensor[], 0) as T
}

/** Every tensor of a dataset, stacked (handy for small datasets and for evaluation). */
export function materialize(dataset: Dataset<Tensor[]>): Tensor[] {
  if (dataset instanceof TensorDataset) return dataset.tensors
  const all = Int32Array.from({ length: dataset.length }, (_, i) => i)
  return dataset.getBatch ? dataset.getBatch(all) : collate([...all].map((i) => dataset.get(i)))
}

function checkIndex(i: number, n: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new ArgumentError(`dataset index ${i} is out of range [0, ${n})`)
}

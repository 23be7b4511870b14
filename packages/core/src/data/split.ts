/**
 * Splitting data: train/validation/test and k-fold cross-validation (CS231n,
 * https://cs231n.github.io/classification/: tune on the
 * validation set, touch the test set once; cross-validation splits the training data into k folds
 * and lets each fold be the validation set once).
 */
import { ArgumentError } from '../errors.js'
import { gather } from '../ops/index.js'
import { Generator } from '../random.js'
import { Tensor, tensor } from '../tensor.js'
import { type Dataset, Subset } from './dataset.js'

export interface SplitOptions {
  /** Shuffle before splitting (default true). */
  shuffle?: boolean
  /** Seed of the shuffle (default 0). */
  seed?: number
  /** Integer class labels: keep each class's proportion in every part (stratified split). */
  stratify?: Tensor | ArrayLike<number>
}

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i)

/** A fraction in (0, 1) or an absolute count, as a count out of n. */
function count(size: number, n: number, what: string): number {
  const c = size > 0 && size < 1 ? Math.round(size * n) : size
  if (!Number.isInteger(c) || c < 0 || c > n)
    throw new ArgumentError(`${what} must be a fraction in (0, 1) or a count in [0, ${n}], got ${size}`)
  return c
}

/**
 * Split 0..n-1 into consecutive parts of the given sizes (fractions or counts; the last part takes
 * the rest). With `stratify`, every class is split in the same proportions.
 */
export function splitIndices(
  n: number,
  sizes: number[],
  { shuffle = true, seed = 0, stratify }: SplitOptions = {},
): Int32Array[] {
  const g = new Generator(seed)
  const order = shuffle ? g.permutation(n) : range(n)
  if (!stratify) {
    const parts: Int32Array[] = []
    let start = 0
    for (const s of sizes) {
      const c = count(s, n, 'split size')
      parts.push(order.slice(start, start + c))
      start += c
    }
    if (start > n) throw new ArgumentError(`split sizes add up to ${start}, more than the ${n} samples`)
    parts.push(order.slice(start))
    return parts
  }
  const labels = stratify instanceof Tensor ? stratify.data : stratify
  if (labels.length !== n) throw new ArgumentError(`stratify has ${labels.length} labels for ${n} samples`)
  const byClass = new Map<number, number[]>()
  for (const i of order) {
    const c = Number(labels[i])
    if (!byClass.has(c)) byClass.set(c, [])
    byClass.get(c)!.push(i)
  }
  const classes = [...byClass.values()]
  const parts: number[][] = Array.from({ length: sizes.length + 1 }, () => [])
  const taken = classes.map(() => 0)
  for (const [p, s] of sizes.entries()) {
    // Give each class its share of the part's total, rounding by largest remainder so the part
    // has exactly the requested size.
    const total = count(s, n, 'split size')
    const exact = classes.map((members) => (total * members.length) / n)
    const quota = exact.map(Math.floor)
    const order = exact.map((_, c) => c).sort((a, b) => exact[b]! - quota[b]! - (exact[a]! - quota[a]!))
    for (let r = total - quota.reduce((a, b) => a + b, 0), i = 0; r > 0; r--, i++) quota[order[i]!]!++
    classes.forEach((members, c) => {
      parts[p]!.push(...members.slice(taken[c]!, taken[c]! + quota[c]!))
      taken[c]! += quota[c]!
    })
  }
  classes.forEach((members, c) => {
    parts[sizes.length]!.push(...members.slice(taken[c]!))
  })
  // Interleave classes again (each part in shuffled order, not grouped by class).
  return parts.map((p) => {
    const a = Int32Array.from(p)
    if (!shuffle) return a.sort()
    const perm = g.permutation(a.length)
    return perm.map((j) => a[j]!)
  })
}

export interface TrainTest {
  xTrain: Tensor
  xTest: Tensor
  yTrain: Tensor
  yTest: Tensor
}

const take = (t: Tensor, idx: Int32Array) => gather(t, 0, tensor(idx, { dtype: 'int32' }))

/** Split features and targets into train and test parts (`testSize` a fraction or a count, default 0.25). */
export function trainTestSplit(
  x: Tensor,
  y: Tensor,
  { testSize = 0.25, ...opts }: SplitOptions & { testSize?: number } = {},
): TrainTest {
  const n = x.shape[0]!
  if (y.shape[0] !== n) throw new ArgumentError(`x has ${n} rows but y has ${y.shape[0]}`)
  const [test, train] = splitIndices(n, [testSize], opts)
  return { xTrain: take(x, train!), xTest: take(x, test!), yTrain: take(y, train!), yTest: take(y, test!) }
}

/** Train / validation / test split (`valSize`, `testSize` fractions or counts; default 0.15 each). */
export function trainValTestSplit(
  x: Tensor,
  y: Tensor,
  { valSize = 0.15, testSize = 0.15, ...opts }: SplitOptions & { valSize?: number; testSize?: number } = {},
): TrainTest & { xVal: Tensor; yVal: Tensor } {
  const n = x.shape[0]!
  if (y.shape[0] !== n) throw new ArgumentError(`x has ${n} rows but y has ${y.shape[0]}`)
  const [test, val, train] = splitIndices(n, [testSize, valSize], opts)
  return {
    xTrain: take(x, train!),
    yTrain: take(y, train!),
    xVal: take(x, val!),
    yVal: take(y, val!),
    xTest: take(x, test!),
    yTest: take(y, test!),
  }
}

/** Random subsets of a dataset with the given sizes (fractions or counts; the last takes the rest). */
export function randomSplit<T>(
  dataset: Dataset<T>,
  sizes: number[],
  opts: Omit<SplitOptions, 'stratify'> = {},
): Subset<T>[] {
  const parts = splitIndices(dataset.length, sizes.slice(0, -1), opts)
  return parts.map((p) => new Subset(dataset, p))
}

export interface Fold {
  trainIndex: Int32Array
  testIndex: Int32Array
}

/**
 * k-fold cross-validation indices: the (optionally shuffled) samples are cut into k consecutive
 * folds, the first n % k of them one sample larger (as scikit-learn's KFold); fold i is the test
 * part of split i and the rest is its training part. Every sample is tested exactly once.
 * With `stratify` (class labels), samples are dealt to the folds class by class, round-robin, so
 * every fold has (within one) the same number of each class (like StratifiedKFold).
 */
export function kFold(
  n: number,
  k: number,
  {
    shuffle = false,
    seed = 0,
    stratify,
  }: { shuffle?: boolean; seed?: number; stratify?: Tensor | ArrayLike<number> } = {},
): Fold[] {
  if (!Number.isInteger(k) || k < 2 || k > n)
    throw new ArgumentError(`kFold needs 2 <= k <= n (n = ${n}), got k = ${k}`)
  let order = shuffle ? new Generator(seed).permutation(n) : range(n)
  if (stratify) {
    const labels = stratify instanceof Tensor ? stratify.data : stratify
    if (labels.length !== n) throw new ArgumentError(`stratify has ${labels.length} labels for ${n} samples`)
    // Group by class (keeping the shuffled order inside each class), then deal round-robin.
    const grouped = [...order].sort((a, b) => Number(labels[a]) - Number(labels[b]))
    const folds: number[][] = Array.from({ length: k }, () => [])
    grouped.forEach((i, r) => {
      folds[r % k]!.push(i)
    })
    order = Int32Array.from(folds.flat())
    return splitByFolds(
      order,
      folds.map((f) => f.length),
    )
  }
  return splitByFolds(
    order,
    Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0)),
  )
}

/** Cut `order` into consecutive folds of the given sizes; each fold is the test part once. */
function splitByFolds(order: Int32Array, sizes: number[]): Fold[] {
  const n = order.length
  const folds: Fold[] = []
  let start = 0
  for (const size of sizes) {
    const testIndex = order.slice(start, start + size)
    const trainIndex = new Int32Array(n - size)
    trainIndex.set(order.subarray(0, start))
    trainIndex.set(order.subarray(start + size), start)
    folds.push({ trainIndex, testIndex })
    start += size
  }
  return folds
}

/**
 * Feature preprocessing (CS231n, "Data Preprocessing", https://cs231n.github.io/neural-networks-2/; Stanford
 * CS 329P, "Data transformation", https://c.d2l.ai/stanford-cs329p/): statistics are fitted on the training data only
 * and the same transform is applied to validation and test data, so no information leaks from them. Each scaler works
 * per feature: along axis 0 of an (N, ...) tensor, every other position is one feature. Computed in float64; the
 * output keeps the input dtype.
 */
import { type DType, allocate } from '../dtype.js'
import { ArgumentError, ShapeError } from '../errors.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'

export { oneHot } from '../ops/indexing.js'

export interface Scaler {
  /** Apply the fitted transform. */
  transform(x: Tensor): Tensor
  /** Undo it. */
  inverse(x: Tensor): Tensor
}

/** Per-feature affine map y = (x - shift) / scale, the shape of every scaler here. */
export class AffineScaler implements Scaler {
  constructor(
    readonly shift: Float64Array,
    readonly scale: Float64Array,
    private readonly featureShape: readonly number[],
    private readonly offset = 0,
  ) {}

  private check(x: Tensor): number {
    const d = this.shift.length
    if (x.rank < 1 || x.size !== x.shape[0]! * d || x.shape.slice(1).some((s, i) => s !== this.featureShape[i]))
      throw new ShapeError(
        `scaler was fitted on features of shape ${fmt(this.featureShape)}, got input ${fmt(x.shape)}`,
      )
    return d
  }

  transform(x: Tensor): Tensor {
    const d = this.check(x)
    return mapRows(x, d, (v, j) => (v - this.shift[j]!) / this.scale[j]! + this.offset)
  }

  inverse(x: Tensor): Tensor {
    const d = this.check(x)
    return mapRows(x, d, (v, j) => (v - this.offset) * this.scale[j]! + this.shift[j]!)
  }
}

function mapRows(x: Tensor, d: number, f: (v: number, j: number) => number): Tensor {
  const src = x.data
  const dtype: DType = x.dtype === 'float64' ? 'float64' : 'float32'
  const out = allocate(dtype, src.length)
  for (let i = 0; i < src.length; i++) out[i] = f(Number(src[i]), i % d)
  return new Tensor(out, x.shape)
}

/** Per-feature columns statistics of an (N, ...) tensor in float64. */
function columns(x: Tensor, what: string): { n: number; d: number; values: ArrayLike<number> } {
  if (x.rank < 1 || x.shape[0]! < 1)
    throw new ShapeError(`${what} needs an (N, ...) tensor with N >= 1, got ${fmt(x.shape)}`)
  const n = x.shape[0]!
  return { n, d: x.size / n, values: x.data as ArrayLike<number> }
}

export class StandardScaler extends AffineScaler {
  get mean(): Float64Array {
    return this.shift
  }
  get std(): Float64Array {
    return this.scale
  }
}

/**
 * Fit a standardiser x' = (x - mu) / sigma on `xTrain` (CS231n: zero mean, unit variance per
 * feature). sigma is the population standard deviation (divide by N), as scikit-learn's
 * StandardScaler.
 * NOTE: a constant feature has sigma = 0; it is given sigma = 1 (it becomes 0, not NaN), as
 * scikit-learn does.
 */
export function standardize(xTrain: Tensor): StandardScaler {
  const { n, d, values } = columns(xTrain, 'standardize')
  const mean = new Float64Array(d)
  const std = new Float64Array(d)
  for (let i = 0; i < n * d; i++) mean[i % d]! += values[i]!
  for (let j = 0; j < d; j++) mean[j]! /= n
  for (let i = 0; i < n * d; i++) std[i % d]! += (values[i]! - mean[i % d]!) ** 2
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]! / n) || 1
  return new StandardScaler(mean, std, xTrain.shape.slice(1))
}

export class MinMaxScaler extends AffineScaler {}

/**
 * Fit a min-max scaler on `xTrain`: x' = (x - min) / (max - min) maps each training feature to
 * [0, 1] (CS231n), or to `range` = [a, b]. A constant feature maps to a.
 */
export function minMaxScale(xTrain: Tensor, { range = [0, 1] as [number, number] } = {}): MinMaxScaler {
  const [a, b] = range
  if (!(b > a)) throw new ArgumentError(`minMaxScale: range must be [a, b] with a < b, got [${a}, ${b}]`)
  const { n, d, values } = columns(xTrain, 'minMaxScale')
  const lo = new Float64Array(d).fill(Infinity)
  const hi = new Float64Array(d).fill(-Infinity)
  for (let i = 0; i < n * d; i++) {
    const j = i % d
    lo[j] = Math.min(lo[j]!, values[i]!)
    hi[j] = Math.max(hi[j]!, values[i]!)
  }
  // (x - lo) / ((hi - lo) / (b - a)) + a
  const scale = hi.map((h, j) => (h - lo[j]! || 1) / (b - a))
  return new MinMaxScaler(lo, scale, xTrain.shape.slice(1), a)
}

/**
 * log(1 + x), for skewed non-negative features such as counts and prices (taking logarithms, as
 * d2l.ai's house prices do: https://d2l.ai/chapter_multilayer-perceptrons/kaggle-house-price.html). NOTE: computed
 * with Math.log1p, exact for small x where log(1 + x) in float32 would round 1 + x first.
 */
export function logTransform(x: Tensor): Tensor {
  const src = x.data
  for (let i = 0; i < src.length; i++)
    if (!(Number(src[i]) > -1))
      throw new ArgumentError(`logTransform needs values > -1, got ${src[i]} at flat index ${i}`)
  return mapRows(x, 1, (v) => Math.log1p(v))
}

/** The inverse of logTransform: exp(y) - 1. */
export function inverseLogTransform(y: Tensor): Tensor {
  return mapRows(y, 1, (v) => Math.expm1(v))
}

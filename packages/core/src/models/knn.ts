/**
 * k-nearest neighbours (Cover & Hart 1967, https://doi.org/10.1109/TIT.1967.1053964; CS231n,
 * https://cs231n.github.io/classification/): "training" memorises the data; a query takes the k
 * training points nearest to it, by L1 (Manhattan) d1 = sum_p |x_p - y_p| or L2 (Euclidean)
 * d2 = sqrt(sum_p (x_p - y_p)^2) distance, and votes on their labels. forward returns the votes
 * (N, C), so predict is their argmax.
 */
import { ArgumentError, RefnetsError, ShapeError } from '../errors.js'
import { Module } from '../nn/module.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'

export interface KNNOptions {
  /** Number of neighbours that vote (default 5). */
  k?: number
  /** 'l2' (default) or 'l1'. */
  distance?: 'l1' | 'l2'
}

export class KNearestNeighbors extends Module {
  readonly k: number
  readonly distance: 'l1' | 'l2'
  private xTrain: Float64Array | null = null
  private yTrain: Int32Array | null = null
  private d = 0
  numClasses = 0

  constructor({ k = 5, distance = 'l2' }: KNNOptions = {}) {
    super()
    if (!Number.isInteger(k) || k < 1)
      throw new ArgumentError(`KNearestNeighbors: k must be a positive integer, got ${k}`)
    if (distance !== 'l1' && distance !== 'l2')
      throw new ArgumentError(`KNearestNeighbors: distance must be 'l1' or 'l2', got '${distance as string}'`)
    this.k = k
    this.distance = distance
  }

  /** Memorise the training data x (N, D) and labels y (N). */
  fit(x: Tensor, y: Tensor): this {
    if (x.rank !== 2 || y.rank !== 1 || x.shape[0] !== y.shape[0])
      throw new ShapeError(`KNN.fit expects x (N, D) and y (N), got ${fmt(x.shape)} and ${fmt(y.shape)}`)
    if (x.shape[0]! < this.k)
      throw new ArgumentError(`KNN: k = ${this.k} neighbours, but only ${x.shape[0]} training samples`)
    this.xTrain = Float64Array.from(x.data as ArrayLike<number>, Number)
    this.yTrain = Int32Array.from(y.data as ArrayLike<number>, Number)
    this.d = x.shape[1]!
    this.numClasses = Math.max(...this.yTrain) + 1
    return this
  }

  /** Distances (N, M) from each query to each training point. */
  distances(x: Tensor): Float64Array {
    const xt = this.xTrain
    if (!xt) throw new RefnetsError('KNearestNeighbors: call fit(x, y) before predicting')
    if (x.rank !== 2 || x.shape[1] !== this.d)
      throw new ShapeError(`KNN expects queries (N, ${this.d}), got ${fmt(x.shape)}`)
    const q = x.data as ArrayLike<number>
    const n = x.shape[0]!
    const m = xt.length / this.d
    const d = this.d
    const out = new Float64Array(n * m)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) {
        let s = 0
        if (this.distance === 'l1') for (let p = 0; p < d; p++) s += Math.abs(q[i * d + p]! - xt[j * d + p]!)
        else {
          for (let p = 0; p < d; p++) s += (q[i * d + p]! - xt[j * d + p]!) ** 2
          s = Math.sqrt(s)
        }
        out[i * m + j] = s
      }
    return out
  }

  /**
   * Votes (N, C): how many of each query's k nearest training points have each label.
   * NOTE: ties in distance keep the training point seen first; ties in the vote go to the smallest
   * label (argmax keeps the first maximum), as scikit-learn's mode does.
   */
  forward(x: Tensor): Tensor {
    const dist = this.distances(x)
    const n = x.shape[0]!
    const m = this.yTrain!.length
    const c = this.numClasses
    const votes = new Float32Array(n * c)
    const best = new Int32Array(this.k)
    const bestD = new Float64Array(this.k)
    for (let i = 0; i < n; i++) {
      // Keep the k smallest distances by insertion (k is small).
      let size = 0
      for (let j = 0; j < m; j++) {
        const v = dist[i * m + j]!
        if (size === this.k && v >= bestD[size - 1]!) continue
        let pos = size < this.k ? size++ : size - 1
        while (pos > 0 && bestD[pos - 1]! > v) {
          bestD[pos] = bestD[pos - 1]!
          best[pos] = best[pos - 1]!
          pos--
        }
        bestD[pos] = v
        best[pos] = j
      }
      for (let t = 0; t < size; t++) votes[i * c + this.yTrain![best[t]!]!]! += 1
    }
    return new Tensor(votes, [n, c])
  }

  /** Majority label of the k nearest neighbours, int32 (N). */
  predict(x: Tensor): Tensor {
    return this.forward(x).argmax(1)
  }
}

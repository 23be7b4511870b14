/**
 * ROC curve and AUC (Fawcett 2006, "An introduction to ROC analysis",
 * https://doi.org/10.1016/j.patrec.2005.10.010): sweep a threshold down through the scores; at each one, the true
 * positive rate TPR = TP / P (recall) against the false positive rate FPR = FP / N. AUC is the area
 * under that curve by the trapezoid rule: the probability that a random positive scores above a
 * random negative (ties count one half).
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { Tensor } from '../tensor.js'

type Values = Tensor | ArrayLike<number>

const toArray = (v: Values): Float64Array =>
  v instanceof Tensor ? Float64Array.from(v.data as ArrayLike<number>, Number) : Float64Array.from(v)

export interface RocCurve {
  /** False positive rate at each threshold, from 0 up to 1. */
  fpr: number[]
  /** True positive rate at each threshold, from 0 up to 1. */
  tpr: number[]
  /** Decreasing thresholds: a sample is positive when its score >= threshold. The first is +Infinity (nothing positive). */
  thresholds: number[]
}

/**
 * The ROC curve of binary labels (1 = positive, 0 = negative) against scores (higher = more
 * positive: probabilities or logits). One point per distinct score, plus the (0, 0) start; unlike
 * scikit-learn's default, collinear points are kept (drop_intermediate=False).
 */
export function rocCurve(yTrue: Values, scores: Values): RocCurve {
  const y = toArray(yTrue)
  const s = toArray(scores)
  if (y.length !== s.length) throw new ShapeError(`rocCurve: ${y.length} labels but ${s.length} scores`)
  let pos = 0
  for (const v of y) {
    if (v !== 0 && v !== 1) throw new ArgumentError(`rocCurve needs binary labels 0/1, got ${v}`)
    pos += v
  }
  const neg = y.length - pos
  if (pos === 0 || neg === 0)
    throw new ArgumentError(`rocCurve needs both classes; got ${pos} positives and ${neg} negatives`)
  const order = Int32Array.from(s.keys()).sort((i, j) => s[j]! - s[i]!)
  const fpr = [0]
  const tpr = [0]
  const thresholds = [Infinity]
  let tp = 0
  let fp = 0
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!
    if (y[i] === 1) tp++
    else fp++
    // Emit a point only after the last sample of a run of equal scores (they cross the threshold together).
    if (r === order.length - 1 || s[order[r + 1]!] !== s[i]) {
      fpr.push(fp / neg)
      tpr.push(tp / pos)
      thresholds.push(s[i]!)
    }
  }
  return { fpr, tpr, thresholds }
}

/** Area under a curve y(x) by the trapezoid rule; x must be monotonic. */
export function auc(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length || x.length < 2)
    throw new ShapeError(`auc needs two arrays of the same length >= 2, got ${x.length} and ${y.length}`)
  let area = 0
  let dir = 0
  for (let i = 1; i < x.length; i++) {
    const dx = x[i]! - x[i - 1]!
    if (dx !== 0) {
      if (dir !== 0 && Math.sign(dx) !== dir) throw new ArgumentError('auc: x is neither increasing nor decreasing')
      dir = Math.sign(dx)
    }
    area += (dx * (y[i]! + y[i - 1]!)) / 2
  }
  return Math.abs(area)
}

/** ROC AUC of binary labels against scores. */
export function rocAuc(yTrue: Values, scores: Values): number {
  const { fpr, tpr } = rocCurve(yTrue, scores)
  return auc(fpr, tpr)
}

/**
 * Classification metrics (Ng's "Structuring Machine Learning Projects",
 * https://www.coursera.org/learn/machine-learning-projects): accuracy, precision, recall, F1 and the confusion
 * matrix. Inputs are class labels: a Tensor or an array. A float (N, C) tensor of scores (C > 1) is
 * read as per-class scores and turned into labels by argmax, so model outputs can be passed as is.
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'

export type Labels = Tensor | ArrayLike<number>

/** Class labels from labels or from (N, C) scores (argmax over the last axis). */
export function toLabels(y: Labels): Int32Array {
  if (!(y instanceof Tensor)) return Int32Array.from(y as ArrayLike<number>, (v) => Math.round(v))
  if (y.rank === 2 && y.shape[1]! > 1 && (y.dtype === 'float32' || y.dtype === 'float64'))
    return y.argmax(1).data as Int32Array
  if (y.rank > 1 && !(y.rank === 2 && y.shape[1] === 1))
    throw new ShapeError(`expected labels (N) or scores (N, C), got ${fmt(y.shape)}`)
  return Int32Array.from(y.data as ArrayLike<number>, (v) => Math.round(Number(v)))
}

function pair(yTrue: Labels, yPred: Labels): [Int32Array, Int32Array] {
  const t = toLabels(yTrue)
  const p = toLabels(yPred)
  if (t.length !== p.length) throw new ShapeError(`yTrue has ${t.length} labels but yPred has ${p.length}`)
  if (t.length === 0) throw new ArgumentError('metrics need at least one sample')
  return [t, p]
}

/** Fraction of predictions equal to the true label. */
export function accuracy(yTrue: Labels, yPred: Labels): number {
  const [t, p] = pair(yTrue, yPred)
  let hit = 0
  for (let i = 0; i < t.length; i++) if (t[i] === p[i]) hit++
  return hit / t.length
}

export interface ConfusionMatrixOptions {
  /** A true label to leave out, with its prediction (segmentation marks borders 255, PASCAL VOC). */
  ignoreIndex?: number
}

/**
 * Confusion matrix C[i][j] = number of samples of true class i predicted as class j (rows: truth,
 * columns: prediction, as scikit-learn's confusion_matrix(y_true, y_pred)). `numClasses` defaults
 * to 1 + the largest label seen. The one confusion matrix of refnets: the segmentation metrics of
 * @refnets/cnn count pixels with it.
 */
export function confusionMatrix(
  yTrue: Labels,
  yPred: Labels,
  numClasses?: number,
  opts: ConfusionMatrixOptions = {},
): number[][] {
  const [t, p] = pair(yTrue, yPred)
  const ignore = opts.ignoreIndex
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1))
    throw new ArgumentError(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`)
  let k = numClasses ?? 0
  if (numClasses === undefined)
    for (let i = 0; i < t.length; i++) if (t[i] !== ignore) k = Math.max(k, t[i]! + 1, p[i]! + 1)
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0))
  for (let i = 0; i < t.length; i++) {
    if (t[i] === ignore) continue
    if (t[i]! < 0 || t[i]! >= k || p[i]! < 0 || p[i]! >= k)
      throw new ArgumentError(
        `confusionMatrix: label ${t[i]! < 0 || t[i]! >= k ? `${t[i]} (true)` : `${p[i]} (predicted)`} at index ${i} is outside [0, ${k})`,
      )
    m[t[i]!]![p[i]!]!++
  }
  return m
}

export interface AverageOptions {
  /**
   * 'binary' (default): the score of class `posLabel` only; 'macro': the unweighted mean over
   * classes; 'micro': from the pooled counts (equals accuracy for single-label data); 'none': one
   * score per class.
   */
  average?: 'binary' | 'macro' | 'micro' | 'none'
  /** The positive class for 'binary' (default 1). */
  posLabel?: number
  /** Number of classes for 'macro'/'none' (default: 1 + the largest label seen). */
  numClasses?: number
}

interface Counts {
  tp: number[]
  fp: number[]
  fn: number[]
  /** Classes that occur in yTrue or yPred (macro averages over these, as scikit-learn). */
  present: boolean[]
}

function counts(yTrue: Labels, yPred: Labels, numClasses?: number): Counts {
  const m = confusionMatrix(yTrue, yPred, numClasses)
  const k = m.length
  const tp = m.map((row, i) => row[i]!)
  const fp = Array.from({ length: k }, (_, j) => m.reduce((s, row) => s + row[j]!, 0) - tp[j]!)
  const fn = m.map((row, i) => row.reduce((a, b) => a + b, 0) - tp[i]!)
  const present = tp.map((v, i) => v + fp[i]! + fn[i]! > 0)
  return { tp, fp, fn, present }
}

/** NOTE: a ratio with an empty denominator (no predicted or no actual positives) is 0, as scikit-learn's default. */
const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b)

function averaged(
  yTrue: Labels,
  yPred: Labels,
  opts: AverageOptions,
  score: (tp: number, fp: number, fn: number) => number,
): number | number[] {
  const { average = 'binary', posLabel = 1, numClasses } = opts
  const c = counts(yTrue, yPred, numClasses)
  const per = c.tp.map((tp, i) => score(tp, c.fp[i]!, c.fn[i]!))
  switch (average) {
    case 'binary':
      if (c.tp.length > 2 && c.present.filter(Boolean).length > 2)
        throw new ArgumentError(
          `average 'binary' needs two classes, found ${c.present.filter(Boolean).length}; use average 'macro'`,
        )
      return posLabel < per.length ? per[posLabel]! : 0
    case 'macro': {
      const idx = per.map((_, i) => i).filter((i) => numClasses !== undefined || c.present[i])
      return idx.reduce((s, i) => s + per[i]!, 0) / idx.length
    }
    case 'micro': {
      const sum = (a: number[]) => a.reduce((x, y) => x + y, 0)
      return score(sum(c.tp), sum(c.fp), sum(c.fn))
    }
    case 'none':
      return per
    default:
      throw new ArgumentError(`average must be 'binary', 'macro', 'micro' or 'none', got '${average as string}'`)
  }
}

/** Precision TP / (TP + FP): of the samples predicted positive, the fraction that are. */
export function precision(yTrue: Labels, yPred: Labels, opts: AverageOptions & { average: 'none' }): number[]
export function precision(yTrue: Labels, yPred: Labels, opts?: AverageOptions): number
export function precision(yTrue: Labels, yPred: Labels, opts: AverageOptions = {}): number | number[] {
  return averaged(yTrue, yPred, opts, (tp, fp) => ratio(tp, tp + fp))
}

/** Recall TP / (TP + FN): of the positive samples, the fraction found. */
export function recall(yTrue: Labels, yPred: Labels, opts: AverageOptions & { average: 'none' }): number[]
export function recall(yTrue: Labels, yPred: Labels, opts?: AverageOptions): number
export function recall(yTrue: Labels, yPred: Labels, opts: AverageOptions = {}): number | number[] {
  return averaged(yTrue, yPred, opts, (tp, _fp, fn) => ratio(tp, tp + fn))
}

/**
 * F1 = 2 P R / (P + R), the harmonic mean of precision and recall, computed per class as
 * 2 TP / (2 TP + FP + FN) (the same value, and defined when P + R = 0). 'macro' averages the
 * per-class F1 scores (scikit-learn's definition), not F1 of the averaged P and R.
 */
export function f1Score(yTrue: Labels, yPred: Labels, opts: AverageOptions & { average: 'none' }): number[]
export function f1Score(yTrue: Labels, yPred: Labels, opts?: AverageOptions): number
export function f1Score(yTrue: Labels, yPred: Labels, opts: AverageOptions = {}): number | number[] {
  return averaged(yTrue, yPred, opts, (tp, fp, fn) => ratio(2 * tp, 2 * tp + fp + fn))
}

/**
 * Metrics for `fit` and `evaluate`, computed from model outputs and targets. Outputs follow the
 * convention of every model here: scores or logits, (N, C) for C classes, or a single logit (N) /
 * (N, 1) for binary problems (positive when the logit is > 0, i.e. probability > 0.5).
 */
import { ArgumentError } from '../errors.js'
import { accuracy, f1Score, precision, recall, toLabels } from '../metrics/classification.js'
import { rocAuc } from '../metrics/roc.js'
import type { Tensor } from '../tensor.js'

export interface Metric {
  name: string
  fn: (output: Tensor, target: Tensor) => number
}

export type MetricName = 'accuracy' | 'precision' | 'recall' | 'f1' | 'auc'
export type MetricSpec = MetricName | Metric

const isBinaryOutput = (o: Tensor) => o.rank === 1 || (o.rank === 2 && o.shape[1] === 1)

/** Predicted class labels from model outputs: argmax of scores, or logit > 0 for one output. */
export function outputLabels(output: Tensor): Int32Array {
  if (!isBinaryOutput(output)) return toLabels(output)
  const d = output.data
  return Int32Array.from({ length: d.length }, (_, i) => (Number(d[i]) > 0 ? 1 : 0))
}

function classify(score: typeof precision) {
  return (o: Tensor, t: Tensor) =>
    score(toLabels(t), outputLabels(o), { average: isBinaryOutput(o) ? 'binary' : 'macro' })
}

const BUILT_IN: Record<MetricName, Metric['fn']> = {
  accuracy: (o, t) => accuracy(toLabels(t), outputLabels(o)),
  precision: classify(precision),
  recall: classify(recall),
  /** Binary F1 for one output, macro F1 for several classes. */
  f1: classify(f1Score),
  auc: (o, t) => {
    if (!isBinaryOutput(o)) throw new ArgumentError("metric 'auc' needs a binary model with one output")
    return rocAuc(t, o)
  },
}

export function resolveMetrics(specs: MetricSpec[]): Metric[] {
  return specs.map((s) => {
    if (typeof s !== 'string') return s
    const fn = BUILT_IN[s]
    if (!fn)
      throw new ArgumentError(
        `unknown metric '${s as string}'; built in: ${Object.keys(BUILT_IN).join(', ')}, or pass { name, fn }`,
      )
    return { name: s, fn }
  })
}

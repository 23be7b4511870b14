/**
 * Bias / variance diagnosis from errors, after Andrew Ng's Deep Learning course ("Bias and Variance",
 * https://www.coursera.org/learn/deep-neural-network; avoidable bias,
 * https://www.coursera.org/learn/machine-learning-projects):
 * a high training error (compared with a baseline such as human-level error) means high bias,
 * underfitting; a large gap between training and dev error means high variance, overfitting.
 * The course's example: train 15% / dev 16% is high bias but not high variance; train 15% / dev 30%
 * is both.
 */
import { ArgumentError } from '../errors.js'

export interface BiasVarianceReport {
  /** trainError - baseline: what a better fit could still remove. */
  avoidableBias: number
  /** devError - trainError: the generalisation gap. */
  variance: number
  highBias: boolean
  highVariance: boolean
  /** 'high bias', 'high variance', 'high bias and high variance' or 'good fit'. */
  diagnosis: string
  /** Which gap to work on first: the larger one (bias on a tie, as the course's recipe fixes bias first), or null when both are small. */
  focus: 'bias' | 'variance' | null
  /** The remedies the course lists for each problem. */
  advice: string[]
}

/**
 * Diagnose bias and variance from training and dev (validation) error rates in [0, 1]. `baseline`
 * is the best achievable (Bayes / human-level) error, 0 by default; a gap counts as high when it
 * exceeds `tolerance` (default 0.02, two percentage points).
 */
export function biasVariance(
  trainError: number,
  devError: number,
  baseline = 0,
  { tolerance = 0.02 } = {},
): BiasVarianceReport {
  for (const [name, v] of [
    ['trainError', trainError],
    ['devError', devError],
    ['baseline', baseline],
  ] as const)
    if (!(v >= 0 && v <= 1)) throw new ArgumentError(`biasVariance: ${name} must be an error rate in [0, 1], got ${v}`)
  const avoidableBias = trainError - baseline
  const variance = devError - trainError
  const highBias = avoidableBias > tolerance
  const highVariance = variance > tolerance
  const advice: string[] = []
  // Remedies from the course's "basic recipe for machine learning": bias -> bigger network, train longer,
  // (architecture search); variance -> more data, regularisation, (architecture search).
  if (highBias) advice.push('bigger network', 'train longer', 'try another architecture')
  if (highVariance)
    advice.push('more training data', 'regularisation (L2, dropout, early stopping)', 'try another architecture')
  const diagnosis =
    highBias && highVariance
      ? 'high bias and high variance'
      : highBias
        ? 'high bias'
        : highVariance
          ? 'high variance'
          : 'good fit'
  const focus = !highBias && !highVariance ? null : avoidableBias >= variance ? 'bias' : 'variance'
  return { avoidableBias, variance, highBias, highVariance, diagnosis, focus, advice: [...new Set(advice)] }
}

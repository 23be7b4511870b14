import { describe, expect, it } from 'vitest'
import { tensor } from '../src/tensor.js'
import { accuracy, confusionMatrix, f1Score, precision, recall, toLabels } from '../src/metrics/classification.js'
import { biasVariance } from '../src/metrics/diagnosis.js'
import { auc, rocAuc, rocCurve } from '../src/metrics/roc.js'

// Hand-computed example: three classes, eight samples.
const yTrue = [0, 1, 2, 2, 1, 0, 1, 2]
const yPred = [0, 2, 2, 2, 1, 0, 0, 1]

describe('classification metrics', () => {
  it('confusion matrix has true classes as rows and predictions as columns', () => {
    expect(confusionMatrix(yTrue, yPred)).toEqual([
      [2, 0, 0],
      [1, 1, 1],
      [0, 1, 2],
    ])
    expect(confusionMatrix([0], [0], 3)).toEqual([
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ])
  })

  it('confusion matrix leaves out the ignore label and names the bad label', () => {
    expect(confusionMatrix([0, 255, 1], [1, 0, 1], 2, { ignoreIndex: 255 })).toEqual([
      [0, 1],
      [0, 1],
    ])
    expect(confusionMatrix([0, 255, 1], [1, 0, 1], undefined, { ignoreIndex: 255 })).toEqual([
      [0, 1],
      [0, 1],
    ])
    expect(() => confusionMatrix([0, 3], [0, 0], 2)).toThrow(/label 3 \(true\) at index 1 is outside \[0, 2\)/)
    expect(() => confusionMatrix([0], [0], 0)).toThrow(/numClasses/)
  })

  it('accuracy, per-class and macro precision / recall / F1', () => {
    expect(accuracy(yTrue, yPred)).toBe(5 / 8)
    expect(precision(yTrue, yPred, { average: 'none' })).toEqual([2 / 3, 1 / 2, 2 / 3])
    expect(recall(yTrue, yPred, { average: 'none' })).toEqual([1, 1 / 3, 2 / 3])
    expect(f1Score(yTrue, yPred, { average: 'none' })).toEqual([4 / 5, 2 / 5, 2 / 3].map((v) => expect.closeTo(v, 12)))
    expect(precision(yTrue, yPred, { average: 'macro' })).toBeCloseTo(11 / 18, 12)
    expect(recall(yTrue, yPred, { average: 'macro' })).toBeCloseTo(2 / 3, 12)
    expect(f1Score(yTrue, yPred, { average: 'macro' })).toBeCloseTo(28 / 45, 12)
    // Micro averaging of single-label data is the accuracy.
    expect(f1Score(yTrue, yPred, { average: 'micro' })).toBeCloseTo(5 / 8, 12)
  })

  it('binary precision / recall / F1 of the positive class', () => {
    const t = [1, 0, 1, 1, 0, 0, 1]
    const p = [1, 1, 0, 1, 0, 1, 1] // TP 3, FP 2, FN 1, TN 1
    expect(precision(t, p)).toBeCloseTo(3 / 5, 12)
    expect(recall(t, p)).toBeCloseTo(3 / 4, 12)
    expect(f1Score(t, p)).toBeCloseTo(2 / 3, 12)
    expect(recall(t, p, { posLabel: 0 })).toBeCloseTo(1 / 3, 12)
    // No predicted positives: precision 0 rather than NaN.
    expect(precision([1, 0], [0, 0])).toBe(0)
    expect(() => precision(yTrue, yPred)).toThrow(/macro/)
  })

  it('accepts tensors, and (N, C) scores through argmax', () => {
    const scores = tensor([
      [0.1, 0.9],
      [2, -1],
      [0, 3],
    ])
    expect([...toLabels(scores)]).toEqual([1, 0, 1])
    expect(accuracy(tensor(Int32Array.from([1, 0, 0])), scores)).toBeCloseTo(2 / 3, 12)
    expect(() => accuracy([1, 2], [1])).toThrow(/labels/)
  })
})

describe('ROC and AUC', () => {
  it('matches the hand-computed curve', () => {
    const roc = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    expect(roc.fpr).toEqual([0, 0, 0.5, 0.5, 1])
    expect(roc.tpr).toEqual([0, 0.5, 0.5, 1, 1])
    expect(roc.thresholds).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1])
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75)
  })

  it('tied scores form one point; AUC counts a tie as one half', () => {
    const roc = rocCurve([0, 1, 1, 0], tensor([0.5, 0.5, 0.9, 0.1]))
    expect(roc.fpr).toEqual([0, 0, 0.5, 1])
    expect(roc.tpr).toEqual([0, 0.5, 1, 1])
    expect(auc(roc.fpr, roc.tpr)).toBe(0.875)
  })

  it('perfect and reversed rankings give 1 and 0; trapezoid rule on a line', () => {
    expect(rocAuc([0, 0, 1], [1, 2, 3])).toBe(1)
    expect(rocAuc([0, 0, 1], [3, 2, 1])).toBe(0)
    expect(auc([0, 1, 2], [0, 1, 2])).toBe(2)
    expect(() => rocCurve([1, 1], [0.2, 0.3])).toThrow(/both classes/)
    expect(() => auc([0, 2, 1], [0, 1, 1])).toThrow(/increasing/)
  })
})

describe('biasVariance', () => {
  it("diagnoses the course's examples", () => {
    expect(biasVariance(0.01, 0.11).diagnosis).toBe('high variance')
    expect(biasVariance(0.15, 0.16).diagnosis).toBe('high bias')
    const both = biasVariance(0.15, 0.3)
    expect(both.diagnosis).toBe('high bias and high variance')
    expect(biasVariance(0.05, 0.3).focus).toBe('variance')
    expect(biasVariance(0.2, 0.25).focus).toBe('bias')
    expect(biasVariance(0.005, 0.01).diagnosis).toBe('good fit')
  })

  it('measures bias against the baseline and suggests the course remedies', () => {
    const r = biasVariance(0.15, 0.16, 0.14)
    expect(r.avoidableBias).toBeCloseTo(0.01, 12)
    expect(r.diagnosis).toBe('good fit')
    expect(biasVariance(0.15, 0.16).advice).toContain('bigger network')
    expect(biasVariance(0.01, 0.11).advice).toContain('more training data')
    expect(() => biasVariance(15, 16)).toThrow(/\[0, 1\]/)
  })
})

/**
 * Softmax regression (multinomial logistic regression; d2l.ai,
 * https://d2l.ai/chapter_linear-classification/softmax-regression.html; CS231n,
 * https://cs231n.github.io/linear-classify/): class scores s = W x + b,
 * probabilities softmax(s), trained with cross-entropy. forward returns the scores (N, C).
 */
import type { DType } from '../dtype.js'
import { Linear } from '../nn/linear.js'
import { crossEntropy } from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import { Classifier } from './classifier.js'
import { classTargets } from './losses.js'

export class SoftmaxRegression extends Classifier {
  linear: Linear

  constructor(
    readonly inFeatures: number,
    readonly numClasses: number,
    { dtype = 'float32' }: { dtype?: DType } = {},
  ) {
    super()
    this.linear = new Linear(inFeatures, numClasses, { dtype })
  }

  forward(x: Tensor): Tensor {
    // (N, D) -> (N, C)
    return this.linear.call(x)
  }

  /** Cross-entropy against class indices (N). */
  loss(scores: Tensor, target: Tensor): Tensor {
    return crossEntropy(scores, classTargets(target))
  }
}

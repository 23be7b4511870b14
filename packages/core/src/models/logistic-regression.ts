/**
 * Logistic regression (Cox 1958, https://doi.org/10.1111/j.2517-6161.1958.tb00292.x; as a one-neuron
 * network in Ng's "Neural Networks and Deep Learning", https://www.coursera.org/learn/neural-networks-deep-learning):
 * y_hat = sigmoid(w^T x + b), trained with the binary cross-entropy (logistic) loss. forward returns the logit
 * z = w^T x + b, shape (N); the sigmoid lives in the loss (stable) and in predictProba.
 */
import type { DType } from '../dtype.js'
import { Linear } from '../nn/linear.js'
import { binaryCrossEntropyWithLogits } from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import { Classifier } from './classifier.js'

export class LogisticRegression extends Classifier {
  linear: Linear

  constructor(
    readonly inFeatures: number,
    { dtype = 'float32' }: { dtype?: DType } = {},
  ) {
    super()
    this.linear = new Linear(inFeatures, 1, { dtype })
  }

  forward(x: Tensor): Tensor {
    // (N, D) -> (N, 1) -> (N)
    return this.linear.call(x).squeeze(-1)
  }

  /** Binary cross-entropy from logits against 0/1 targets (N) (stable softplus form). */
  loss(logits: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(logits, target.reshape([...logits.shape]))
  }
}

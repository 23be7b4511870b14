/**
 * What every classic model shares: a default loss, and predict / predictProba in eval mode (d2l.ai's
 * base classification model, https://d2l.ai/chapter_linear-classification/classification.html).
 */
import { noGrad } from '../autograd.js'
import { Module } from '../nn/module.js'
import { sigmoid, softmax } from '../ops/index.js'
import { Tensor } from '../tensor.js'

export abstract class Classifier extends Module {
  /** The model's training loss on its own outputs (used by `fit` when none is given). */
  abstract loss(output: Tensor, target: Tensor): Tensor

  /** Scores for input x without gradients, in eval mode. */
  protected scores(x: Tensor): Tensor {
    const was = this.training
    this.eval()
    try {
      return noGrad(() => this.call(x))
    } finally {
      this.train(was)
    }
  }

  /** Class probabilities (N, C); a binary model gives P(y = 1) as (N). */
  predictProba(x: Tensor): Tensor {
    const s = this.scores(x)
    return s.rank === 1 ? sigmoid(s) : softmax(s, 1)
  }

  /** Predicted class labels (N), int32. */
  predict(x: Tensor): Tensor {
    const s = this.scores(x)
    if (s.rank === 1)
      return new Tensor(
        Int32Array.from(s.data as ArrayLike<number>, (v) => (v > 0 ? 1 : 0)),
        s.shape,
      )
    return s.argmax(1)
  }
}

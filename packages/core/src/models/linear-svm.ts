/**
 * Linear SVM, multiclass (Cortes & Vapnik 1995, https://doi.org/10.1007/BF00994018; the multiclass
 * form of Weston & Watkins 1999, as in CS231n, https://cs231n.github.io/linear-classify/): scores s = W x + b and the
 * multiclass hinge loss L = 1/N sum_i sum_{j != y_i} max(0, s_j - s_{y_i} + 1) + lambda R(W), R(W) = sum W^2 (L2).
 * The margin of 1 asks the correct class to beat every other by at least 1; the L2 term picks the
 * smallest such W (Occam's razor, as CS231n puts it). As in CS231n, the bias is not regularised.
 */
import type { DType } from '../dtype.js'
import { ArgumentError } from '../errors.js'
import { Linear } from '../nn/linear.js'
import type { Tensor } from '../tensor.js'
import { Classifier } from './classifier.js'
import { multiclassHingeLoss } from './losses.js'

export interface LinearSVMOptions {
  /** lambda, the L2 regularisation strength (default 1e-3). */
  reg?: number
  /** The hinge margin (default 1, as in CS231n). */
  margin?: number
  dtype?: DType
}

export class LinearSVM extends Classifier {
  linear: Linear
  readonly reg: number
  readonly margin: number

  constructor(
    readonly inFeatures: number,
    readonly numClasses: number,
    { reg = 1e-3, margin = 1, dtype = 'float32' }: LinearSVMOptions = {},
  ) {
    super()
    if (!(reg >= 0)) throw new ArgumentError(`LinearSVM: reg must be >= 0, got ${reg}`)
    this.linear = new Linear(inFeatures, numClasses, { dtype })
    this.reg = reg
    this.margin = margin
  }

  forward(x: Tensor): Tensor {
    // (N, D) -> (N, C) scores
    return this.linear.call(x)
  }

  /** Hinge loss + lambda * sum W^2. */
  loss(scores: Tensor, target: Tensor): Tensor {
    const data = multiclassHingeLoss(scores, target, this.margin)
    return this.reg > 0 ? data.add(this.linear.weight.square().sum().mul(this.reg)) : data
  }
}

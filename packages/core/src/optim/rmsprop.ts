/**
 * RMSProp (Hinton, Coursera lecture 6e, 2012,
 * https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf), as torch.optim.RMSprop.
 *
 * RMSProp (https://d2l.ai/chapter_optimization/rmsprop.html) is AdaGrad with a leaky sum, an exponentially weighted
 * average of g^2 with decay alpha, so old gradients are forgotten and steps do not shrink to nothing:
 *   s <- alpha * s + (1 - alpha) * g^2
 *   w <- w - lr * g / (sqrt(s) + eps)
 * Centered (Graves 2013, https://arxiv.org/abs/1308.0850): also average g (m <- alpha m + (1 - alpha) g) and
 * normalise by the estimated variance, sqrt(s - m^2) + eps. With momentum: b <- momentum * b + g / (sqrt(.) + eps); w
 * <- w - lr b.
 * NOTE: eps is added after the square root, as PyTorch (TensorFlow/Keras add it inside).
 */
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import { type BaseHyper, type FloatArray, Optimizer, type ParamGroupInput, type ParamState } from './optimizer.js'

export interface RMSPropOptions extends BaseHyper {
  /** Decay of the squared-gradient average. Default 0.99. */
  alpha: number
  /** Added to the root of the average. Default 1e-8. */
  eps: number
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number
  /** Momentum on the normalised step. Default 0. */
  momentum: number
  /** Normalise by the variance instead of the raw second moment. Default false. */
  centered: boolean
}

export class RMSProp extends Optimizer<RMSPropOptions> {
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<RMSPropOptions>>,
    opts: Partial<RMSPropOptions> = {},
  ) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...opts })
  }

  protected override validate(g: RMSPropOptions): void {
    super.validate(g)
    for (const k of ['alpha', 'eps', 'weightDecay', 'momentum'] as const)
      if (!(g[k] >= 0)) throw new ArgumentError(`RMSProp: ${k} must be >= 0, got ${g[k]}`)
  }

  protected update(w: FloatArray, grad: FloatArray, state: ParamState, h: RMSPropOptions, param: Tensor): void {
    const { lr, alpha, eps, weightDecay, momentum, centered } = h
    if (state.squareAvg === undefined) {
      state.step = 0
      state.squareAvg = this.zeros(param)
    }
    if (momentum > 0 && state.momentumBuffer === undefined) state.momentumBuffer = this.zeros(param)
    if (centered && state.gradAvg === undefined) state.gradAvg = this.zeros(param)
    state.step = (state.step as number) + 1
    const s = (state.squareAvg as Tensor).storage as FloatArray
    const m = centered ? ((state.gradAvg as Tensor).storage as FloatArray) : null
    const b = momentum > 0 ? ((state.momentumBuffer as Tensor).storage as FloatArray) : null
    for (let i = 0; i < w.length; i++) {
      const g = grad[i]! + weightDecay * w[i]!
      s[i] = alpha * s[i]! + (1 - alpha) * (g * g)
      let avg: number
      if (m) {
        m[i] = alpha * m[i]! + (1 - alpha) * g
        avg = Math.sqrt(s[i]! - m[i]! * m[i]!) + eps
      } else avg = Math.sqrt(s[i]!) + eps
      if (b) {
        b[i] = momentum * b[i]! + g / avg
        w[i] = w[i]! - lr * b[i]!
      } else w[i] = w[i]! - lr * (g / avg)
    }
  }
}

/**
 * Stochastic gradient descent, with momentum and Nesterov momentum (torch.optim.SGD).
 *
 * Plain (mini-batch) SGD (https://d2l.ai/chapter_optimization/minibatch-sgd.html): w <- w - lr * g, where g is the
 * gradient of the mean loss over the batch (batch GD when the batch is the whole set, "stochastic" when it is one
 * example).
 *
 * Momentum, CS231n's "SGD+Momentum" (https://cs231n.github.io/neural-networks-3/; rho usually 0.9;
 * d2l.ai, https://d2l.ai/chapter_optimization/momentum.html, calls it beta):
 *   v <- rho * v + (1 - dampening) * g        (v = g on the first step)
 *   w <- w - lr * v
 * Nesterov momentum (Sutskever et al. 2013, "On the importance of initialization and momentum",
 * https://proceedings.mlr.press/v28/sutskever13.html):
 *   w <- w - lr * (g + rho * v)
 * NOTE: CS231n writes Nesterov as v <- rho v - lr grad f(x + rho v) and then rewrite it in the
 * look-ahead variable x^ = x + rho v; `g + rho * v` is that same rewrite with the learning rate kept
 * outside the buffer, which is PyTorch's form (so golden fixtures match).
 * Weight decay is L2 regularisation added to the gradient: g <- g + weightDecay * w (the
 * lambda/2m ||w||^2 term of Ng's Deep Learning course, https://www.coursera.org/learn/deep-neural-network,
 * contributes lambda/m * w to dW; https://d2l.ai/chapter_linear-regression/weight-decay.html).
 */
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import { type BaseHyper, type FloatArray, Optimizer, type ParamGroupInput, type ParamState } from './optimizer.js'

export interface SGDOptions extends BaseHyper {
  /** Momentum factor rho (0: plain SGD; 0.9 typical, as in CS231n). Default 0. */
  momentum: number
  /** Dampening of the gradient added to the momentum buffer. Default 0. */
  dampening: number
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov: boolean
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDOptions>>,
    opts: Partial<SGDOptions> & { lr: number },
  ) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts })
  }

  protected override validate(g: SGDOptions): void {
    super.validate(g)
    if (!(g.momentum >= 0)) throw new ArgumentError(`SGD: momentum must be >= 0, got ${g.momentum}`)
    if (!(g.weightDecay >= 0)) throw new ArgumentError(`SGD: weightDecay must be >= 0, got ${g.weightDecay}`)
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
      throw new ArgumentError(
        `SGD: nesterov needs momentum > 0 and dampening 0, got momentum ${g.momentum}, dampening ${g.dampening}`,
      )
  }

  protected update(w: FloatArray, grad: FloatArray, state: ParamState, h: SGDOptions, param: Tensor): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = h
    const n = w.length
    if (momentum === 0) {
      for (let i = 0; i < n; i++) w[i] = w[i]! - lr * (grad[i]! + weightDecay * w[i]!)
      return
    }
    const first = state.momentumBuffer === undefined
    if (first) state.momentumBuffer = this.zeros(param)
    const v = (state.momentumBuffer as Tensor).storage as FloatArray
    for (let i = 0; i < n; i++) {
      const g = grad[i]! + weightDecay * w[i]!
      v[i] = first ? g : momentum * v[i]! + (1 - dampening) * g
      const d = nesterov ? g + momentum * v[i]! : v[i]!
      w[i] = w[i]! - lr * d
    }
  }
}

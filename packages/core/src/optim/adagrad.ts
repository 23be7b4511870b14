/**
 * AdaGrad (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods",
 * https://jmlr.org/papers/v12/duchi11a.html), as torch.optim.Adagrad.
 *
 * As CS231n (https://cs231n.github.io/neural-networks-3/) and d2l.ai
 * (https://d2l.ai/chapter_optimization/adagrad.html) present it: keep the running sum of squared
 * gradients and divide each step by its root, so directions with large past gradients take smaller steps:
 *   s <- s + g^2
 *   w <- w - clr * g / (sqrt(s) + eps),      clr = lr / (1 + (t - 1) * lrDecay)
 * The step size only shrinks as s grows, which is why it can stall on non-convex problems (CS231n).
 *
 * NOTE: CS231n's lecture code uses eps = 1e-7; PyTorch's default is 1e-10. We keep PyTorch's
 * default so results match PyTorch, and take `eps` as an option (`{ eps: 1e-7 }` for CS231n's).
 * As in PyTorch, eps is added after the square root.
 */
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import { type BaseHyper, type FloatArray, Optimizer, type ParamGroupInput, type ParamState } from './optimizer.js'

export interface AdaGradOptions extends BaseHyper {
  /** Learning-rate decay per step: clr = lr / (1 + (t - 1) * lrDecay). Default 0. */
  lrDecay: number
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number
  /** Starting value of the squared-gradient sum. Default 0. */
  initialAccumulatorValue: number
  /** Added to sqrt(s). Default 1e-10 (PyTorch; CS231n uses 1e-7). */
  eps: number
}

export class AdaGrad extends Optimizer<AdaGradOptions> {
  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<AdaGradOptions>>,
    opts: Partial<AdaGradOptions> = {},
  ) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, ...opts })
  }

  protected override validate(g: AdaGradOptions): void {
    super.validate(g)
    for (const k of ['lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'] as const)
      if (!(g[k] >= 0)) throw new ArgumentError(`AdaGrad: ${k} must be >= 0, got ${g[k]}`)
  }

  protected update(w: FloatArray, grad: FloatArray, state: ParamState, h: AdaGradOptions, param: Tensor): void {
    const { lr, lrDecay, weightDecay, eps } = h
    // PyTorch creates the sum at construction; creating it on the first step gives the same values.
    if (state.sum === undefined) {
      state.step = 0
      state.sum = this.zeros(param)
      ;(state.sum.storage as FloatArray).fill(h.initialAccumulatorValue)
    }
    const t = (state.step as number) + 1
    state.step = t
    const s = (state.sum as Tensor).storage as FloatArray
    const clr = lr / (1 + (t - 1) * lrDecay)
    for (let i = 0; i < w.length; i++) {
      const g = grad[i]! + weightDecay * w[i]!
      s[i] = s[i]! + g * g
      w[i] = w[i]! - clr * (g / (Math.sqrt(s[i]!) + eps))
    }
  }
}

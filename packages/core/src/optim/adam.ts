/**
 * Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", https://arxiv.org/abs/1412.6980)
 * and AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization",
 * https://arxiv.org/abs/1711.05101), as torch.optim.Adam / AdamW.
 *
 * Adam = momentum + RMSProp (d2l.ai, https://d2l.ai/chapter_optimization/adam.html). Two
 * exponentially weighted averages, of the gradient (first moment, beta1 = 0.9) and of its square
 * (second moment, beta2 = 0.999), both started at zero and therefore bias-corrected (CS231n,
 * https://cs231n.github.io/neural-networks-3/: without the correction the first steps are too
 * large, because the moments start at 0):
 *   m <- beta1 * m + (1 - beta1) * g            mHat = m / (1 - beta1^t)
 *   v <- beta2 * v + (1 - beta2) * g^2          vHat = v / (1 - beta2^t)
 *   w <- w - lr * mHat / (sqrt(vHat) + eps)     eps = 1e-8 (the paper's default)
 * AMSGrad (Reddi, Kale & Kumar 2018, https://openreview.net/forum?id=ryQu7f-RZ): normalise by the running maximum of
 * v instead of v.
 *
 * NOTE: eps placement. eps is added outside the square root and after the bias correction:
 * sqrt(v) / sqrt(1 - beta2^t) + eps, which is Algorithm 1 of the paper and what PyTorch computes.
 * The paper's "more efficient" reordering (and TensorFlow/Keras) fold the correction into the step
 * size and add eps to sqrt(v) before correcting, which scales eps by sqrt(1 - beta2^t) and changes
 * the first steps noticeably when gradients are small.
 */
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import { type BaseHyper, type FloatArray, Optimizer, type ParamGroupInput, type ParamState } from './optimizer.js'

export interface AdamOptions extends BaseHyper {
  /** Decay of the first-moment average. Default 0.9. */
  beta1: number
  /** Decay of the second-moment average. Default 0.999. */
  beta2: number
  /** Added to the bias-corrected root of the second moment. Default 1e-8. */
  eps: number
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 0.01). */
  weightDecay: number
  /** Use the running maximum of the second moment (AMSGrad). Default false. */
  amsgrad: boolean
}

type Params = Iterable<Tensor> | Iterable<ParamGroupInput<AdamOptions>>

export class Adam extends Optimizer<AdamOptions> {
  /** AdamW decays the weights directly instead of adding the L2 term to the gradient. */
  protected readonly decoupled: boolean = false

  constructor(params: Params, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false, ...opts })
  }

  protected override validate(g: AdamOptions): void {
    super.validate(g)
    const name = this.constructor.name
    for (const k of ['beta1', 'beta2'] as const)
      if (!(g[k] >= 0 && g[k] < 1)) throw new ArgumentError(`${name}: ${k} must be in [0, 1), got ${g[k]}`)
    if (!(g.eps >= 0)) throw new ArgumentError(`${name}: eps must be >= 0, got ${g.eps}`)
    if (!(g.weightDecay >= 0)) throw new ArgumentError(`${name}: weightDecay must be >= 0, got ${g.weightDecay}`)
  }

  protected update(w: FloatArray, grad: FloatArray, state: ParamState, h: AdamOptions, param: Tensor): void {
    const { lr, beta1, beta2, eps, weightDecay, amsgrad } = h
    if (state.expAvg === undefined) {
      state.step = 0
      state.expAvg = this.zeros(param)
      state.expAvgSq = this.zeros(param)
    }
    if (amsgrad && state.maxExpAvgSq === undefined) state.maxExpAvgSq = this.zeros(param)
    const t = (state.step as number) + 1
    state.step = t
    const m = (state.expAvg as Tensor).storage as FloatArray
    const v = (state.expAvgSq as Tensor).storage as FloatArray
    const vMax = amsgrad ? ((state.maxExpAvgSq as Tensor).storage as FloatArray) : null

    const stepSize = lr / (1 - beta1 ** t) // lr / bias correction of m
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t) // sqrt of the bias correction of v
    // AdamW, "decoupled": w <- w * (1 - lr * wd) before the Adam step; the gradient is left alone.
    // NOTE: the paper multiplies wd by the schedule multiplier eta_t only; PyTorch (and we) by lr.
    const decay = this.decoupled ? 1 - lr * weightDecay : 1
    const l2 = this.decoupled ? 0 : weightDecay
    for (let i = 0; i < w.length; i++) {
      if (decay !== 1) w[i] = w[i]! * decay
      const g = grad[i]! + l2 * w[i]!
      m[i] = beta1 * m[i]! + (1 - beta1) * g
      v[i] = beta2 * v[i]! + (1 - beta2) * (g * g)
      let second = v[i]!
      if (vMax) second = vMax[i] = Math.max(vMax[i]!, second)
      const denom = Math.sqrt(second) / bc2Sqrt + eps
      w[i] = w[i]! - stepSize * (m[i]! / denom)
    }
  }
}

/** Adam with decoupled weight decay (default 0.01): w <- w (1 - lr wd), then the Adam step. */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true

  constructor(params: Params, opts: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 0.01, ...opts })
  }
}

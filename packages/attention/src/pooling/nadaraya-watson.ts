/**
 * Attention pooling by Nadaraya-Watson kernel regression (Nadaraya 1964, Watson 1964; d2l.ai 11.2,
 * https://d2l.ai/chapter_attention-mechanisms-and-transformers/attention-pooling.html):
 * f(x) = sum_i softmax_i(-(x - x_i)^2 / 2 * w^2) y_i. The query x attends to the training inputs x_i
 * (keys) and averages their targets y_i (values) with Gaussian-kernel weights. Non-parametric with
 * w = 1; with a learned w (the parametric variant) the kernel narrows and the fit follows the data.
 */
import { Generator, Module, Parameter, ShapeError, Tensor, fmt, mseLoss, optim, softmax, tensor } from '@refnets/core'

/** d2l's synthetic data: y = 2 sin(x) + x^0.8 + N(0, 0.5^2) noise at 50 sorted x ~ U[0, 5). */
export interface NadarayaWatsonData {
  xTrain: Tensor
  yTrain: Tensor
  /** 0, 0.1, ..., 4.9 */
  xTest: Tensor
  /** The noiseless truth at xTest. */
  yTruth: Tensor
}

export const nwTarget = (x: number): number => 2 * Math.sin(x) + x ** 0.8

export function nadarayaWatsonData({
  nTrain = 50,
  seed = 0,
  dtype = 'float32' as 'float32' | 'float64',
} = {}): NadarayaWatsonData {
  const g = new Generator(seed)
  const xs = Array.from({ length: nTrain }, () => g.random() * 5).sort((a, b) => a - b)
  const ys = xs.map((x) => nwTarget(x) + 0.5 * g.normal())
  const xt = Array.from({ length: 50 }, (_, i) => i * 0.1)
  return {
    xTrain: tensor(xs, { dtype }),
    yTrain: tensor(ys, { dtype }),
    xTest: tensor(xt, { dtype }),
    yTruth: tensor(xt.map(nwTarget), { dtype }),
  }
}

/**
 * Kernel regression with queries (Q), keys (Q, K) or (K) and values likewise: returns the
 * predictions (Q) and the attention weights (Q, K). `w` (a number or a 1-element tensor) scales the
 * distance: the Gaussian kernel's bandwidth is 1 / w.
 */
export function nadarayaWatson(
  queries: Tensor,
  keys: Tensor,
  values: Tensor,
  w: Tensor | number = 1,
): { pred: Tensor; weights: Tensor } {
  const q = queries.shape[0]!
  if (queries.rank !== 1) throw new ShapeError(`nadarayaWatson: expected queries (Q), got ${fmt(queries.shape)}`)
  const k2 = keys.rank === 1 ? keys.unsqueeze(0) : keys
  const v2 = values.rank === 1 ? values.unsqueeze(0) : values
  if (k2.rank !== 2 || (k2.shape[0] !== 1 && k2.shape[0] !== q) || v2.shape.join() !== k2.shape.join())
    throw new ShapeError(
      `nadarayaWatson: expected keys and values (K) or (${q}, K) of one shape, got ${fmt(keys.shape)} ` +
        `and ${fmt(values.shape)}`,
    )
  // (Q, 1) - (Q|1, K) -> (Q, K) distances, scaled by w, through the Gaussian kernel's exponent.
  const diff = queries.unsqueeze(1).sub(k2).mul(w)
  const weights = softmax(diff.mul(diff).mul(-0.5), -1)
  // (Q, K) * (Q|1, K) summed over K -> (Q)
  return { pred: weights.mul(v2).sum(-1), weights }
}

/** d2l's `NWKernelRegression`: the parametric variant with one learned scale `w` (init U[0, 1) as d2l's rand). */
export class NWKernelRegression extends Module<[Tensor, Tensor, Tensor], Tensor> {
  w: Parameter
  attentionWeights: Tensor | null = null

  constructor({ dtype = 'float32' as 'float32' | 'float64', seed = 0 } = {}) {
    super()
    this.w = new Parameter(tensor([new Generator(seed).random()], { dtype }))
  }

  forward(queries: Tensor, keys: Tensor, values: Tensor): Tensor {
    const { pred, weights } = nadarayaWatson(queries, keys, values, this.w)
    this.attentionWeights = weights
    return pred
  }
}

/** Leave-one-out keys/values: row i holds every training point but the i-th, (n, n - 1), as d2l builds them. */
export function leaveOneOut(x: Tensor): Tensor {
  const n = x.shape[0]!
  const src = x.data
  const out = x.dtype === 'float64' ? new Float64Array(n * (n - 1)) : new Float32Array(n * (n - 1))
  for (let i = 0, o = 0; i < n; i++) for (let j = 0; j < n; j++) if (j !== i) out[o++] = Number(src[j])
  return new Tensor(out, [n, n - 1])
}

/** Fit `w` as d2l does: SGD (lr 0.5) on the summed squared error of the leave-one-out predictions. */
export function trainNWKernelRegression(
  model: NWKernelRegression,
  data: NadarayaWatsonData,
  { epochs = 5, lr = 0.5 } = {},
): number[] {
  const keys = leaveOneOut(data.xTrain)
  const values = leaveOneOut(data.yTrain)
  const opt = new optim.SGD(model.parameters(), { lr })
  const losses: number[] = []
  for (let e = 0; e < epochs; e++) {
    opt.zeroGrad()
    const loss = mseLoss(model.call(data.xTrain, keys, values), data.yTrain, 'sum')
    loss.backward()
    opt.step()
    losses.push(loss.item())
  }
  return losses
}

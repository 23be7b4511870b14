/**
 * Loss functions with PyTorch's semantics (defaults, reductions, weights, ignore_index, label
 * smoothing), so the golden fixtures from PyTorch match. Each is written from primitives: backward
 * comes free. Background: https://d2l.ai/chapter_linear-classification/softmax-regression.html
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js'
import { apply, defineOp } from '../op.js'
import { fmt, sameShape, subShape } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { logSoftmax } from './activation.js'
import { abs, equal, logicalNot, maximum, relu, softplus, where } from './elementwise.js'
import { gather, gatherElements } from './indexing.js'
import { unsqueeze } from './shape.js'
import { channelShape, requireFloat } from './util.js'

export type Reduction = 'mean' | 'sum' | 'none'

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss
  if (reduction === 'sum') return loss.sum()
  if (reduction === 'mean') return loss.mean()
  throw new ArgumentError(`reduction must be 'mean', 'sum' or 'none', got '${reduction}'`)
}

function sameSize(op: string, input: Tensor, target: Tensor): Tensor {
  requireFloat(op, input)
  if (!sameShape(input.shape, target.shape))
    throw new ShapeError(`${op}: input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape`)
  return target.dtype === input.dtype ? target : target.to(input.dtype)
}

/** Mean squared error: mean (x - y)^2. */
export const mseLoss = (input: Tensor, target: Tensor, reduction: Reduction = 'mean') =>
  reduce(input.sub(sameSize('mseLoss', input, target)).square(), reduction)

/** Mean absolute error: mean |x - y|. */
export const l1Loss = (input: Tensor, target: Tensor, reduction: Reduction = 'mean') =>
  reduce(abs(input.sub(sameSize('l1Loss', input, target))), reduction)

/** Huber: 0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta). */
export function huberLoss(input: Tensor, target: Tensor, delta = 1, reduction: Reduction = 'mean'): Tensor {
  const d = abs(input.sub(sameSize('huberLoss', input, target)))
  return reduce(where(d.le(delta), d.square().mul(0.5), d.sub(0.5 * delta).mul(delta)), reduction)
}

/** Smooth L1 (Fast R-CNN): 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta. */
export function smoothL1Loss(input: Tensor, target: Tensor, beta = 1, reduction: Reduction = 'mean'): Tensor {
  const d = abs(input.sub(sameSize('smoothL1Loss', input, target)))
  if (beta === 0) return reduce(d, reduction)
  return reduce(where(d.lt(beta), d.square().mul(0.5 / beta), d.sub(0.5 * beta)), reduction)
}

/**
 * max(log p, -100) with a finite gradient at p = 0: dy / max(p, 1e-12).
 * NOTE: written as Max(Log(p), -100) from primitives, the backward at p = 0 is 0 * (1 / 0) = NaN
 * even where the clamp wins; PyTorch's BCE backward divides by max(p (1 - p), 1e-12) instead, and
 * this is the same guard applied to each log.
 */
const ClampedLog = defineOp({
  name: 'ClampedLog',
  forward: ([p]) => maximum(p!.log(), -100),
  backward: (dy, { inputs: [p] }) => [dy.div(maximum(p!, 1e-12))],
  onnx: (ctx, [p], { inputs }) => {
    const [logP] = ctx.node('Log', [p!])
    return ctx.node('Max', [logP!, ctx.constant([-100], inputs[0]!.dtype === 'float64' ? 'float64' : 'float32', [])])
  },
})

/**
 * Binary cross-entropy of probabilities: -[y log p + (1 - y) log(1 - p)].
 * NOTE: each log is clamped at -100, as PyTorch does, so p = 0 or 1 gives a finite loss, and its
 * gradient is guarded (ClampedLog) so p = 0 or 1 gives a finite gradient too.
 */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  { weight, reduction = 'mean' }: { weight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  const y = sameSize('binaryCrossEntropy', input, target)
  const logP = apply(ClampedLog, [input], {})
  const log1mP = apply(ClampedLog, [input.neg().add(1)], {})
  let loss = y.mul(logP).add(y.neg().add(1).mul(log1mP)).neg()
  if (weight) loss = loss.mul(weight)
  return reduce(loss, reduction)
}

/**
 * Binary cross-entropy from logits: (1 - y) x + (1 + (pw - 1) y) softplus(-x).
 * NOTE: softplus(-x) = log(1 + e^-x) computed as max(-x, 0) + log1p(e^-|x|) never overflows, so
 * logits of any magnitude stay finite; the gradient is sigmoid(x) - y (times the weights).
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  { weight, posWeight, reduction = 'mean' }: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  const y = sameSize('binaryCrossEntropyWithLogits', input, target)
  const logWeight = posWeight ? y.mul(posWeight.sub(1)).add(1) : null
  const sp = softplus(input.neg())
  let loss = y
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight ? sp.mul(logWeight) : sp)
  if (weight) loss = loss.mul(weight)
  return reduce(loss, reduction)
}

export interface ClassLossOptions {
  weight?: Tensor
  ignoreIndex?: number
  reduction?: Reduction
}

/**
 * Negative log-likelihood of log-probabilities (N, C, ...) at int32 class targets (N, ...):
 * -w[y] logp[y]. 'mean' divides by the summed weights of the counted targets (their number without
 * weights); targets equal to ignoreIndex count for nothing.
 */
export function nllLoss(
  input: Tensor,
  target: Tensor,
  { weight, ignoreIndex = -100, reduction = 'mean' }: ClassLossOptions = {},
): Tensor {
  requireFloat('nllLoss', input)
  checkClassTargets('nllLoss', input, target, ignoreIndex)
  const { picked, w } = pick(input, target, weight, ignoreIndex)
  const loss = picked.neg().mul(w)
  return reduction === 'mean' ? loss.sum().div(w.sum()) : reduce(loss, reduction)
}

function checkClassTargets(op: string, input: Tensor, target: Tensor, ignoreIndex: number): void {
  if (target.dtype !== 'int32') throw new DTypeError(`${op}: class targets must be int32 indices, got ${target.dtype}`)
  const want = [input.shape[0]!, ...subShape(input.shape, 2)]
  if (input.rank < 2 || !sameShape(target.shape, want))
    throw new ShapeError(
      `${op}: input (N, C, ...) ${fmt(input.shape)} needs targets of shape ${fmt(want)}, got ${fmt(target.shape)}`,
    )
  const c = input.shape[1]!
  for (const v of target.data as Int32Array)
    if ((v < 0 || v >= c) && v !== ignoreIndex)
      throw new ArgumentError(`${op}: target class ${v} is out of range for ${c} classes`)
}

/** logp at the targets, and each target's weight (0 where ignored). */
function pick(logp: Tensor, target: Tensor, weight: Tensor | undefined, ignoreIndex: number) {
  const keep = logicalNot(equal(target, ignoreIndex))
  const safe = where(keep, target, 0)
  const picked = gatherElements(logp, 1, unsqueeze(safe, 1)).squeeze(1)
  const w = where(keep, weight ? gather(weight, 0, safe) : 1, 0).to(logp.dtype)
  return { picked, w, keep }
}

/**
 * Cross-entropy of logits (N, C, ...) at int32 class targets: nll(logSoftmax(x)), with PyTorch's
 * label smoothing: (1 - eps) nll + eps / C * sum_c -w_c logp_c, over the counted targets.
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  {
    weight,
    ignoreIndex = -100,
    reduction = 'mean',
    labelSmoothing = 0,
  }: ClassLossOptions & { labelSmoothing?: number } = {},
): Tensor {
  requireFloat('crossEntropy', input)
  checkClassTargets('crossEntropy', input, target, ignoreIndex)
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new ArgumentError(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`)
  const logp = logSoftmax(input, 1)
  const { picked, w, keep } = pick(logp, target, weight, ignoreIndex)
  let loss = picked.neg().mul(w)
  if (labelSmoothing > 0) {
    const c = input.shape[1]!
    const wl = weight ? logp.mul(weight.reshape(channelShape(logp))) : logp
    const smooth = where(keep, wl.sum(1).neg(), 0)
    loss = loss.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing / c))
  }
  return reduction === 'mean' ? loss.sum().div(w.sum()) : reduce(loss, reduction)
}

/**
 * Multiclass hinge loss as torch.nn.MultiMarginLoss (p = 1): sum_{j != y} max(0, margin - x_y + x_j) / C.
 * NOTE: PyTorch divides by the number of classes C; CS231n's multiclass SVM loss
 * (https://cs231n.github.io/linear-classify/) does not (see models.multiclassHingeLoss for that form).
 */
export function multiMarginLoss(
  input: Tensor,
  target: Tensor,
  { margin = 1, weight, reduction = 'mean' }: { margin?: number; weight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  requireFloat('multiMarginLoss', input)
  if (input.rank !== 2) throw new ShapeError(`multiMarginLoss: expected input (N, C), got ${fmt(input.shape)}`)
  checkClassTargets('multiMarginLoss', input, target, -100)
  const idx = unsqueeze(target, 1)
  const xy = gatherElements(input, 1, idx)
  let terms = relu(input.sub(xy).add(margin))
  if (weight) terms = terms.mul(gather(weight, 0, target).reshape([-1, 1]))
  // The j = y term is max(0, margin) (times its weight): remove it.
  const self = weight ? gather(weight, 0, target).mul(Math.max(margin, 0)) : Math.max(margin, 0)
  const loss = terms.sum(1).sub(self).div(input.shape[1]!)
  return reduce(loss, reduction)
}

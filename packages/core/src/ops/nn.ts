/**
 * Functional layers and losses: dropout, batch norm, layer norm and the loss functions of the notes,
 * with PyTorch's semantics (defaults, reductions, weights, ignore_index, label smoothing) so the
 * golden fixtures from PyTorch match. Each is written from primitives: backward comes free.
 */
import { noGrad } from '../autograd.js'
import { ArgumentError, DTypeError, ShapeError } from '../errors.js'
import { apply, defineOp } from '../op.js'
import { type Generator, defaultGenerator } from '../random.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { logSoftmax } from './activation.js'
import { abs, equal, logicalNot, maximum, reciprocal, relu, softplus, where } from './elementwise.js'
import { gather, gatherElements } from './indexing.js'
import { unsqueeze } from './shape.js'
import { empty, requireFloat } from './util.js'

export type Reduction = 'mean' | 'sum' | 'none'

// ---- dropout -------------------------------------------------------------------------------

/**
 * Inverted dropout (notes 000, 002): keep each unit with probability keep = 1 - p and scale the kept
 * ones by 1/keep while training, so the expected activation is unchanged and inference is the
 * identity (no rescaling needed at test time).
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p < 1)) throw new ArgumentError(`dropout probability must be in [0, 1), got ${p}`)
  if (!training || p === 0) return x
  const keep = 1 - p
  const mask = empty(x.dtype, x.shape)
  const m = mask.storage
  for (let i = 0; i < m.length; i++) m[i] = generator.random() < keep ? 1 / keep : 0
  return x.mul(mask)
}

// ---- normalisation -------------------------------------------------------------------------

export interface BatchNormOptions {
  training: boolean
  momentum?: number
  eps?: number
}

/** Shape (1, C, 1, ...) that broadcasts a per-channel vector over x (N, C, ...). */
const channelShape = (x: Tensor) => x.shape.map((d, i) => (i === 1 ? d : 1))

const BatchNorm = defineOp<{ eps: number; training: boolean; momentum: number; affine: boolean; track: boolean }>({
  name: 'BatchNormalization',
  forward: ([x, rm, rv, w, b], { eps, training, momentum, affine, track }) => {
    const X = x!
    const shape = channelShape(X)
    const axes = X.shape.map((_, i) => i).filter((i) => i !== 1)
    let mean: Tensor
    let variance: Tensor
    if (training) {
      // Normalise by the batch statistics (biased variance), notes 002 / Ioffe & Szegedy 2015.
      mean = X.mean(axes, true)
      variance = X.sub(mean).square().mean(axes, true)
      if (track) {
        // NOTE: the running variance uses the unbiased estimate n/(n-1) var, as PyTorch does.
        const n = X.size / X.shape[1]!
        noGrad(() => {
          const m = mean.data
          const v = variance.data
          for (let c = 0; c < m.length; c++) {
            rm!.storage[c] = (1 - momentum) * rm!.storage[c]! + momentum * m[c]!
            rv!.storage[c] = (1 - momentum) * rv!.storage[c]! + (momentum * v[c]! * n) / Math.max(n - 1, 1)
          }
        })
      }
    } else {
      // NOTE: with running statistics the normalisation is one affine map per channel,
      // y = x * scale + shift with scale = w / sqrt(var + eps) and shift = b - mean * scale, computed on
      // the C-element vectors: two passes over x instead of four (PyTorch's CPU inference kernel folds it
      // the same way).
      let scale = reciprocal(rv!.add(eps).sqrt())
      if (affine) scale = scale.mul(w!)
      let shift = rm!.mul(scale).neg()
      if (affine) shift = shift.add(b!)
      return X.mul(scale.reshape(shape)).add(shift.reshape(shape))
    }
    let y = X.sub(mean).div(variance.add(eps).sqrt())
    if (affine) y = y.mul(w!.reshape(shape)).add(b!.reshape(shape))
    return y
  },
  onnx: (ctx, [x, rm, rv, w, b], { inputs, attrs }) => {
    const c = inputs[0]!.shape[1]!
    const dt = inputs[0]!.dtype === 'float64' ? 'float64' : 'float32'
    const scale = attrs.affine ? w! : ctx.constant(new Array(c).fill(1), dt)
    const bias = attrs.affine ? b! : ctx.constant(new Array(c).fill(0), dt)
    return ctx.node('BatchNormalization', [x!, scale, bias, rm!, rv!], { epsilon: attrs.eps })
  },
})

/**
 * Batch normalisation over channel axis 1 of x (N, C) / (N, C, L) / (N, C, H, W). In training the
 * running statistics are updated in place: running = (1 - momentum) running + momentum batch.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  { training, momentum = 0.1, eps = 1e-5 }: BatchNormOptions,
): Tensor {
  requireFloat('batchNorm', x)
  if (x.rank < 2) throw new ShapeError(`batchNorm: expected input (N, C, ...), got ${fmt(x.shape)}`)
  const c = x.shape[1]!
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
    ['running_mean', runningMean],
    ['running_var', runningVar],
  ] as const)
    if (t && (t.rank !== 1 || t.shape[0] !== c))
      throw new ShapeError(`batchNorm: ${name} must have shape [${c}] for input ${fmt(x.shape)}, got ${fmt(t.shape)}`)
  if (training && x.size / c <= 1)
    throw new ShapeError(`batchNorm: training needs more than one value per channel, got input ${fmt(x.shape)}`)
  const affine = !!(weight && bias)
  const inputs = [
    x,
    runningMean ?? empty(x.dtype, [c]),
    runningVar ?? empty(x.dtype, [c]),
    ...(affine ? [weight!, bias!] : []),
  ]
  const track = !!(runningMean && runningVar)
  if (!track && !training) throw new ArgumentError('batchNorm in eval mode needs running statistics')
  return apply(BatchNorm, inputs, { eps, training, momentum, affine, track })
}

const LayerNorm = defineOp<{ axes: number[]; eps: number }>({
  name: 'LayerNormalization',
  forward: ([x, w, b], { axes, eps }) => {
    const mean = x!.mean(axes, true)
    const d = x!.sub(mean)
    let y = d.div(d.square().mean(axes, true).add(eps).sqrt())
    if (w) y = y.mul(w)
    if (b) y = y.add(b)
    return y
  },
  onnx: (ctx, [x, w, b], { inputs, attrs }) => {
    const shape = inputs[0]!.shape.slice(attrs.axes[0])
    const dt = inputs[0]!.dtype === 'float64' ? 'float64' : 'float32'
    const n = shape.reduce((p, q) => p * q, 1)
    const scale = w ?? ctx.constant(new Array(n).fill(1), dt, shape)
    return ctx.node('LayerNormalization', b ? [x!, scale, b] : [x!, scale], {
      axis: -attrs.axes.length,
      epsilon: attrs.eps,
    })
  },
})

/** Layer normalisation over the trailing `normalizedShape` dims (Ba et al. 2016), biased variance. */
export function layerNorm(
  x: Tensor,
  normalizedShape: number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  requireFloat('layerNorm', x)
  const k = normalizedShape.length
  if (x.rank < k || x.shape.slice(x.rank - k).some((d, i) => d !== normalizedShape[i]))
    throw new ShapeError(
      `layerNorm: input ${fmt(x.shape)} does not end with the normalized shape ${fmt(normalizedShape)}`,
    )
  const axes = normalizedShape.map((_, i) => x.rank - k + i)
  if (bias && !weight) throw new ArgumentError('layerNorm: a bias needs a weight')
  return apply(LayerNorm, weight ? (bias ? [x, weight, bias] : [x, weight]) : [x], { axes, eps })
}

// ---- losses --------------------------------------------------------------------------------

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss
  if (reduction === 'sum') return loss.sum()
  if (reduction === 'mean') return loss.mean()
  throw new ArgumentError(`reduction must be 'mean', 'sum' or 'none', got '${reduction}'`)
}

function sameSize(op: string, input: Tensor, target: Tensor): Tensor {
  requireFloat(op, input)
  if (input.rank !== target.rank || input.shape.some((d, i) => d !== target.shape[i]))
    throw new ShapeError(`${op}: input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape`)
  return target.dtype === input.dtype ? target : target.to(input.dtype)
}

/** Mean squared error (notes 000): mean (x - y)^2. */
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
 * Binary cross-entropy of probabilities: -[y log p + (1 - y) log(1 - p)] (notes 000).
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
  const want = [input.shape[0]!, ...input.shape.slice(2)]
  if (input.rank < 2 || target.rank !== want.length || target.shape.some((d, i) => d !== want[i]))
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
 * NOTE: PyTorch divides by the number of classes C; the notes' SVM loss (notes 003) does not
 * (see models.multiclassHingeLoss for that form).
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

/**
 * Normalisation layers as functions: batch norm, layer norm and AlexNet's local response
 * normalisation, with PyTorch's semantics (defaults, biased/unbiased variances, channel windows).
 * Each is a composite of primitives, so backward comes free, with a native ONNX lowering.
 * Overview: https://d2l.ai/chapter_convolutional-modern/batch-norm.html
 */
import { noGrad } from '../autograd.js'
import { ArgumentError, ShapeError } from '../errors.js'
import { type LoweringContext, type OnnxLowering, apply, defineOp } from '../op.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { reciprocal } from './elementwise.js'
import { pad, slice } from './shape.js'
import { channelShape, empty, requireFloat } from './util.js'
import { kernel } from '../backend.js'
import type { FloatArray } from '../kernel-table.js'

// ---- batch and layer normalisation ------------------------------------------------------------

export interface BatchNormOptions {
  training: boolean
  momentum?: number
  eps?: number
}

/**
 * t's values in like's dtype, for a kernel call. A module-level function: a closure made inside a forward pass
 * costs its allocation (and, under tsx's keep-names transform, a property definition) on every call.
 */
function valuesAs(t: Tensor, like: Tensor): FloatArray {
  return t.to(like.dtype).data as FloatArray
}

/** BatchNormalization with the running statistics as inputs 3 and 4, as ONNX orders them. */
const lowerBatchNorm: OnnxLowering<{ eps: number; affine: boolean }> = (ctx, [x, rm, rv, w, b], { inputs, attrs }) => {
  const c = inputs[0]!.shape[1]!
  const dt = inputs[0]!.dtype === 'float64' ? 'float64' : 'float32'
  const scale = attrs.affine ? w! : ctx.constant(new Array(c).fill(1), dt)
  const bias = attrs.affine ? b! : ctx.constant(new Array(c).fill(0), dt)
  return ctx.node('BatchNormalization', [x!, scale, bias, rm!, rv!], { epsilon: attrs.eps })
}

/** Every axis of x but the channel axis 1: what the statistics and the parameter gradients sum over. */
const nonChannelAxes = (x: Tensor) => x.shape.map((_, i) => i).filter((i) => i !== 1)

/** Batch norm in training: normalise by the batch statistics (biased variance), Ioffe & Szegedy 2015. */
const BatchNormTrain = defineOp<{ eps: number; momentum: number; affine: boolean; track: boolean }>({
  name: 'BatchNormalization',
  forward: ([x, rm, rv, w, b], { eps, momentum, affine, track }) => {
    const X = x!
    const shape = channelShape(X)
    const axes = nonChannelAxes(X)
    const mean = X.mean(axes, true)
    const variance = X.sub(mean).square().mean(axes, true)
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
    let y = X.sub(mean).div(variance.add(eps).sqrt())
    if (affine) y = y.mul(w!.reshape(shape)).add(b!.reshape(shape))
    return y
  },
  onnx: lowerBatchNorm,
})

/**
 * Batch norm with running statistics (evaluation mode): one affine map per channel,
 * y = x * scale + shift with r = 1 / sqrt(var + eps), scale = w r and shift = b - mean * scale, computed on the
 * C-element vectors, then one kernel pass over x (PyTorch's CPU inference kernel folds it the same way).
 * The backward, with d = sum of dy (x - mean) over every axis but the channel's: dx = dy scale,
 * dw = d r, db = sum of dy, d mean = -scale sum of dy, d var = -d w r^3 / 2; each only when its input wants one.
 */
const BatchNormInference = defineOp<{ eps: number; affine: boolean }>({
  name: 'BatchNormalization',
  forward: ([x, rm, rv, w, b], { eps, affine }) => {
    const X = x!
    let scale = reciprocal(rv!.add(eps).sqrt())
    if (affine) scale = scale.mul(w!)
    let shift = rm!.mul(scale).neg()
    if (affine) shift = shift.add(b!)
    const y = empty(X.dtype, X.shape)
    const [n, c] = [X.shape[0]!, X.shape[1]!]
    kernel('ChannelAffine')(
      valuesAs(X, X),
      valuesAs(scale, X),
      valuesAs(shift, X),
      n,
      c,
      X.size / (n * c),
      y.data as FloatArray,
    )
    return y
  },
  backward: (dy, { inputs: [x, rm, rv, w, b], attrs: { eps, affine } }) => {
    const X = x!
    const shape = channelShape(X)
    const axes = nonChannelAxes(X)
    const wants = (t: Tensor | undefined) => !!t?.requiresGrad
    const r = reciprocal(rv!.add(eps).sqrt())
    const scale = affine ? r.mul(w!) : r
    const sumDy = wants(rm) || wants(b) ? dy.sum(axes) : null
    const d = wants(rv) || wants(w) ? dy.mul(X.sub(rm!.reshape(shape))).sum(axes) : null
    return [
      wants(X) ? dy.mul(scale.reshape(shape)) : null,
      wants(rm) ? sumDy!.mul(scale).neg() : null,
      wants(rv) ? (affine ? d!.mul(w!) : d!).mul(r.mul(r).mul(r)).mul(-0.5) : null,
      wants(w) ? d!.mul(r) : null,
      wants(b) ? sumDy : null,
    ]
  },
  onnx: lowerBatchNorm,
})

/**
 * Batch normalisation (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167) over channel axis 1
 * of x (N, C) / (N, C, L) / (N, C, H, W). In training the running statistics are updated in place:
 * running = (1 - momentum) running + momentum batch.
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
  return training
    ? apply(BatchNormTrain, inputs, { eps, momentum, affine, track })
    : apply(BatchNormInference, inputs, { eps, affine })
}

/**
 * Layer norm as one kernel pass (mean, biased variance, normalise, scale and shift per row). The backward is
 * written with ops from the recomputed x_hat = (x - mean) r, r = 1 / sqrt(var + eps): with g = dy w,
 * dx = r (g - mean(g) - x_hat mean(g x_hat)), dw = sum of dy x_hat and db = sum of dy over the leading dims.
 */
const LayerNorm = defineOp<{ axes: number[]; eps: number }>({
  name: 'LayerNormalization',
  forward: ([x, w, b], { axes, eps }) => {
    const X = x!
    const n = axes.reduce((p, a) => p * X.shape[a]!, 1)
    const y = empty(X.dtype, X.shape)
    const [wv, bv] = [w ? valuesAs(w, X) : null, b ? valuesAs(b, X) : null]
    kernel('LayerNormalization')(X.data as FloatArray, X.size / n, n, wv, bv, eps, y.data as FloatArray)
    return y
  },
  backward: (dy, { inputs: [x, w, b], attrs: { axes, eps } }) => {
    const X = x!
    const mean = X.mean(axes, true)
    const d = X.sub(mean)
    const r = reciprocal(d.square().mean(axes, true).add(eps).sqrt())
    const xhat = d.mul(r)
    const g = w ? dy.mul(w) : dy
    const dx = r.mul(g.sub(g.mean(axes, true)).sub(xhat.mul(g.mul(xhat).mean(axes, true))))
    const lead = X.shape.map((_, i) => i).filter((i) => !axes.includes(i))
    const overLead = (t: Tensor) => (lead.length ? t.sum(lead) : t)
    return [dx, w ? overLead(dy.mul(xhat)) : null, b ? overLead(dy) : null]
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

/**
 * Layer normalisation (Ba et al. 2016, https://arxiv.org/abs/1607.06450) over the trailing
 * `normalizedShape` dims, biased variance.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  requireFloat('layerNorm', x)
  const k = normalizedShape.length
  if (x.rank < k || normalizedShape.some((d, i) => x.shape[x.rank - k + i] !== d))
    throw new ShapeError(
      `layerNorm: input ${fmt(x.shape)} does not end with the normalized shape ${fmt(normalizedShape)}`,
    )
  const axes = normalizedShape.map((_, i) => x.rank - k + i)
  if (bias && !weight) throw new ArgumentError('layerNorm: a bias needs a weight')
  return apply(LayerNorm, weight ? (bias ? [x, weight, bias] : [x, weight]) : [x], { axes, eps })
}

// ---- local response normalisation -------------------------------------------------------------

export interface LocalResponseNormOptions {
  /** Number of neighbouring channels summed over (AlexNet: 5). */
  size: number
  alpha?: number
  beta?: number
  k?: number
}
type LrnAttrs = Required<LocalResponseNormOptions>

/** The channel window of channel c: [c - floor(size / 2), c + floor((size - 1) / 2)] (PyTorch). */
const lrnPads = (size: number): [number, number] => [Math.floor(size / 2), Math.floor((size - 1) / 2)]

/**
 * NOTE: ONNX LRN sums [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)]: PyTorch's window for
 * odd sizes, one channel later for even sizes. So an even size exports as PyTorch's own decomposition:
 * x / (k + alpha * avgpool_channels(x^2))^beta.
 */
function lowerLrn(ctx: LoweringContext, x: string, xt: Tensor, a: LrnAttrs): string[] {
  if (a.size % 2 === 1) return ctx.node('LRN', [x], { size: a.size, alpha: a.alpha, beta: a.beta, bias: a.k })
  const dt = xt.dtype === 'float64' ? 'float64' : 'float32'
  const r = xt.rank
  const [before, after] = lrnPads(a.size)
  const [sq] = ctx.node('Mul', [x, x])
  const unsq =
    ctx.opset >= 13
      ? ctx.node('Unsqueeze', [sq!, ctx.constant([1], 'int64')])
      : ctx.node('Unsqueeze', [sq!], { axes: [1] })
  const pads = new Array<number>(2 * (r + 1)).fill(0)
  pads[2] = before
  pads[r + 1 + 2] = after
  const [padded] = ctx.node('Pad', [unsq[0]!, ctx.constant(pads, 'int64')])
  const kernelShape = [a.size, ...new Array<number>(r - 2).fill(1)]
  const [avg] = ctx.node('AveragePool', [padded!], { kernel_shape: kernelShape, strides: kernelShape.map(() => 1) })
  const [s] =
    ctx.opset >= 13
      ? ctx.node('Squeeze', [avg!, ctx.constant([1], 'int64')])
      : ctx.node('Squeeze', [avg!], { axes: [1] })
  const [scaled] = ctx.node('Mul', [s!, ctx.constant([a.alpha], dt, [])])
  const [shifted] = ctx.node('Add', [scaled!, ctx.constant([a.k], dt, [])])
  const [den] = ctx.node('Pow', [shifted!, ctx.constant([a.beta], dt, [])])
  return ctx.node('Div', [x, den!])
}

const LRN = defineOp<LrnAttrs>({
  name: 'LRN',
  forward: ([x], { size, alpha, beta, k }) => {
    const c = x!.shape[1]!
    const [before, after] = lrnPads(size)
    const padsAll = new Array<number>(2 * x!.rank).fill(0)
    padsAll[1] = before
    padsAll[x!.rank + 1] = after
    const sq = pad(x!.mul(x!), padsAll)
    let sum = slice(sq, 1, 0, c)
    for (let i = 1; i < size; i++) sum = sum.add(slice(sq, 1, i, i + c))
    // PyTorch: x / (k + alpha * mean over the window of x^2)^beta, the mean dividing by `size`
    // even where the window is cut by the channel edge (same as ONNX's alpha / size * square_sum).
    return x!.div(sum.div(size).mul(alpha).add(k).pow(beta))
  },
  onnx: (ctx, [x], { inputs: [xt], attrs }) => lowerLrn(ctx, x!, xt!, attrs),
})

/**
 * Local response normalisation across channels (AlexNet: Krizhevsky, Sutskever & Hinton 2012,
 * "ImageNet classification with deep convolutional neural networks", NeurIPS, section 3.3,
 * https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html):
 * y_c = x_c / (k + alpha / size * sum over neighbouring channels of x^2)^beta. Defaults alpha 1e-4,
 * beta 0.75, k 1 (PyTorch).
 */
export function localResponseNorm(
  x: Tensor,
  { size, alpha = 1e-4, beta = 0.75, k = 1 }: LocalResponseNormOptions,
): Tensor {
  requireFloat('localResponseNorm', x)
  if (x.rank < 3)
    throw new ShapeError(`localResponseNorm: expected input (N, C, ...) with at least 3 dims, got ${fmt(x.shape)}`)
  if (!Number.isInteger(size) || size < 1)
    throw new ArgumentError(`localResponseNorm: size must be a positive integer, got ${size}`)
  return apply(LRN, [x], { size, alpha, beta, k })
}

/**
 * BatchNorm1d (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167) and LayerNorm (Ba, Kiros &
 * Hinton 2016, https://arxiv.org/abs/1607.06450); both in https://d2l.ai/chapter_convolutional-modern/batch-norm.html.
 * Train vs eval behaviour, running statistics.
 */
import type { DType } from '../dtype.js'
import { ShapeError } from '../errors.js'
import { ones, zeros } from '../ops/creation.js'
import { noGrad } from '../autograd.js'
import { batchNorm, layerNorm } from '../ops/normalization.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { Module, Parameter } from './module.js'

export interface BatchNormOptions {
  eps?: number
  /** Weight of the new batch in the running averages (PyTorch's convention, default 0.1); null:
   *  the cumulative average of every batch seen (PyTorch's momentum=None). */
  momentum?: number | null
  affine?: boolean
  trackRunningStats?: boolean
  dtype?: DType
}

/**
 * Batch normalisation per feature (Ioffe & Szegedy 2015): in training, normalise by the batch mean
 * and (biased) variance and update running_mean/running_var by an exponential moving average; in
 * eval, normalise by the running statistics. gamma (`weight`) and beta (`bias`) are learned.
 * Shared by BatchNorm1d (N, C) / (N, C, L) and, in @refnets/cnn, BatchNorm2d (N, C, H, W).
 */
export class BatchNorm extends Module {
  weight: Parameter | null
  bias: Parameter | null
  declare running_mean: Tensor | null
  declare running_var: Tensor | null
  declare num_batches_tracked: Tensor | null
  readonly eps: number
  /** Mutable, as in PyTorch (`bn.momentum = null` switches to a cumulative average). */
  momentum: number | null

  constructor(
    readonly numFeatures: number,
    protected readonly ranks: number[],
    { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true, dtype = 'float32' }: BatchNormOptions = {},
  ) {
    super()
    this.eps = eps
    this.momentum = momentum
    this.weight = affine ? new Parameter(ones([numFeatures], { dtype })) : null
    this.bias = affine ? new Parameter(zeros([numFeatures], { dtype })) : null
    this.registerBuffer('running_mean', trackRunningStats ? zeros([numFeatures], { dtype }) : null)
    this.registerBuffer('running_var', trackRunningStats ? ones([numFeatures], { dtype }) : null)
    // PyTorch keeps this int64 counter; int32 here (refnets' index type).
    this.registerBuffer('num_batches_tracked', trackRunningStats ? zeros([], { dtype: 'int32' }) : null)
  }

  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.rank) || x.shape[1] !== this.numFeatures)
      throw new ShapeError(
        `${this.constructor.name}(${this.numFeatures}): expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels in dim 1, got ${fmt(x.shape)}`,
      )
    const useBatchStats = this.training || !this.running_mean
    if (this.training && this.num_batches_tracked) this.num_batches_tracked.storage[0]! += 1
    const momentum = this.momentum ?? 1 / Math.max(1, Number(this.num_batches_tracked?.storage[0] ?? 1))
    return batchNorm(x, this.running_mean, this.running_var, this.weight, this.bias, {
      training: useBatchStats,
      momentum,
      eps: this.eps,
    })
  }
}

/** Batch norm over (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, [2, 3], opts)
  }
}

/** Layer normalisation over the trailing dims (Ba et al. 2016): per sample, not per batch. */
export class LayerNorm extends Module {
  weight: Parameter | null
  bias: Parameter | null
  readonly normalizedShape: number[]

  constructor(
    normalizedShape: number | number[],
    {
      eps = 1e-5,
      elementwiseAffine = true,
      bias = true,
      dtype = 'float32',
    }: { eps?: number; elementwiseAffine?: boolean; bias?: boolean; dtype?: DType } = {},
  ) {
    super()
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape
    this.eps = eps
    this.weight = elementwiseAffine ? new Parameter(ones(this.normalizedShape, { dtype })) : null
    this.bias = elementwiseAffine && bias ? new Parameter(zeros(this.normalizedShape, { dtype })) : null
  }
  readonly eps: number

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps)
  }
}

/**
 * Recompute every batch-norm layer's running statistics from `batches` (each an argument list for
 * `model.call`): statistics reset, a cumulative average over the batches in training mode without
 * gradients, then each layer's momentum and the model's mode restored. The same job as PyTorch's
 * torch.optim.swa_utils.update_bn; also what gives a freshly initialised model realistic eval-mode
 * statistics.
 */
export function updateBatchNorm(model: Module<any, any>, batches: Tensor[][]): void {
  const layers = [...model.namedModules()]
    .map(([, m]) => m)
    .filter((m): m is BatchNorm => m instanceof BatchNorm && m.running_mean !== null)
  const saved = layers.map((m) => m.momentum)
  const wasTraining = model.training
  try {
    for (const m of layers) {
      m.running_mean!.storage.fill(0)
      m.running_var!.storage.fill(1)
      m.num_batches_tracked?.storage.fill(0)
      m.momentum = null
    }
    model.train()
    noGrad(() => {
      for (const b of batches) model.call(...b)
    })
  } finally {
    layers.forEach((m, i) => {
      m.momentum = saved[i]!
    })
    model.train(wasTraining)
  }
}

/**
 * Dropout2d and DropBlock: dropout for feature maps.
 *
 * Neighbouring activations of a feature map are strongly correlated, so dropping single pixels
 * (plain dropout) barely removes information: the next layer reads it from the neighbours.
 * Dropout2d (Tompson et al. 2015, https://arxiv.org/abs/1411.4280) drops whole channels. DropBlock
 * (Ghiasi, Lin & Le 2018, "DropBlock: A regularization method for convolutional networks",
 * https://arxiv.org/abs/1810.12890; one of YOLOv4's "bag of freebies") drops contiguous
 * block_size x block_size squares of each feature map, "cutout applied to every feature map", and
 * starts with a small drop rate that grows linearly during training.
 *
 * Both scale the kept activations so the expected value is unchanged (inverted dropout, Srivastava et al. 2014,
 * https://jmlr.org/papers/v15/srivastava14a.html; https://d2l.ai/chapter_multilayer-perceptrons/dropout.html), and
 * both are the identity in evaluation mode.
 */
import {
  ArgumentError,
  type Generator,
  Module,
  ShapeError,
  type Tensor,
  defaultGenerator,
  fromValues,
} from '@refnets/core'

function checkRate(name: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new ArgumentError(`${name}: drop rate must be in [0, 1), got ${p}`)
}

function check4d(name: string, x: Tensor): void {
  if (x.rank !== 4) throw new ShapeError(`${name}: expected input (B, C, H, W), got [${x.shape.join(', ')}]`)
}

/**
 * Channel-wise dropout, torch.nn.Dropout2d: in training each channel of each sample is zeroed with
 * probability p and the rest are scaled by 1 / (1 - p). (B, C, H, W) -> (B, C, H, W).
 */
export class Dropout2d extends Module {
  constructor(
    readonly p = 0.5,
    readonly generator: Generator = defaultGenerator,
  ) {
    super()
    checkRate('Dropout2d', p)
  }

  forward(x: Tensor): Tensor {
    check4d('Dropout2d', x)
    if (!this.training || this.p === 0) return x
    const [b, c] = x.shape as [number, number]
    const keep = new Float64Array(b * c)
    const scale = 1 / (1 - this.p)
    for (let i = 0; i < keep.length; i++) keep[i] = this.generator.random() < this.p ? 0 : scale
    // (B, C, 1, 1) mask broadcast over H, W
    return x.mul(fromValues(x.dtype, [b, c, 1, 1], keep))
  }
}

export interface DropBlockOptions {
  /** Side of the square dropped around each seed (paper: 7 on ResNet-50 block groups 3 and 4). */
  blockSize?: number
  /** The drop rate 1 - keep_prob reached at the end of the schedule (paper: 0.1, keep_prob 0.9). */
  dropRate?: number
  /**
   * Training steps over which the rate grows linearly from 0 to `dropRate` (the paper's schedule:
   * "start with a small rate and increase it linearly during training",
   * 以一个小的比率开始，随着训练过程线性的增加这个比率). 0 = use `dropRate` from the first step.
   */
  totalSteps?: number
  /** Share one mask across all channels of a sample (paper: per feature map, the default false). */
  shareChannels?: boolean
  generator?: Generator
}

/**
 * DropBlock (Ghiasi et al. 2018, Algorithm 1): in training, sample block centres with rate gamma
 * over the positions where a whole block fits, zero a blockSize x blockSize square around each
 * centre, and scale by (number of units) / (number kept). (B, C, H, W) -> (B, C, H, W).
 *
 * gamma = dropRate / blockSize^2 * (H * W) / ((H - blockSize + 1)(W - blockSize + 1)), the paper's
 * Eq. (1) for a rectangular map: the expected fraction of dropped units is about dropRate.
 *
 * Call `step()` once per training step; the current rate is dropRate * min(1, steps / totalSteps).
 */
export class DropBlock extends Module {
  readonly blockSize: number
  readonly dropRate: number
  readonly totalSteps: number
  readonly shareChannels: boolean
  readonly generator: Generator
  /** Training steps taken so far (advanced by `step()`). */
  steps = 0

  constructor({
    blockSize = 7,
    dropRate = 0.1,
    totalSteps = 0,
    shareChannels = false,
    generator = defaultGenerator,
  }: DropBlockOptions = {}) {
    super()
    checkRate('DropBlock', dropRate)
    if (!Number.isInteger(blockSize) || blockSize < 1)
      throw new ArgumentError(`DropBlock: blockSize must be a positive integer, got ${blockSize}`)
    if (!(totalSteps >= 0)) throw new ArgumentError(`DropBlock: totalSteps must be >= 0, got ${totalSteps}`)
    this.blockSize = blockSize
    this.dropRate = dropRate
    this.totalSteps = totalSteps
    this.shareChannels = shareChannels
    this.generator = generator
  }

  /** Advance the linear schedule by one training step. */
  step(): void {
    this.steps++
  }

  /** The drop rate in force now: linear from 0 to dropRate over totalSteps, then constant. */
  currentDropRate(): number {
    if (this.totalSteps === 0) return this.dropRate
    return this.dropRate * Math.min(1, this.steps / this.totalSteps)
  }

  /** gamma, the seed rate, for an H x W map at the current drop rate (Eq. 1). */
  gamma(h: number, w: number): number {
    const bs = Math.min(this.blockSize, h, w)
    return ((this.currentDropRate() / (bs * bs)) * (h * w)) / ((h - bs + 1) * (w - bs + 1))
  }

  forward(x: Tensor): Tensor {
    check4d('DropBlock', x)
    const rate = this.currentDropRate()
    if (!this.training || rate === 0) return x
    const [b, c, h, w] = x.shape as [number, number, number, number]
    // NOTE: a block larger than the map is clipped to the map (one block then covers it all).
    const bs = Math.min(this.blockSize, h, w)
    const gamma = this.gamma(h, w)
    const planes = this.shareChannels ? b : b * c
    const mask = new Float64Array(planes * h * w).fill(1)
    // Seeds are top-left corners in [0, H - bs] x [0, W - bs], i.e. centres where the block fits.
    for (let p = 0; p < planes; p++)
      for (let i = 0; i <= h - bs; i++)
        for (let j = 0; j <= w - bs; j++) {
          if (this.generator.random() >= gamma) continue
          for (let di = 0; di < bs; di++) mask.fill(0, p * h * w + (i + di) * w + j, p * h * w + (i + di) * w + j + bs)
        }
    let kept = 0
    for (let i = 0; i < mask.length; i++) kept += mask[i]!
    // Normalise: A * count(M) / count_ones(M) (Algorithm 1, step 6). All dropped: output zeros.
    const scale = kept === 0 ? 0 : mask.length / kept
    for (let i = 0; i < mask.length; i++) mask[i]! *= scale
    const m = fromValues(x.dtype, this.shareChannels ? [b, 1, h, w] : [b, c, h, w], mask)
    return x.mul(m)
  }
}

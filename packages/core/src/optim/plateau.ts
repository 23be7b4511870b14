/**
 * Reduce the learning rate when a monitored value (usually the validation loss) stops improving,
 * as PyTorch's ReduceLROnPlateau (Keras: ReduceLROnPlateau). Call `step(valLoss)` once per epoch;
 * `fit`'s `LRSchedulerCallback(scheduler, { monitor: 'val_loss' })` does that.
 *
 * After more than `patience` epochs without an improvement every group's lr is multiplied by
 * `factor` (not below `minLr`), then `cooldown` epochs pass before bad epochs count again. An
 * improvement in 'rel' mode means better than best * (1 -/+ threshold), in 'abs' mode than best -/+ threshold.
 */
import { ArgumentError } from '../errors.js'
import type { BaseHyper, Optimizer } from './optimizer.js'

export interface ReduceLROnPlateauOptions {
  /** 'min' (a loss) or 'max' (an accuracy). Default 'min'. */
  mode?: 'min' | 'max'
  /** Multiplier applied to the lr. Default 0.1. */
  factor?: number
  /** Epochs without improvement tolerated before reducing. Default 10. */
  patience?: number
  /** Minimal change that counts as an improvement. Default 1e-4. */
  threshold?: number
  thresholdMode?: 'rel' | 'abs'
  /** Epochs to wait after a reduction. Default 0. */
  cooldown?: number
  /** Lower bound on the lr. Default 0. */
  minLr?: number
  /** Reductions smaller than this are skipped. Default 1e-8. */
  eps?: number
}

export class ReduceLROnPlateau {
  lastEpoch = 0
  best: number
  numBadEpochs = 0
  cooldownCounter = 0
  private readonly o: Required<ReduceLROnPlateauOptions>

  constructor(
    readonly optimizer: Optimizer<BaseHyper>,
    opts: ReduceLROnPlateauOptions = {},
  ) {
    this.o = {
      mode: 'min',
      factor: 0.1,
      patience: 10,
      threshold: 1e-4,
      thresholdMode: 'rel',
      cooldown: 0,
      minLr: 0,
      eps: 1e-8,
      ...opts,
    }
    if (!(this.o.factor < 1 && this.o.factor >= 0))
      throw new ArgumentError(`ReduceLROnPlateau: factor must be in [0, 1), got ${this.o.factor}`)
    this.best = this.o.mode === 'min' ? Infinity : -Infinity
  }

  private isBetter(a: number): boolean {
    const { mode, threshold, thresholdMode } = this.o
    if (mode === 'min') return thresholdMode === 'rel' ? a < this.best * (1 - threshold) : a < this.best - threshold
    return thresholdMode === 'rel' ? a > this.best * (1 + threshold) : a > this.best + threshold
  }

  /** One epoch ended with the monitored value `metric`. */
  step(metric?: number): void {
    if (metric === undefined || Number.isNaN(metric))
      throw new ArgumentError(
        `ReduceLROnPlateau.step needs the monitored value (e.g. the validation loss), got ${metric}`,
      )
    this.lastEpoch++
    if (this.isBetter(metric)) {
      this.best = metric
      this.numBadEpochs = 0
    } else this.numBadEpochs++
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--
      this.numBadEpochs = 0
    }
    if (this.numBadEpochs > this.o.patience) {
      for (const g of this.optimizer.paramGroups) {
        const lr = Math.max(g.lr * this.o.factor, this.o.minLr)
        if (g.lr - lr > this.o.eps) g.lr = lr
      }
      this.cooldownCounter = this.o.cooldown
      this.numBadEpochs = 0
    }
  }

  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr)
  }
}

/**
 * Callbacks hook into `fit` at the start and end of training, of each epoch and of each batch, as
 * in Keras: early stopping, a learning-rate schedule, the progress display. A callback can stop
 * training by setting `ctx.stopTraining`.
 */
import { noGrad } from '../autograd.js'
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'
import type { History } from './history.js'
import type { AnyModule, Logs, OptimizerLike, SchedulerLike } from './types.js'

export interface TrainContext {
  model: AnyModule
  optimizer: OptimizerLike
  history: History
  epochs: number
  batchesPerEpoch: number
  /** Set to true to end training after the current epoch. */
  stopTraining: boolean
}

export interface Callback {
  onTrainBegin?(ctx: TrainContext): void
  onEpochBegin?(epoch: number, ctx: TrainContext): void
  onBatchEnd?(batch: number, logs: { loss: number; size: number }, ctx: TrainContext): void
  onEpochEnd?(epoch: number, logs: Logs, ctx: TrainContext): void
  onTrainEnd?(ctx: TrainContext): void
}

const MAX_WORDS = ['acc', 'f1', 'precision', 'recall', 'auc']

export interface EarlyStoppingOptions {
  /** The log key to watch (default 'val_loss'). */
  monitor?: string
  /** Epochs without improvement before stopping (default 3). */
  patience?: number
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number
  /** 'min', 'max', or 'auto' (default): 'max' for accuracy-like keys, else 'min'. */
  mode?: 'min' | 'max' | 'auto'
  /** At the end, put back the weights of the best epoch (default false). */
  restoreBestWeights?: boolean
}

/**
 * Stop when the monitored value has not improved for `patience` epochs (early stopping as a
 * regulariser, https://d2l.ai/chapter_multilayer-perceptrons/generalization-deep.html: stop where the
 * dev error is lowest, before the model overfits).
 */
export class EarlyStopping implements Callback {
  readonly monitor: string
  readonly patience: number
  readonly minDelta: number
  readonly mode: 'min' | 'max'
  readonly restoreBestWeights: boolean
  best = NaN
  bestEpoch = -1
  stoppedEpoch = -1
  private wait = 0
  private bestWeights: Record<string, Tensor> | null = null

  constructor({
    monitor = 'val_loss',
    patience = 3,
    minDelta = 0,
    mode = 'auto',
    restoreBestWeights = false,
  }: EarlyStoppingOptions = {}) {
    if (!Number.isInteger(patience) || patience < 0)
      throw new ArgumentError(`EarlyStopping: patience must be a non-negative integer, got ${patience}`)
    this.monitor = monitor
    this.patience = patience
    this.minDelta = Math.abs(minDelta)
    this.mode = mode !== 'auto' ? mode : MAX_WORDS.some((w) => monitor.includes(w)) ? 'max' : 'min'
    this.restoreBestWeights = restoreBestWeights
  }

  onTrainBegin(): void {
    this.best = NaN
    this.bestEpoch = -1
    this.stoppedEpoch = -1
    this.wait = 0
    this.bestWeights = null
  }

  private improved(v: number): boolean {
    if (Number.isNaN(this.best)) return true
    return this.mode === 'min' ? v < this.best - this.minDelta : v > this.best + this.minDelta
  }

  onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): void {
    const v = logs[this.monitor]
    if (v === undefined)
      throw new ArgumentError(
        `EarlyStopping monitors '${this.monitor}', which is not logged; available: ${Object.keys(logs).join(', ')}`,
      )
    if (this.improved(v)) {
      this.best = v
      this.bestEpoch = epoch
      this.wait = 0
      if (this.restoreBestWeights) this.bestWeights = snapshot(ctx.model)
      return
    }
    if (++this.wait > this.patience) {
      this.stoppedEpoch = epoch
      ctx.stopTraining = true
    }
  }

  onTrainEnd(ctx: TrainContext): void {
    if (this.restoreBestWeights && this.bestWeights) ctx.model.loadStateDict(this.bestWeights)
    ctx.history.bestEpoch = this.bestEpoch
    if (this.stoppedEpoch >= 0) ctx.history.stoppedEpoch = this.stoppedEpoch
  }
}

/** Copies of every parameter and buffer (the state dict shares storage with the model). */
function snapshot(model: AnyModule): Record<string, Tensor> {
  return noGrad(() => Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.clone()])))
}

/**
 * Step a learning-rate scheduler at the end of every epoch. With `monitor` (e.g. 'val_loss'), the
 * scheduler's step receives that value (for reduce-on-plateau schedules).
 */
export class LRSchedulerCallback implements Callback {
  constructor(
    readonly scheduler: SchedulerLike,
    readonly opts: { monitor?: string } = {},
  ) {}

  onEpochEnd(_epoch: number, logs: Logs): void {
    if (this.opts.monitor === undefined) this.scheduler.step()
    else {
      const v = logs[this.opts.monitor]
      if (v === undefined)
        throw new ArgumentError(`LRSchedulerCallback monitors '${this.opts.monitor}', which is not logged`)
      this.scheduler.step(v)
    }
  }
}

/** A callback from plain functions, for one-off hooks. */
export class LambdaCallback implements Callback {
  constructor(hooks: Callback) {
    Object.assign(this, hooks)
  }
}

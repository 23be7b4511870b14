/**
 * Learning-rate schedules: step, exponential and 1/t decay (CS231n, "Annealing the learning rate",
 * https://cs231n.github.io/neural-networks-3/), warm-up and cosine (Loshchilov & Hutter 2017,
 * https://arxiv.org/abs/1608.03983; https://d2l.ai/chapter_optimization/lr-scheduler.html). Create a
 * scheduler on an optimiser and call `scheduler.step()` once per epoch, after the optimiser steps;
 * `getLr()` gives the current rate of each parameter group.
 *
 * Each schedule is a closed form lr(epoch) = f(epoch, baseLr), where baseLr is the group's learning
 * rate when the first scheduler was attached (kept as `initialLr` on the group, as PyTorch does).
 * Construction sets epoch 0, like PyTorch, so `getLr()` right after `new` is the first epoch's rate.
 * NOTE: PyTorch's `step()` updates most schedules recursively (lr <- lr * gamma); the closed forms
 * here are its `_get_closed_form_lr` and agree to rounding (about 1e-16 relative).
 */
import { ArgumentError } from '../errors.js'
import type { BaseHyper, Optimizer } from './optimizer.js'

/** lr at `epoch` for a group whose schedule starts from `baseLr`. */
export type Schedule = (epoch: number, baseLr: number) => number

export interface SchedulerState {
  lastEpoch: number
  baseLrs: number[]
}

export class LRScheduler {
  /** Epochs stepped so far (0 after construction). */
  lastEpoch = 0
  readonly baseLrs: number[]

  constructor(
    readonly optimizer: Optimizer<BaseHyper>,
    /** The closed form of this schedule. */
    readonly lrAt: Schedule,
  ) {
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!)
    this.apply()
  }

  /** Advance one epoch and set every group's learning rate. */
  step(): void {
    this.lastEpoch++
    this.apply()
  }

  /** The current learning rate of each parameter group. */
  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr)
  }

  stateDict(): SchedulerState {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] }
  }

  loadStateDict(sd: SchedulerState): void {
    if (sd.baseLrs.length !== this.baseLrs.length)
      throw new ArgumentError(
        `${this.constructor.name}.loadStateDict: expected ${this.baseLrs.length} base learning rates, got ${sd.baseLrs.length}`,
      )
    this.lastEpoch = sd.lastEpoch
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs)
    this.apply()
  }

  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]!)
    })
  }
}

const positive = (name: string, k: string, v: number) => {
  if (!(v > 0)) throw new ArgumentError(`${name}: ${k} must be > 0, got ${v}`)
}

/** Step decay (CS231n; a "discrete staircase"): lr = lr0 * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, { stepSize, gamma = 0.1 }: { stepSize: number; gamma?: number }) {
    positive('StepLR', 'stepSize', stepSize)
    super(optimizer, (e, lr0) => lr0 * gamma ** Math.floor(e / stepSize))
  }
}

/** Exponential decay (CS231n): lr = lr0 * gamma^epoch (e.g. 0.95^epoch). */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, { gamma }: { gamma: number }) {
    super(optimizer, (e, lr0) => lr0 * gamma ** e)
  }
}

/** Inverse-time decay (CS231n's 1/t decay): lr = lr0 / (1 + decay * epoch). Not in PyTorch (a LambdaLR there). */
export class InverseTimeLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, { decay }: { decay: number }) {
    if (!(decay >= 0)) throw new ArgumentError(`InverseTimeLR: decay must be >= 0, got ${decay}`)
    super(optimizer, (e, lr0) => lr0 / (1 + decay * e))
  }
}

/**
 * Cosine annealing (Loshchilov & Hutter 2017, SGDR, without restarts):
 * lr = etaMin + (lr0 - etaMin) * (1 + cos(pi * epoch / tMax)) / 2. Past tMax it rises again
 * (the cosine is periodic), exactly as PyTorch's CosineAnnealingLR.
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, { tMax, etaMin = 0 }: { tMax: number; etaMin?: number }) {
    positive('CosineAnnealingLR', 'tMax', tMax)
    super(optimizer, (e, lr0) => etaMin + ((lr0 - etaMin) * (1 + Math.cos((Math.PI * e) / tMax))) / 2)
  }
}

export interface LinearLROptions {
  /** Factor at epoch 0. Default 1/3 (PyTorch). */
  startFactor?: number
  /** Factor from epoch `totalIters` on. Default 1. */
  endFactor?: number
  /** Epochs to go from startFactor to endFactor. Default 5. */
  totalIters?: number
}

/** lr = lr0 * (start + (end - start) * min(epoch, totalIters) / totalIters), as PyTorch's LinearLR. */
export class LinearLR extends LRScheduler {
  constructor(
    optimizer: Optimizer<BaseHyper>,
    { startFactor = 1 / 3, endFactor = 1, totalIters = 5 }: LinearLROptions = {},
  ) {
    if (!(startFactor > 0 && startFactor <= 1))
      throw new ArgumentError(`LinearLR: startFactor must be in (0, 1], got ${startFactor}`)
    if (!(endFactor >= 0 && endFactor <= 1))
      throw new ArgumentError(`LinearLR: endFactor must be in [0, 1], got ${endFactor}`)
    positive('LinearLR', 'totalIters', totalIters)
    super(
      optimizer,
      (e, lr0) => lr0 * (startFactor + ((endFactor - startFactor) * Math.min(e, totalIters)) / totalIters),
    )
  }
}

/**
 * Linear warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD"): start at startFactor * lr0 and
 * rise linearly to lr0 over `warmupEpochs`, then stay. A LinearLR with endFactor 1; follow it with a
 * decay through `SequentialLR`.
 */
export class LinearWarmup extends LinearLR {
  constructor(
    optimizer: Optimizer<BaseHyper>,
    { warmupEpochs, startFactor = 0.1 }: { warmupEpochs: number; startFactor?: number },
  ) {
    super(optimizer, { startFactor, endFactor: 1, totalIters: warmupEpochs })
  }
}

/** lr = lr0 * lrLambda(epoch), as PyTorch's LambdaLR (one function for every group). */
export class LambdaLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, lrLambda: (epoch: number) => number) {
    super(optimizer, (e, lr0) => lr0 * lrLambda(e))
  }
}

/**
 * Schedules one after another (PyTorch's SequentialLR): `schedulers[i]` runs from `milestones[i-1]`,
 * restarted at its own epoch 0. E.g. warm-up for 5 epochs, then cosine:
 * `new SequentialLR(opt, [new LinearWarmup(opt, { warmupEpochs: 5 }), new CosineAnnealingLR(opt, { tMax: 95 })], [5])`.
 */
export class SequentialLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseHyper>, schedulers: LRScheduler[], milestones: number[]) {
    if (schedulers.length === 0 || milestones.length !== schedulers.length - 1)
      throw new ArgumentError(
        `SequentialLR: expected ${Math.max(schedulers.length - 1, 0)} milestones for ${schedulers.length} schedulers, got ${milestones.length}`,
      )
    for (let i = 1; i < milestones.length; i++)
      if (!(milestones[i]! > milestones[i - 1]!))
        throw new ArgumentError(`SequentialLR: milestones must increase, got [${milestones.join(', ')}]`)
    super(optimizer, (e, lr0) => {
      let i = 0
      while (i < milestones.length && e >= milestones[i]!) i++
      return schedulers[i]!.lrAt(e - (i > 0 ? milestones[i - 1]! : 0), lr0)
    })
  }
}

/** The small structural types the training loop needs from models, optimisers and schedulers. */
import type { Module } from '../nn/module.js'
import type { Tensor } from '../tensor.js'

/** What `fit` needs of an optimiser (every optimiser in `optim` has these). */
export interface OptimizerLike {
  step(): void
  zeroGrad(): void
}

/** A learning-rate scheduler, stepped once per epoch (a plateau scheduler receives the monitored value). */
export interface SchedulerLike {
  step(metric?: number): void
}

/** loss(output, target) -> scalar tensor. */
export type LossFn = (output: Tensor, target: Tensor) => Tensor

/** A model that brings its own default loss (the classic models do). */
export interface WithLoss {
  loss: LossFn
}

export type AnyModule = Module<any, Tensor>

/** Per-epoch values: `loss`, `val_loss`, metric names and their `val_` versions, `lr`. */
export type Logs = Record<string, number>

/** The current learning rate of an optimiser, when it exposes one (`lr` or `paramGroups[0].lr`). */
export function currentLr(opt: unknown): number | undefined {
  const o = opt as { lr?: unknown; paramGroups?: { lr?: unknown }[]; defaults?: { lr?: unknown } }
  const lr = o.paramGroups?.[0]?.lr ?? o.lr ?? o.defaults?.lr
  return typeof lr === 'number' ? lr : undefined
}

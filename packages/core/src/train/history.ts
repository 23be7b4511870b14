/** The record `fit` returns: one value per epoch for every logged quantity (Keras's History). */
import type { Logs } from './types.js'

export class History {
  /** key -> values per epoch: `loss`, `val_loss`, `accuracy`, `val_accuracy`, `lr`, ... */
  readonly history: Record<string, number[]> = {}
  /** Wall time of each epoch in seconds. */
  readonly epochTimes: number[] = []
  /** The epoch (0-based) early stopping judged best, when it ran. */
  bestEpoch?: number
  /** The epoch after which early stopping ended training. */
  stoppedEpoch?: number

  get epochs(): number {
    return this.epochTimes.length
  }

  record(logs: Logs, seconds: number): void {
    for (const [k, v] of Object.entries(logs)) {
      this.history[k] ??= []
      this.history[k].push(v)
    }
    this.epochTimes.push(seconds)
  }

  /** The values of one key (empty when it was never logged). */
  get(key: string): number[] {
    return this.history[key] ?? []
  }

  /** The last value of a key. */
  last(key: string): number | undefined {
    const v = this.history[key]
    return v?.[v.length - 1]
  }
}

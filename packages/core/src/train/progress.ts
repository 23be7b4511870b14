/**
 * The progress display of `fit`. On an interactive terminal (stderr is a TTY and the CI variable
 * is unset) a bar redraws in place on stderr; elsewhere (logs, CI, pipes, browsers) nothing is
 * drawn per batch and one plain line per epoch is written instead, so logs stay readable.
 */
import type { Callback, TrainContext } from './callbacks.js'
import type { Logs } from './types.js'

interface Stream {
  isTTY?: boolean
  write(s: string): unknown
}

const proc = (globalThis as { process?: { stderr?: Stream; env?: Record<string, string | undefined> } }).process

/** True when a live progress bar is appropriate: stderr is a terminal and not in CI. */
export function interactiveTerminal(): boolean {
  return Boolean(proc?.stderr?.isTTY) && !proc?.env?.CI
}

export const formatLogs = (logs: Logs) =>
  Object.entries(logs)
    .map(([k, v]) => `${k} ${k === 'lr' ? v.toExponential(2) : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(4)}`)
    .join(' - ')

export interface ProgressOptions {
  /** Where plain per-epoch lines go (default console.log). */
  log?: (line: string) => void
  /** Force the live bar on or off (default: interactiveTerminal()). */
  bar?: boolean
}

export class ProgressBar implements Callback {
  private readonly log: (line: string) => void
  private readonly bar: boolean
  private start = 0
  private lastDraw = 0
  private seen = 0
  private lossSum = 0

  constructor({ log = (l) => console.log(l), bar = interactiveTerminal() }: ProgressOptions = {}) {
    this.log = log
    this.bar = bar && Boolean(proc?.stderr)
  }

  onEpochBegin(): void {
    this.start = Date.now()
    this.lastDraw = 0
    this.seen = 0
    this.lossSum = 0
  }

  onBatchEnd(batch: number, { loss, size }: { loss: number; size: number }, ctx: TrainContext): void {
    this.seen += size
    this.lossSum += loss * size
    if (!this.bar) return
    const now = Date.now()
    if (now - this.lastDraw < 100 && batch + 1 < ctx.batchesPerEpoch) return
    this.lastDraw = now
    const width = 30
    const done = Math.round((width * (batch + 1)) / ctx.batchesPerEpoch)
    const bar = '='.repeat(Math.max(0, done - 1)) + (done > 0 ? '>' : '') + ' '.repeat(width - done)
    const secs = (now - this.start) / 1000
    const eta = ((ctx.batchesPerEpoch - batch - 1) * secs) / (batch + 1)
    proc!.stderr!.write(
      `\r${ctx.history.epochs + 1}/${ctx.epochs} [${bar}] ${batch + 1}/${ctx.batchesPerEpoch} - ${secs.toFixed(0)}s (eta ${eta.toFixed(0)}s) - loss ${(this.lossSum / this.seen).toFixed(4)}`,
    )
  }

  onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): void {
    const secs = ((Date.now() - this.start) / 1000).toFixed(1)
    const line = `epoch ${epoch + 1}/${ctx.epochs} - ${secs}s - ${formatLogs(logs)}`
    if (this.bar) proc!.stderr!.write(`\r\x1b[2K${line}\n`)
    else this.log(line)
  }
}

/**
 * `fit`: the training loop people expect from Keras's compile/fit
 * (https://keras.io/api/models/model_training_apis/): epochs of shuffled
 * mini-batches, a validation pass after each epoch, callbacks (early stopping, learning-rate
 * schedule, progress), and a History of every logged value. `evaluate` and `predict` run a model
 * over data without recording gradients, in eval mode.
 *
 * One step is the textbook mini-batch SGD step (https://d2l.ai/chapter_optimization/minibatch-sgd.html): zero the
 * gradients, forward, loss, backward, optimizer.step().
 */
import { noGrad } from '../autograd.js'
import { ArgumentError } from '../errors.js'
import { concat } from '../ops/index.js'
import { ReduceLROnPlateau } from '../optim/plateau.js'
import { Tensor } from '../tensor.js'
import { DataLoader } from '../data/dataloader.js'
import { type Dataset, TensorDataset } from '../data/dataset.js'
import { type Callback, LRSchedulerCallback, type TrainContext } from './callbacks.js'
import { History } from './history.js'
import { type Metric, type MetricSpec, resolveMetrics } from './metric-specs.js'
import { ProgressBar, type ProgressOptions } from './progress.js'
import { type AnyModule, type Logs, type LossFn, type OptimizerLike, type SchedulerLike, currentLr } from './types.js'

/** Training or validation data: a DataLoader, a Dataset of [inputs..., target] items, or tensors [x, y]. */
export type DataInput = DataLoader<Tensor[]> | Dataset<Tensor[]> | Tensor[]

export interface FitOptions {
  trainData: DataInput
  valData?: DataInput
  /** Passes over the training data (default 10). */
  epochs?: number
  /** Mini-batch size when trainData is not a DataLoader (default 64). */
  batchSize?: number
  /** Shuffle the training data each epoch (default true; ignored for a DataLoader). */
  shuffle?: boolean
  /** Seed of the shuffling (default 0). */
  seed?: number
  /** loss(output, target); defaults to the model's own `loss` (the classic models have one). */
  loss?: LossFn
  optimizer: OptimizerLike
  /**
   * Stepped once per epoch, after validation (same as adding an LRSchedulerCallback); a
   * ReduceLROnPlateau receives `val_loss` (or `loss` without validation data).
   */
  scheduler?: SchedulerLike
  callbacks?: Callback[]
  /** Metrics logged per epoch, for training (from the outputs seen while training) and validation. */
  metrics?: MetricSpec[]
  /** true (default) shows progress: a live bar on a terminal, one line per epoch elsewhere. */
  verbose?: boolean
  /** Progress options (where lines go; forcing the bar on or off). */
  progress?: ProgressOptions
}

/** A DataLoader over the input (tensors are wrapped in a TensorDataset). */
export function toLoader(
  data: DataInput,
  opts: { batchSize?: number; shuffle?: boolean; seed?: number } = {},
): DataLoader<Tensor[]> {
  if (data instanceof DataLoader) return data
  const ds = Array.isArray(data) ? new TensorDataset(...data) : data
  return new DataLoader(ds, { batchSize: opts.batchSize ?? 64, shuffle: opts.shuffle ?? false, seed: opts.seed ?? 0 })
}

/** Split a batch [inputs..., target] into the model inputs and the target. */
function unpack(batch: Tensor[]): [Tensor[], Tensor] {
  if (batch.length < 2)
    throw new ArgumentError(`a training batch needs [inputs..., target], got ${batch.length} tensor(s)`)
  return [batch.slice(0, -1), batch[batch.length - 1]!]
}

function defaultLoss(model: AnyModule, loss?: LossFn): LossFn {
  if (loss) return loss
  const own = (model as unknown as { loss?: unknown }).loss
  if (typeof own === 'function') return own.bind(model) as LossFn
  throw new ArgumentError(`fit: no loss given and ${model.constructor.name} has no default loss; pass { loss }`)
}

/** Run one pass over `loader`, collecting outputs (when metrics need them) and the mean loss. */
function runEpoch(
  model: AnyModule,
  loader: DataLoader<Tensor[]>,
  loss: LossFn,
  metrics: Metric[],
  step: ((l: Tensor) => void) | null,
  onBatch?: (b: number, l: number, n: number) => void,
): Logs {
  let total = 0
  let count = 0
  const outs: Tensor[] = []
  const targets: Tensor[] = []
  let b = 0
  for (const batch of loader) {
    const [inputs, target] = unpack(batch)
    const out = model.call(...inputs)
    const l = loss(out, target)
    if (step) step(l)
    const n = target.shape[0] ?? 1
    const lv = l.item()
    total += lv * n
    count += n
    if (metrics.length) {
      outs.push(out.detach())
      targets.push(target)
    }
    onBatch?.(b++, lv, n)
  }
  if (count === 0)
    throw new ArgumentError(
      'the data yielded no batches (empty dataset, or dropLast with fewer samples than batchSize)',
    )
  const logs: Logs = { loss: total / count }
  if (metrics.length) {
    const [o, t] = noGrad(() => [concat(outs, 0), concat(targets, 0)])
    for (const m of metrics) logs[m.name] = m.fn(o!, t!)
  }
  return logs
}

/** Train `model` and return the per-epoch History. */
export function fit(model: AnyModule, opts: FitOptions): History {
  const { epochs = 10, batchSize = 64, shuffle = true, seed = 0, optimizer, verbose = true } = opts
  if (!Number.isInteger(epochs) || epochs < 0)
    throw new ArgumentError(`fit: epochs must be a non-negative integer, got ${epochs}`)
  if (!optimizer)
    throw new ArgumentError('fit: an optimizer is required, e.g. new optim.Adam(model.parameters(), { lr: 1e-3 })')
  const loss = defaultLoss(model, opts.loss)
  const metrics = resolveMetrics(opts.metrics ?? [])
  const train = toLoader(opts.trainData, { batchSize, shuffle, seed })
  const val = opts.valData ? toLoader(opts.valData, { batchSize: Math.max(batchSize, 256) }) : null
  const callbacks = [...(opts.callbacks ?? [])]
  if (opts.scheduler)
    callbacks.push(
      new LRSchedulerCallback(
        opts.scheduler,
        opts.scheduler instanceof ReduceLROnPlateau ? { monitor: val ? 'val_loss' : 'loss' } : {},
      ),
    )
  if (verbose) callbacks.push(new ProgressBar(opts.progress))
  const history = new History()
  const ctx: TrainContext = { model, optimizer, history, epochs, batchesPerEpoch: train.length, stopTraining: false }
  const step = (l: Tensor) => {
    optimizer.zeroGrad()
    l.backward()
    optimizer.step()
  }

  for (const c of callbacks) c.onTrainBegin?.(ctx)
  for (let epoch = 0; epoch < epochs && !ctx.stopTraining; epoch++) {
    const t0 = Date.now()
    for (const c of callbacks) c.onEpochBegin?.(epoch, ctx)
    model.train()
    const lr = currentLr(optimizer)
    const logs = runEpoch(model, train, loss, metrics, step, (b, l, n) => {
      for (const c of callbacks) c.onBatchEnd?.(b, { loss: l, size: n }, ctx)
    })
    if (val) for (const [k, v] of Object.entries(evaluate(model, val, { loss, metrics }))) logs[`val_${k}`] = v
    if (lr !== undefined) logs.lr = lr
    // Record before the callbacks run, so they (and early stopping) see this epoch in the history.
    history.record(logs, (Date.now() - t0) / 1000)
    for (const c of callbacks) c.onEpochEnd?.(epoch, logs, ctx)
  }
  for (const c of callbacks) c.onTrainEnd?.(ctx)
  return history
}

export interface EvaluateOptions {
  loss?: LossFn
  metrics?: (MetricSpec | Metric)[]
  /** Batch size when data is not a DataLoader (default 256). */
  batchSize?: number
}

/** Mean loss (and metrics) of `model` over `data`, in eval mode, without gradients. */
export function evaluate(model: AnyModule, data: DataInput, opts: EvaluateOptions = {}): Logs {
  const loss = defaultLoss(model, opts.loss)
  const metrics = resolveMetrics(opts.metrics ?? [])
  const loader = toLoader(data, { batchSize: opts.batchSize ?? 256 })
  return inEvalMode(model, () => runEpoch(model, loader, loss, metrics, null))
}

/**
 * The model's outputs for every sample, concatenated along axis 0, in eval mode and without
 * gradients. `x` is an input tensor (batched along axis 0), a Dataset or a DataLoader (whose items'
 * first tensor is the input).
 */
export function predict(
  model: AnyModule,
  x: Tensor | DataInput,
  { batchSize = 256 }: { batchSize?: number } = {},
): Tensor {
  const loader = toLoader(x instanceof Tensor ? [x] : x, { batchSize })
  return inEvalMode(model, () => {
    const outs: Tensor[] = []
    for (const batch of loader) outs.push(model.call(batch[0]!))
    return concat(outs, 0)
  })
}

function inEvalMode<T>(model: AnyModule, fn: () => T): T {
  const was = model.training
  model.eval()
  try {
    return noGrad(fn)
  } finally {
    model.train(was)
  }
}

/** Tensor factories. Random ones draw from the seedable default generator (`manualSeed`). */
import { type DType, allocate } from '../dtype.js'
import { ArgumentError } from '../errors.js'
import { type Generator, defaultGenerator } from '../random.js'
import { type Shape, sizeOf } from '../shape.js'
import { Tensor } from '../tensor.js'

type Opts = { dtype?: DType; requiresGrad?: boolean }

function make(shape: Shape, opts: Opts, fill: (d: ReturnType<typeof allocate>) => void): Tensor {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0)
      throw new ArgumentError(`shape ${JSON.stringify(shape)} must hold non-negative integers`)
  const data = allocate(opts.dtype ?? 'float32', sizeOf(shape))
  fill(data)
  const t = new Tensor(data, shape)
  if (opts.requiresGrad) t.requireGrad()
  return t
}

export const zeros = (shape: Shape, opts: Opts = {}) => make(shape, opts, () => {})
export const ones = (shape: Shape, opts: Opts = {}) => make(shape, opts, (d) => d.fill(1))
export const full = (shape: Shape, value: number, opts: Opts = {}) => make(shape, opts, (d) => d.fill(value))
export const eye = (n: number, opts: Opts = {}) =>
  make([n, n], opts, (d) => {
    for (let i = 0; i < n; i++) d[i * n + i] = 1
  })

/** start, start+step, ... < end (like torch.arange). */
export function arange(start: number, end?: number, step = 1, opts: Opts = {}): Tensor {
  if (end === undefined) [start, end] = [0, start]
  if (step === 0) throw new ArgumentError('arange: step cannot be 0')
  const n = Math.max(0, Math.ceil((end - start) / step))
  const allInt = [start, end, step].every(Number.isInteger)
  return make([n], { dtype: opts.dtype ?? (allInt ? 'int32' : 'float32'), requiresGrad: opts.requiresGrad }, (d) => {
    for (let i = 0; i < n; i++) d[i] = start + i * step
  })
}

export function linspace(start: number, end: number, steps: number, opts: Opts = {}): Tensor {
  return make([steps], opts, (d) => {
    for (let i = 0; i < steps; i++) d[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1)
  })
}

type ROpts = Opts & { generator?: Generator }
/** U[low, high) */
export const rand = (shape: Shape, opts: ROpts & { low?: number; high?: number } = {}) => {
  const g = opts.generator ?? defaultGenerator
  const lo = opts.low ?? 0
  const hi = opts.high ?? 1
  return make(shape, opts, (d) => g.uniformFill(d, lo, hi))
}
/** N(mean, std^2) */
export const randn = (shape: Shape, opts: ROpts & { mean?: number; std?: number } = {}) => {
  const g = opts.generator ?? defaultGenerator
  const m = opts.mean ?? 0
  const s = opts.std ?? 1
  return make(shape, opts, (d) => g.normalFill(d, m, s))
}
/** Integers in [low, high), int32. */
export const randint = (low: number, high: number, shape: Shape, opts: { generator?: Generator } = {}) => {
  const g = opts.generator ?? defaultGenerator
  return make(shape, { dtype: 'int32' }, (d) => {
    for (let i = 0; i < d.length; i++) d[i] = low + g.int(high - low)
  })
}
/** Bernoulli(p) draws as a float mask. */
export const bernoulli = (shape: Shape, p: number, opts: ROpts = {}) => {
  const g = opts.generator ?? defaultGenerator
  return make(shape, opts, (d) => {
    for (let i = 0; i < d.length; i++) d[i] = g.random() < p ? 1 : 0
  })
}

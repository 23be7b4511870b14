/**
 * Layers, losses and normalisation against PyTorch (float64), from fixtures/{mlp,losses,norm}.json
 * (scripts/gen_fixtures.py): forward values and the gradients of sum(y * gy) for a fixed upstream gy.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as nn from '../src/nn/index.js'
import {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  huberLoss,
  l1Loss,
  mseLoss,
  multiMarginLoss,
  nllLoss,
  smoothL1Loss,
  type Reduction,
} from '../src/ops/loss.js'
import { type Tensor, tensor } from '../src/tensor.js'

interface Fixed {
  shape: number[]
  data: number[]
}

const TOL = 1e-10
const read = <T>(name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T
const f64 = (f: Fixed) => tensor(Float64Array.from(f.data), { shape: f.shape })
const leaf = (f: Fixed) => f64(f).requireGrad()

function expectClose(got: Tensor | null, want: Fixed, what: string, tol = TOL): void {
  expect(got, what).not.toBeNull()
  expect(got!.shape, `${what} shape`).toEqual(want.shape)
  expect(got!.dtype, `${what} dtype`).toBe('float64')
  const g = got!.data
  let err = 0
  for (let i = 0; i < want.data.length; i++) err = Math.max(err, Math.abs(g[i]! - want.data[i]!))
  expect(err, `${what}: max abs error`).toBeLessThan(tol)
}

const nonEmpty = <T>(list: T[] | undefined, what: string): T[] => {
  if (!list?.length) throw new Error(`fixture has no ${what}: run scripts/gen_fixtures.py`)
  return list
}

// ---- MLP with each activation -----------------------------------------------------------------

interface MlpCase {
  name: string
  activation: string
  args: (number | string)[]
  params: Record<string, Fixed>
  x: Fixed
  y: Fixed
  gy: Fixed
  grads: Record<string, Fixed>
}

/** Each activation from the fixture's class name and PyTorch-ordered arguments. */
const activations: Record<string, (...a: any[]) => nn.Module> = {
  Sigmoid: () => new nn.Sigmoid(),
  Tanh: () => new nn.Tanh(),
  ReLU: () => new nn.ReLU(),
  LeakyReLU: (slope: number) => new nn.LeakyReLU(slope),
  PReLU: (n: number, init: number) => new nn.PReLU(n, init, { dtype: 'float64' }),
  ELU: (alpha?: number) => new nn.ELU(alpha),
  SELU: () => new nn.SELU(),
  SiLU: () => new nn.SiLU(),
  Mish: () => new nn.Mish(),
  GELU: (approximate: 'none' | 'tanh') => new nn.GELU(approximate),
  Softplus: (beta?: number, threshold?: number) => new nn.Softplus(beta, threshold),
  Hardsigmoid: () => new nn.Hardsigmoid(),
}

describe('golden: MLP Linear(5, 7) -> activation -> Linear(7, 3) (PyTorch)', () => {
  const cases = nonEmpty(read<{ cases: MlpCase[] }>('mlp.json').cases, 'MLP cases')

  it('covers every activation layer in nn', () => {
    expect(new Set(cases.map((c) => c.activation))).toEqual(new Set(Object.keys(activations)))
  })

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const make = activations[c.activation]
    if (!make) throw new Error(`no refnets activation for ${c.activation}`)
    const model = new nn.Sequential(
      new nn.Linear(5, 7, { dtype: 'float64' }),
      make(...c.args),
      new nn.Linear(7, 3, { dtype: 'float64' }),
    )
    model.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, f64(v)])))
    const x = leaf(c.x)
    const y = model.call(x)
    expectClose(y, c.y, 'y')
    y.mul(f64(c.gy)).sum().backward()
    expectClose(x.grad, c.grads.x!, 'dx')
    const params = Object.fromEntries(model.namedParameters())
    expect(Object.keys(params).sort()).toEqual(
      Object.keys(c.grads)
        .filter((k) => k !== 'x')
        .sort(),
    )
    for (const [k, p] of Object.entries(params)) expectClose(p.grad, c.grads[k]!, `d ${k}`)
  })
})

// ---- losses -----------------------------------------------------------------------------------

interface LossCase {
  name: string
  fn: string
  options: {
    reduction: Reduction
    delta?: number
    beta?: number
    ignoreIndex?: number
    labelSmoothing?: number
    margin?: number
  }
  tensors: { weight?: Fixed; posWeight?: Fixed }
  input: Fixed
  target: Fixed
  targetDtype: 'int32' | 'float64'
  y: Fixed
  gy: Fixed
  gx: Fixed
}

type LossFn = (x: Tensor, t: Tensor, o: LossCase['options'], w: { weight?: Tensor; posWeight?: Tensor }) => Tensor
const losses: Record<string, LossFn> = {
  mseLoss: (x, t, o) => mseLoss(x, t, o.reduction),
  l1Loss: (x, t, o) => l1Loss(x, t, o.reduction),
  huberLoss: (x, t, o) => huberLoss(x, t, o.delta, o.reduction),
  smoothL1Loss: (x, t, o) => smoothL1Loss(x, t, o.beta, o.reduction),
  binaryCrossEntropy: (x, t, o, w) => binaryCrossEntropy(x, t, { ...w, reduction: o.reduction }),
  binaryCrossEntropyWithLogits: (x, t, o, w) => binaryCrossEntropyWithLogits(x, t, { ...w, reduction: o.reduction }),
  crossEntropy: (x, t, o, w) => crossEntropy(x, t, { ...w, ...o }),
  nllLoss: (x, t, o, w) => nllLoss(x, t, { ...w, ...o }),
  multiMarginLoss: (x, t, o, w) => multiMarginLoss(x, t, { ...w, ...o }),
}

describe('golden: losses (PyTorch)', () => {
  const cases = nonEmpty(read<{ cases: LossCase[] }>('losses.json').cases, 'loss cases')

  it('covers every loss with every reduction', () => {
    for (const fn of Object.keys(losses))
      expect(new Set(cases.filter((c) => c.fn === fn).map((c) => c.options.reduction)), fn).toEqual(
        new Set(['mean', 'sum', 'none']),
      )
  })

  it.each(cases.map((c) => [`${c.fn}: ${c.name}`, c] as const))('%s', (_, c) => {
    const run = losses[c.fn]
    if (!run) throw new Error(`no refnets loss ${c.fn}`)
    const x = leaf(c.input)
    const target =
      c.targetDtype === 'int32' ? tensor(Int32Array.from(c.target.data), { shape: c.target.shape }) : f64(c.target)
    const w = Object.fromEntries(Object.entries(c.tensors).map(([k, v]) => [k, f64(v)]))
    const y = run(x, target, c.options, w)
    expectClose(y, c.y, 'loss')
    y.mul(f64(c.gy)).sum().backward()
    expectClose(x.grad, c.gx, 'd input')
  })
})

// ---- normalisation ----------------------------------------------------------------------------

interface Grads {
  x: Fixed
  y: Fixed
  gy: Fixed
  gx: Fixed
  gweight: Fixed
  gbias: Fixed
}
interface BatchNormCase {
  name: string
  numFeatures: number
  options: { momentum: number; eps: number }
  weight: Fixed
  bias: Fixed
  steps: (Grads & { runningMean: Fixed; runningVar: Fixed })[]
  eval: Grads
}
interface LayerNormCase extends Grads {
  name: string
  normalizedShape: number[]
  eps: number
  weight: Fixed
  bias: Fixed
}

/** Forward, backward sum(y * gy), compare output and the gradients of x, weight and bias. */
function checkAffine(m: nn.Module<[Tensor], Tensor> & { weight: Tensor | null; bias: Tensor | null }, c: Grads): void {
  m.zeroGrad()
  const x = leaf(c.x)
  const y = m.call(x)
  expectClose(y, c.y, 'y')
  y.mul(f64(c.gy)).sum().backward()
  expectClose(x.grad, c.gx, 'dx')
  expectClose(m.weight!.grad, c.gweight, 'd weight')
  expectClose(m.bias!.grad, c.gbias, 'd bias')
}

describe('golden: normalisation (PyTorch)', () => {
  const norm = read<{ batchNorm1d: BatchNormCase[]; layerNorm: LayerNormCase[] }>('norm.json')

  it.each(nonEmpty(norm.batchNorm1d, 'BatchNorm1d cases').map((c) => [c.name, c] as const))(
    'BatchNorm1d %s: three training steps, running statistics, then eval',
    (_, c) => {
      const bn = new nn.BatchNorm1d(c.numFeatures, { ...c.options, dtype: 'float64' })
      bn.loadStateDict({ ...bn.stateDict(), weight: f64(c.weight), bias: f64(c.bias) })
      for (const [i, step] of c.steps.entries()) {
        checkAffine(bn.train(), step)
        expectClose(bn.running_mean, step.runningMean, `running_mean after step ${i + 1}`)
        expectClose(bn.running_var, step.runningVar, `running_var after step ${i + 1}`)
      }
      expect(bn.num_batches_tracked!.item()).toBe(c.steps.length)
      checkAffine(bn.eval(), c.eval)
      // Eval leaves the running statistics alone.
      expectClose(bn.running_mean, c.steps.at(-1)!.runningMean, 'running_mean after eval')
    },
  )

  it.each(nonEmpty(norm.layerNorm, 'LayerNorm cases').map((c) => [c.name, c] as const))('LayerNorm %s', (_, c) => {
    const ln = new nn.LayerNorm(c.normalizedShape, { eps: c.eps, dtype: 'float64' })
    ln.loadStateDict({ weight: f64(c.weight), bias: f64(c.bias) })
    checkAffine(ln, c)
  })
})

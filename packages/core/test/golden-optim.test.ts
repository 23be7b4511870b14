/**
 * Optimisers and learning-rate schedules against PyTorch (float64), from fixtures/optim.json
 * (scripts/gen_fixtures.py): 20 steps of each optimiser configuration on a fixed objective, with
 * the parameters after every step, and 20 epochs of each schedule.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as optim from '../src/optim/index.js'
import { type Tensor, tensor } from '../src/tensor.js'

interface Fixed {
  shape: number[]
  data: number[]
}
interface OptimCase {
  name: string
  optimizer: 'SGD' | 'AdaGrad' | 'RMSProp' | 'Adam' | 'AdamW'
  options: Record<string, number | boolean> & { lr: number }
  /** The objective before each step. */
  losses: number[]
  /** The parameters (flat) after each step. */
  params: Record<'u' | 'v' | 'W', number[]>[]
}
type SchedulerOptions = Record<string, unknown>
interface SchedulerCase {
  name: string
  scheduler: string
  options: SchedulerOptions
  baseLr: number
  /** The learning rate in epochs 0, 1, ... */
  lrs: number[]
}
interface Fixtures {
  objective: { S: Fixed; T: Fixed; init: Record<'u' | 'v' | 'W', Fixed> }
  optimizers: OptimCase[]
  schedulers: SchedulerCase[]
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/optim.json', import.meta.url), 'utf8')) as Fixtures
const f64 = (f: Fixed) => tensor(Float64Array.from(f.data), { shape: f.shape })
const cases = <T extends { name: string }>(list: T[] | undefined, what: string) => {
  if (!list?.length) throw new Error(`fixtures/optim.json has no ${what}: run scripts/gen_fixtures.py`)
  return list.map((c) => [c.name, c] as const)
}

/** Max |got - want| / max(1, |want|): relative for large values, absolute near zero. */
function maxRelErr(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length)
  let err = 0
  for (let i = 0; i < want.length; i++)
    err = Math.max(err, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)))
  return err
}

// ---- optimisers -------------------------------------------------------------------------------

const S = f64(fixtures.objective.S)
const T = f64(fixtures.objective.T)
/** f = sum((1 - u)^2) + 5 sum((v - u^2)^2) + sum(S (W - T)^2): Rosenbrock valleys plus a quadratic. */
const objective = (u: Tensor, v: Tensor, W: Tensor) =>
  u
    .neg()
    .add(1)
    .square()
    .sum()
    .add(v.sub(u.square()).square().sum().mul(5))
    .add(S.mul(W.sub(T).square()).sum())

const optimizers: Record<OptimCase['optimizer'], (ps: Tensor[], o: OptimCase['options']) => optim.Optimizer<any>> = {
  SGD: (ps, o) => new optim.SGD(ps, o),
  AdaGrad: (ps, o) => new optim.AdaGrad(ps, o),
  RMSProp: (ps, o) => new optim.RMSProp(ps, o),
  Adam: (ps, o) => new optim.Adam(ps, o),
  AdamW: (ps, o) => new optim.AdamW(ps, o),
}

describe('golden: optimisers, 20 steps (PyTorch)', () => {
  it('covers every optimiser', () => {
    expect(new Set(fixtures.optimizers.map((c) => c.optimizer))).toEqual(new Set(Object.keys(optimizers)))
  })

  it.each(cases(fixtures.optimizers, 'optimizer cases'))('%s', (_, c) => {
    const init = fixtures.objective.init
    const u = f64(init.u).requireGrad()
    const v = f64(init.v).requireGrad()
    const W = f64(init.W).requireGrad()
    const opt = optimizers[c.optimizer]([u, v, W], c.options)
    for (const [i, want] of c.params.entries()) {
      opt.zeroGrad()
      const loss = objective(u, v, W)
      expect(
        Math.abs(loss.item() - c.losses[i]!) / Math.max(1, Math.abs(c.losses[i]!)),
        `loss before step ${i + 1}`,
      ).toBeLessThan(1e-10)
      loss.backward()
      opt.step()
      for (const [name, p] of [
        ['u', u],
        ['v', v],
        ['W', W],
      ] as const)
        expect(maxRelErr(p.data as Float64Array, want[name]), `${name} after step ${i + 1}`).toBeLessThan(1e-10)
    }
    // The run made progress: the fixture is not a fixed point.
    expect(c.losses.at(-1)!).toBeLessThan(c.losses[0]!)
  })
})

// ---- schedules --------------------------------------------------------------------------------

type Make = (opt: optim.Optimizer<any>, o: SchedulerOptions) => optim.LRScheduler
const schedulers: Record<string, Make> = {
  StepLR: (opt, o) => new optim.StepLR(opt, o as { stepSize: number; gamma?: number }),
  ExponentialLR: (opt, o) => new optim.ExponentialLR(opt, o as { gamma: number }),
  InverseTimeLR: (opt, o) => new optim.InverseTimeLR(opt, o as { decay: number }),
  CosineAnnealingLR: (opt, o) => new optim.CosineAnnealingLR(opt, o as { tMax: number; etaMin?: number }),
  LinearLR: (opt, o) => new optim.LinearLR(opt, o as optim.LinearLROptions),
  LinearWarmup: (opt, o) => new optim.LinearWarmup(opt, o as { warmupEpochs: number; startFactor?: number }),
  SequentialLR: (opt, o) => {
    const parts = (o.schedulers as [string, SchedulerOptions][]).map(([name, po]) => schedulers[name]!(opt, po))
    return new optim.SequentialLR(opt, parts, o.milestones as number[])
  },
}

describe('golden: learning-rate schedules, 20 epochs (PyTorch)', () => {
  it.each(cases(fixtures.schedulers, 'scheduler cases'))('%s', (_, c) => {
    const make = schedulers[c.scheduler]
    if (!make) throw new Error(`no refnets scheduler ${c.scheduler}`)
    const p = tensor([0], { dtype: 'float64' }).requireGrad()
    const opt = new optim.SGD([p], { lr: c.baseLr })
    const sched = make(opt, c.options)
    const lrs: number[] = []
    for (let e = 0; e < c.lrs.length; e++) {
      lrs.push(sched.getLr()[0]!)
      opt.step()
      sched.step()
    }
    expect(maxRelErr(lrs, c.lrs)).toBeLessThan(1e-12)
    expect(opt.paramGroups[0]!.lr).toBe(sched.getLr()[0])
  })
})

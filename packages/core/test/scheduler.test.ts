import { describe, expect, it } from 'vitest'
import { ArgumentError } from '../src/errors.js'
import { Parameter } from '../src/nn/module.js'
import { tensor } from '../src/tensor.js'
import { Adam } from '../src/optim/adam.js'
import { ReduceLROnPlateau } from '../src/optim/plateau.js'
import {
  CosineAnnealingLR,
  ExponentialLR,
  InverseTimeLR,
  LRScheduler,
  LambdaLR,
  LinearLR,
  LinearWarmup,
  SequentialLR,
  StepLR,
} from '../src/optim/scheduler.js'
import { SGD } from '../src/optim/sgd.js'

const p = () => new Parameter(tensor([1], { dtype: 'float64' }))
const sgd = (lr = 0.1) => new SGD([p()], { lr })

/** getLr()[0] at epochs 0..n (construction is epoch 0). */
function lrs(s: { step(): void; getLr(): number[] }, n: number): number[] {
  const out = [s.getLr()[0]!]
  for (let e = 0; e < n; e++) {
    s.step()
    out.push(s.getLr()[0]!)
  }
  return out
}

const close = (a: number[], b: number[]) =>
  a.forEach((v, i) => {
    expect(v).toBeCloseTo(b[i]!, 14)
  })

describe('learning-rate schedules', () => {
  it('StepLR multiplies by gamma every stepSize epochs', () => {
    close(lrs(new StepLR(sgd(1), { stepSize: 2, gamma: 0.5 }), 5), [1, 1, 0.5, 0.5, 0.25, 0.25])
  })

  it('ExponentialLR: lr0 gamma^epoch', () => {
    close(lrs(new ExponentialLR(sgd(2), { gamma: 0.95 }), 3), [2, 1.9, 1.805, 1.71475])
  })

  it('InverseTimeLR: lr0 / (1 + decay epoch) (CS231n 1/t decay)', () => {
    close(lrs(new InverseTimeLR(sgd(0.2), { decay: 1 }), 3), [0.2, 0.1, 0.2 / 3, 0.05])
  })

  it('CosineAnnealingLR goes from lr0 to etaMin in tMax epochs along a half cosine, then back up', () => {
    const v = lrs(new CosineAnnealingLR(sgd(1), { tMax: 4, etaMin: 0.2 }), 8)
    close(v, [
      1,
      0.2 + (0.8 * (1 + Math.SQRT1_2)) / 2,
      0.6,
      0.2 + (0.8 * (1 - Math.SQRT1_2)) / 2,
      0.2,
      v[3]!,
      0.6,
      v[1]!,
      1,
    ])
  })

  it('LinearLR and LinearWarmup ramp linearly then hold', () => {
    close(lrs(new LinearLR(sgd(0.3)), 6), [0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.3])
    close(lrs(new LinearLR(sgd(1), { startFactor: 1, endFactor: 0.5, totalIters: 2 }), 3), [1, 0.75, 0.5, 0.5])
    close(lrs(new LinearWarmup(sgd(1), { warmupEpochs: 3, startFactor: 0.25 }), 4), [0.25, 0.5, 0.75, 1, 1])
    expect(() => new LinearLR(sgd(), { startFactor: 0 })).toThrow(ArgumentError)
  })

  it('LambdaLR multiplies the base rate by the function of the epoch', () => {
    close(lrs(new LambdaLR(sgd(0.5), (e) => 1 / (e + 1)), 3), [0.5, 0.25, 0.5 / 3, 0.125])
  })

  it('SequentialLR: warm-up, then a decay restarted at its own epoch 0', () => {
    const opt = sgd(1)
    const s = new SequentialLR(
      opt,
      [new LinearWarmup(opt, { warmupEpochs: 2, startFactor: 0.5 }), new StepLR(opt, { stepSize: 1, gamma: 0.5 })],
      [2],
    )
    close(lrs(s, 4), [0.5, 0.75, 1, 0.5, 0.25])
    expect(() => new SequentialLR(opt, [new StepLR(opt, { stepSize: 1 })], [3])).toThrow(/expected 0 milestones/)
  })

  it('schedules every parameter group from its own base rate; a second scheduler keeps the first base', () => {
    const opt = new SGD(
      [
        { params: [p()], lr: 1 },
        { params: [p()], lr: 0.01 },
      ],
      { lr: 0.1 },
    )
    const s = new StepLR(opt, { stepSize: 1, gamma: 0.1 })
    s.step()
    expect(s.getLr()).toEqual([0.1, 0.001])
    expect(opt.paramGroups.map((g) => g.initialLr)).toEqual([1, 0.01])
    const again = new ExponentialLR(opt, { gamma: 0.5 })
    expect(again.baseLrs).toEqual([1, 0.01])
  })

  it('the optimiser uses the scheduled rate', () => {
    const w = p()
    const opt = new SGD([w], { lr: 1 })
    const s = new StepLR(opt, { stepSize: 1, gamma: 0.5 })
    s.step()
    w.grad = tensor([1], { dtype: 'float64' })
    opt.step()
    expect(w.item()).toBe(0.5)
  })

  it('state dict round trip resumes the schedule', () => {
    const a = new CosineAnnealingLR(sgd(1), { tMax: 10 })
    for (let i = 0; i < 3; i++) a.step()
    const b = new CosineAnnealingLR(sgd(1), { tMax: 10 })
    b.loadStateDict(a.stateDict())
    expect(b.getLr()).toEqual(a.getLr())
    a.step()
    b.step()
    expect(b.getLr()).toEqual(a.getLr())
    expect(b).toBeInstanceOf(LRScheduler)
  })
})

describe('ReduceLROnPlateau', () => {
  it('reduces after more than `patience` epochs without improvement, then cools down', () => {
    const opt = new Adam([p()], { lr: 1 })
    const s = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5, cooldown: 1 })
    const seen: number[] = []
    for (const loss of [1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1]) {
      s.step(loss)
      seen.push(s.getLr()[0]!)
    }
    // bad epochs: e2 (1), e3 (2 > 1: reduce, cooldown 1), e4 (cooldown), e5 (1), e6 (2: reduce), ...
    expect(seen).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
  })

  it("mode 'max' for accuracies, minLr as a floor, threshold as a relative margin", () => {
    const opt = new SGD([p()], { lr: 1 })
    const s = new ReduceLROnPlateau(opt, { mode: 'max', patience: 0, factor: 0.1, minLr: 0.05, threshold: 0.1 })
    s.step(0.5)
    expect(s.getLr()).toEqual([1])
    s.step(0.54) // not better than 0.5 * 1.1
    expect(s.getLr()).toEqual([0.1])
    s.step(0.54)
    expect(s.getLr()).toEqual([0.05])
    expect(() => s.step()).toThrow(/needs the monitored value/)
  })
})

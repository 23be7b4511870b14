import { describe, expect, it } from 'vitest'
import { ArgumentError, ShapeError, StateDictError } from '../src/errors.js'
import { Parameter } from '../src/nn/module.js'
import { tensor } from '../src/tensor.js'
import type { Tensor } from '../src/tensor.js'
import { Adam, AdamW } from '../src/optim/adam.js'
import { AdaGrad } from '../src/optim/adagrad.js'
import { RMSProp } from '../src/optim/rmsprop.js'
import { SGD } from '../src/optim/sgd.js'

const param = (v: number[]) => new Parameter(tensor(v, { dtype: 'float64' }))
const setGrad = (p: Tensor, g: number[]) => (p.grad = tensor(g, { dtype: 'float64' }))
const vals = (p: Tensor) => [...p.data]

describe('Optimizer: parameter groups', () => {
  it('a plain list becomes one group with the defaults', () => {
    const opt = new SGD([param([1]), param([2])], { lr: 0.1, momentum: 0.9 })
    expect(opt.paramGroups).toHaveLength(1)
    expect(opt.paramGroups[0]).toMatchObject({ lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false })
    expect(opt.paramGroups[0]!.params).toHaveLength(2)
  })

  it('groups override the defaults per group and keep the rest', () => {
    const body = param([1])
    const head = param([1])
    const opt = new SGD([{ params: [body], lr: 1e-4 }, { params: [head] }], { lr: 0.1, momentum: 0.5 })
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([
      [1e-4, 0.5],
      [0.1, 0.5],
    ])
    setGrad(body, [1])
    setGrad(head, [1])
    opt.step()
    expect(vals(body)).toEqual([1 - 1e-4])
    expect(vals(head)).toEqual([1 - 0.1])
  })

  it('rejects empty lists, repeated parameters, non-float tensors and bad hyperparameters', () => {
    const p = param([1])
    expect(() => new SGD([], { lr: 0.1 })).toThrow(ArgumentError)
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/more than one group/)
    expect(() => new SGD([tensor([1, 2], { dtype: 'int32' })], { lr: 0.1 })).toThrow(/float tensors/)
    expect(() => new SGD([p], { lr: -1 })).toThrow(/lr must be >= 0/)
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum/)
    expect(() => new Adam([p], { beta1: 1 })).toThrow(/beta1 must be in \[0, 1\)/)
    expect(() => new RMSProp([p], { alpha: -0.5 })).toThrow(ArgumentError)
  })

  it('skips parameters without a gradient; zeroGrad clears gradients', () => {
    const a = param([1, 2])
    const b = param([3])
    const opt = new Adam([a, b], { lr: 0.1 })
    setGrad(a, [1, 1])
    opt.step()
    expect(vals(b)).toEqual([3])
    expect(opt.state.has(b)).toBe(false)
    expect(vals(a)[0]).toBeCloseTo(0.9, 7)
    opt.zeroGrad()
    expect(a.grad).toBeNull()
  })

  it('a gradient of the wrong shape is a ShapeError', () => {
    const a = param([1, 2])
    a.grad = tensor([1, 2, 3], { dtype: 'float64' })
    expect(() => new SGD([a], { lr: 0.1 }).step()).toThrow(ShapeError)
  })

  it('updates float32 parameters in place, keeping the storage', () => {
    const p = new Parameter(tensor([1, -1], { dtype: 'float32' }))
    const storage = p.storage
    p.grad = tensor([0.5, 0.5], { dtype: 'float32' })
    new SGD([p], { lr: 0.1 }).step()
    expect(p.storage).toBe(storage)
    expect(vals(p)).toEqual([Math.fround(0.95), Math.fround(-1.05)])
  })
})

describe('update rules on hand-computed steps', () => {
  it('SGD: w - lr g, with L2 weight decay added to the gradient', () => {
    const p = param([1, 2])
    const opt = new SGD([p], { lr: 0.1, weightDecay: 0.5 })
    setGrad(p, [0.5, -1])
    opt.step()
    // g + wd w = [1, 0]
    expect(vals(p)).toEqual([1 - 0.1 * 1, 2 - 0.1 * 0])
  })

  it('SGD momentum: v = g first, then rho v + g; nesterov steps along g + rho v', () => {
    const p = param([0])
    const q = param([0])
    const heavy = new SGD([p], { lr: 1, momentum: 0.9 })
    const nest = new SGD([q], { lr: 1, momentum: 0.9, nesterov: true })
    for (const g of [1, 1]) {
      setGrad(p, [g])
      setGrad(q, [g])
      heavy.step()
      nest.step()
    }
    // heavy ball: v1 = 1, v2 = 1.9 -> w = -2.9; nesterov: d1 = 1 + 0.9, d2 = 1 + 0.9 * 1.9
    expect(vals(p)[0]).toBeCloseTo(-2.9, 14)
    expect(vals(q)[0]).toBeCloseTo(-(1.9 + 1 + 0.9 * 1.9), 14)
  })

  it('SGD dampening scales the gradient added to the buffer (not the first one)', () => {
    const p = param([0])
    const opt = new SGD([p], { lr: 1, momentum: 0.5, dampening: 0.5 })
    setGrad(p, [2])
    opt.step() // v = 2
    opt.step() // v = 0.5 * 2 + 0.5 * 2 = 2
    expect(vals(p)).toEqual([-4])
  })

  it('Adam: the bias-corrected first step is lr * g / (|g| + eps)', () => {
    const p = param([1, 1])
    const opt = new Adam([p], { lr: 0.01 })
    setGrad(p, [3, -1e-3])
    opt.step()
    expect(vals(p)[0]).toBeCloseTo(1 - 0.01 * (3 / (3 + 1e-8)), 15)
    expect(vals(p)[1]).toBeCloseTo(1 + 0.01 * (1e-3 / (1e-3 + 1e-8)), 15)
    expect(opt.state.get(p)!.step).toBe(1)
  })

  it('Adam: eps is added after the bias correction (outside the square root)', () => {
    // With a tiny gradient, eps dominates: step = lr * g / (|g| + eps), not lr * g / (|g| + eps * sqrt(1 - beta2)).
    const p = param([0])
    const opt = new Adam([p], { lr: 1, eps: 1e-3 })
    setGrad(p, [1e-3])
    opt.step()
    expect(vals(p)[0]).toBeCloseTo(-0.5, 12)
  })

  it('AMSGrad normalises by the running maximum of v', () => {
    const p = param([0])
    const q = param([0])
    const ams = new Adam([p], { lr: 0.1, amsgrad: true })
    const plain = new Adam([q], { lr: 0.1 })
    for (const g of [10, 0.1, 0.1]) {
      setGrad(p, [g])
      setGrad(q, [g])
      ams.step()
      plain.step()
    }
    const st = ams.state.get(p)!
    const v = (st.expAvgSq as Tensor).item()
    expect((st.maxExpAvgSq as Tensor).item()).toBeGreaterThan(v)
    // A larger denominator: AMSGrad moved less.
    expect(Math.abs(vals(p)[0]!)).toBeLessThan(Math.abs(vals(q)[0]!))
  })

  it('AdamW decays the weights directly: with a zero gradient w <- w (1 - lr wd)', () => {
    const p = param([2])
    const q = param([2])
    const adamw = new AdamW([p], { lr: 0.1 })
    const adamL2 = new Adam([q], { lr: 0.1, weightDecay: 0.01 })
    expect(adamw.paramGroups[0]!.weightDecay).toBe(0.01)
    setGrad(p, [0])
    setGrad(q, [0])
    adamw.step()
    adamL2.step()
    expect(vals(p)).toEqual([2 * (1 - 0.1 * 0.01)])
    // Adam's L2 term goes through the normalisation: a full lr-sized step.
    expect(vals(q)[0]).toBeCloseTo(2 - 0.1, 6)
  })

  it('AdaGrad: s += g^2, w -= lr g / (sqrt(s) + eps), eps 1e-10 by default', () => {
    const p = param([0])
    const opt = new AdaGrad([p], { lr: 0.1 })
    expect(opt.paramGroups[0]!.eps).toBe(1e-10)
    setGrad(p, [3])
    opt.step()
    setGrad(p, [4])
    opt.step()
    expect(vals(p)[0]).toBeCloseTo(-0.1 * (3 / (3 + 1e-10)) - 0.1 * (4 / (5 + 1e-10)), 15)
    const decayed = param([0])
    const opt2 = new AdaGrad([decayed], { lr: 0.1, lrDecay: 1, eps: 1e-7 })
    setGrad(decayed, [3])
    opt2.step()
    opt2.step()
    // second step: clr = lr / (1 + 1 * 1), s = 18
    expect(vals(decayed)[0]).toBeCloseTo(-0.1 * (3 / (3 + 1e-7)) - 0.05 * (3 / (Math.sqrt(18) + 1e-7)), 15)
  })

  it('RMSProp: s = alpha s + (1 - alpha) g^2; centered subtracts the squared mean; momentum accumulates', () => {
    const p = param([0])
    const opt = new RMSProp([p], { lr: 0.01 })
    setGrad(p, [2])
    opt.step()
    expect(vals(p)[0]).toBeCloseTo(-0.01 * (2 / (Math.sqrt(0.01 * 4) + 1e-8)), 15)

    const c = param([0])
    const cent = new RMSProp([c], { lr: 0.01, centered: true, momentum: 0.9 })
    setGrad(c, [2])
    cent.step()
    const avg = Math.sqrt(0.01 * 4 - 0.02 * 0.02) + 1e-8
    expect(vals(c)[0]).toBeCloseTo(-0.01 * (2 / avg), 15)
    cent.step()
    const s2 = 0.99 * 0.04 + 0.04
    const m2 = 0.99 * 0.02 + 0.02
    const b2 = 0.9 * (2 / avg) + 2 / (Math.sqrt(s2 - m2 * m2) + 1e-8)
    expect(vals(c)[0]).toBeCloseTo(-0.01 * (2 / avg) - 0.01 * b2, 14)
  })
})

describe('optimiser state dict', () => {
  const run = (opt: { step(): void }, ps: Tensor[], steps: number, t0: number) => {
    for (let t = t0; t < t0 + steps; t++) {
      ps.forEach((p, i) => {
        setGrad(
          p,
          [...p.data].map((w, j) => Math.sin(w + t + i + j)),
        )
      })
      opt.step()
    }
  }

  it.each([
    ['SGD', (ps: Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ['AdaGrad', (ps: Tensor[]) => new AdaGrad(ps, { lr: 0.1 })],
    ['RMSProp', (ps: Tensor[]) => new RMSProp(ps, { lr: 0.01, momentum: 0.5, centered: true })],
    ['Adam', (ps: Tensor[]) => new Adam(ps, { lr: 0.1, amsgrad: true })],
    ['AdamW', (ps: Tensor[]) => new AdamW(ps, { lr: 0.1 })],
  ])('%s: save after 3 steps, load into a fresh optimiser, the next steps agree exactly', (_, make) => {
    const a = [param([0.5, -1]), param([2])]
    const optA = make(a)
    run(optA, a, 3, 0)
    const sd = optA.stateDict()
    const b = a.map((p) => new Parameter(p.clone()))
    const optB = make(b)
    optB.loadStateDict(sd)
    run(optA, a, 2, 3)
    run(optB, b, 2, 3)
    expect(b.map(vals)).toEqual(a.map(vals))
    // The snapshot is a copy: stepping on did not change it.
    const c = a.map((p) => new Parameter(p.clone()))
    const optC = make(c)
    optC.loadStateDict(sd)
    expect(optC.stateDict()).toEqual(sd)
  })

  it('restores hyperparameters and numbers parameters in group order', () => {
    const a = param([1])
    const b = param([1, 2])
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1, momentum: 0.9 })
    setGrad(a, [1])
    setGrad(b, [1, 1])
    opt.step()
    const sd = opt.stateDict()
    expect(sd.paramGroups.map((g) => g.params)).toEqual([[0], [1]])
    expect(Object.keys(sd.state)).toEqual(['0', '1'])
    const opt2 = new SGD([{ params: [param([0])] }, { params: [param([0, 0])] }], { lr: 9 })
    opt2.loadStateDict(sd)
    expect(opt2.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5])
    expect(opt2.paramGroups[1]!.momentum).toBe(0.9)
  })

  it('a state dict that does not fit raises StateDictError and changes nothing', () => {
    const a = param([1, 2])
    const opt = new Adam([a], { lr: 0.1 })
    setGrad(a, [1, 1])
    opt.step()
    const before = opt.stateDict()
    const other = new Adam([param([1, 2, 3])], { lr: 0.2 })
    setGrad(other.paramGroups[0]!.params[0]!, [1, 1, 1])
    other.step()
    expect(() => opt.loadStateDict(other.stateDict())).toThrow(StateDictError)
    expect(() => opt.loadStateDict({ state: {}, paramGroups: [] })).toThrow(/expected 1 parameter groups, got 0/)
    expect(opt.stateDict()).toEqual(before)
  })
})

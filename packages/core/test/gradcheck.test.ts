/**
 * Every differentiable op and layer passes gradcheck in float64: the relative error between the
 * autograd gradient and two-sided finite differences is below 1e-7 ("correct" in Ng's
 * Deep Learning course, https://www.coursera.org/learn/deep-neural-network).
 * Inputs avoid kinks (ReLU at 0, |x| at 0, max ties) where the derivative is not defined. Every
 * float64 input is checked (losses too with respect to targets, class weights and posWeight), and
 * each input's error is asserted on its own.
 */
import { describe, expect, it } from 'vitest'
import * as F from '../src/ops/index.js'
import { type Tensor, gradcheck, manualSeed, nn, noGrad, tensor } from '../src/index.js'
import { DTypeError } from '../src/errors.js'
import { Generator } from '../src/random.js'
import { expectGradOk } from './helpers/grad.js'

const g = new Generator(7)
/** float64 values in (lo, hi) away from 0 by at least `gap`. */
const rnd = (shape: number[], lo = -2, hi = 2, gap = 0.05) =>
  tensor(
    Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
      let v = 0
      do v = lo + (hi - lo) * g.random()
      while (Math.abs(v) < gap)
      return v
    }),
    { shape },
  )
const pos = (shape: number[]) => rnd(shape, 0.2, 2)
const idx = (values: number[], shape = [values.length]) => tensor(Int32Array.from(values), { shape })
const f64 = <M extends nn.Module<any, any>>(m: M): M => {
  for (const p of m.parameters()) p.storage.set(rnd([...p.shape]).data as Float64Array)
  return m
}

/**
 * The course's relative error for the parameter gradients of a module, one per parameter: autograd
 * p.grad against two-sided differences of L = sum(m(x) * R), perturbing each element in place.
 */
function paramGradErrors(m: nn.Module<any, any>, x: Tensor, eps = 1e-6): Record<string, number> {
  const y0 = m.call(x)
  const R = rnd([...y0.shape])
  const loss = () => (m.call(x) as Tensor).mul(R).sum()
  m.zeroGrad()
  loss().backward()
  const out: Record<string, number> = {}
  for (const [name, p] of m.namedParameters()) {
    const d = p.storage as Float64Array
    const g = p.grad!.data
    let diff = 0
    let a = 0
    let n = 0
    for (let k = 0; k < d.length; k++) {
      const orig = d[k]!
      d[k] = orig + eps
      const fp = noGrad(() => loss().item())
      d[k] = orig - eps
      const fm = noGrad(() => loss().item())
      d[k] = orig
      const num = (fp - fm) / (2 * eps)
      diff += (g[k]! - num) ** 2
      a += g[k]! ** 2
      n += num ** 2
    }
    out[name] = Math.sqrt(diff) / (Math.sqrt(a) + Math.sqrt(n))
  }
  return out
}

type Case = [name: string, fn: (...xs: Tensor[]) => Tensor, inputs: () => Tensor[]]

const ops: Case[] = [
  ['neg', (x) => F.neg(x), () => [rnd([3, 4])]],
  ['abs', (x) => F.abs(x), () => [rnd([3, 4])]],
  ['exp', (x) => F.exp(x), () => [rnd([3, 4])]],
  ['log', (x) => F.log(x), () => [pos([3, 4])]],
  ['sqrt', (x) => F.sqrt(x), () => [pos([3, 4])]],
  ['sin/cos', (x) => F.sin(x).add(F.cos(x)), () => [rnd([5])]],
  ['tanh', (x) => F.tanh(x), () => [rnd([3, 4])]],
  ['sigmoid', (x) => F.sigmoid(x), () => [rnd([3, 4])]],
  ['relu', (x) => F.relu(x), () => [rnd([3, 4])]],
  ['leakyRelu', (x) => F.leakyRelu(x, 0.01), () => [rnd([3, 4])]],
  ['elu', (x) => F.elu(x, 1.3), () => [rnd([3, 4])]],
  ['selu', (x) => F.selu(x), () => [rnd([3, 4])]],
  ['gelu', (x) => F.gelu(x), () => [rnd([3, 4])]],
  ['gelu tanh', (x) => F.gelu(x, 'tanh'), () => [rnd([3, 4])]],
  ['geluGrad (GELU twice differentiated: x and dy)', (x, dy) => F.geluGrad(dy!, x!), () => [rnd([3, 4]), rnd([3, 4])]],
  ['erf', (x) => F.erf(x), () => [rnd([3, 4])]],
  ['softplus', (x) => F.softplus(x), () => [rnd([3, 4])]],
  ['silu', (x) => F.silu(x), () => [rnd([3, 4])]],
  ['mish', (x) => F.mish(x), () => [rnd([3, 4])]],
  ['prelu', (x, a) => F.prelu(x, a!), () => [rnd([2, 3, 4]), rnd([3, 1])]],
  ['hardSigmoid', (x) => F.hardSigmoid(x), () => [rnd([3, 4], -2, 2, 0.1)]],
  ['reciprocal', (x) => F.reciprocal(x), () => [pos([3, 4])]],
  ['add (broadcast)', (a, b) => a!.add(b!), () => [rnd([3, 4]), rnd([4])]],
  ['sub (broadcast)', (a, b) => a!.sub(b!), () => [rnd([3, 1]), rnd([1, 4])]],
  ['mul (broadcast)', (a, b) => a!.mul(b!), () => [rnd([2, 3, 4]), rnd([3, 1])]],
  ['div', (a, b) => a!.div(b!), () => [rnd([3, 4]), pos([3, 4])]],
  ['pow', (a, b) => a!.pow(b!), () => [pos([3, 4]), rnd([3, 4])]],
  ['maximum/minimum', (a, b) => F.maximum(a!, b!).add(F.minimum(a!, b!.mul(2))), () => [rnd([3, 4]), rnd([3, 4])]],
  ['where', (a, b) => F.where(a!.gt(b!), a!.mul(2), b!), () => [rnd([3, 4]), rnd([3, 4])]],
  ['clamp', (x) => F.clamp(x, -1, 1), () => [rnd([3, 4])]],
  ['matmul', (a, b) => F.matmul(a!, b!), () => [rnd([3, 4]), rnd([4, 5])]],
  ['matmul batched broadcast', (a, b) => F.matmul(a!, b!), () => [rnd([2, 3, 4]), rnd([4, 2])]],
  ['matmul vector', (a, b) => F.matmul(a!, b!), () => [rnd([4]), rnd([4, 3])]],
  ['linear', (x, w, b) => F.linear(x!, w!, b!), () => [rnd([5, 4]), rnd([3, 4]), rnd([3])]],
  ['sum axes', (x) => x.sum([0, 2]), () => [rnd([2, 3, 4])]],
  ['mean keepdims', (x) => x.mean(1, true), () => [rnd([2, 3, 4])]],
  ['max', (x) => x.max(1), () => [rnd([3, 5])]],
  ['min', (x) => x.min(0), () => [rnd([3, 5])]],
  ['prod', (x) => F.prod(x, 1), () => [rnd([3, 4])]],
  ['variance', (x) => x.variance(1, false, 1), () => [rnd([3, 5])]],
  ['cumsum', (x) => F.cumsum(x, 1), () => [rnd([3, 4])]],
  ['reshape/transpose/permute', (x) => x.permute(2, 0, 1).reshape(4, 6).transpose(0, 1), () => [rnd([2, 3, 4])]],
  ['expand', (x) => x.expand(3, 2, 4), () => [rnd([2, 1])]],
  ['slice step', (x) => x.slice(1, 1, 6, 2), () => [rnd([3, 7])]],
  ['slice negative step', (x) => F.sliceAxes(x, [-1], [-7], [1], [-2]), () => [rnd([3, 7])]],
  [
    'concat/stack/split',
    (a, b) => {
      const c = F.concat([a!, b!], 1)
      const [p, q] = F.split(c, [2, 5], 1)
      return F.stack([p!.sum(1), q!.sum(1)], 0)
    },
    () => [rnd([3, 4]), rnd([3, 3])],
  ],
  ['pad constant', (x) => F.pad(x, [1, 0, 2, 1], 'constant', 0.5), () => [rnd([3, 4])]],
  ['gather', (x) => F.gather(x, 1, idx([0, 2, 2, 1])), () => [rnd([3, 4])]],
  ['gatherElements', (x) => F.gatherElements(x, 1, idx([0, 2, 1, 1, 3, 0], [3, 2])), () => [rnd([3, 4])]],
  ['scatterAdd', (b, u) => F.scatterAdd(b!, 1, idx([0, 2, 0, 1, 3, 3], [3, 2]), u!), () => [rnd([3, 4]), rnd([3, 2])]],
  ['softmax', (x) => F.softmax(x, 1), () => [rnd([3, 5])]],
  ['logSoftmax', (x) => F.logSoftmax(x, 0), () => [rnd([3, 5])]],
  ['logSumExp', (x) => F.logSumExp(x, -1), () => [rnd([3, 5])]],
  ['mul by a scalar', (x) => x.mul(3), () => [rnd([2, 2])]],
  [
    'batchNorm eval (N, C, H, W): input, running mean and variance, weight, bias',
    (x, m, v, w, b) => F.batchNorm(x!, m!, v!, w!, b!, { training: false, eps: 1e-3 }),
    () => [rnd([2, 3, 2, 3]), rnd([3]), pos([3]), rnd([3]), rnd([3])],
  ],
  [
    'batchNorm eval without weight and bias',
    (x, m, v) => F.batchNorm(x!, m!, v!, null, null, { training: false }),
    () => [rnd([4, 3]), rnd([3]), pos([3])],
  ],
]

const target = () => rnd([4, 3])
const classes = () => idx([0, 2, 1, 2])
const losses: Case[] = [
  ['mseLoss', (x, t) => F.mseLoss(x!, t!), () => [rnd([4, 3]), target()]],
  ['l1Loss', (x, t) => F.l1Loss(x!, t!), () => [rnd([4, 3]), target()]],
  ['huberLoss', (x, t) => F.huberLoss(x!, t!, 0.7), () => [rnd([4, 3], -3, 3), rnd([4, 3], -0.01, 0.01, 0)]],
  ['smoothL1Loss', (x, t) => F.smoothL1Loss(x!, t!, 0.7), () => [rnd([4, 3], -3, 3), rnd([4, 3], -0.01, 0.01, 0)]],
  ['binaryCrossEntropy', (x, t) => F.binaryCrossEntropy(x!, t!), () => [rnd([4, 3], 0.05, 0.95), rnd([4, 3], 0, 1)]],
  [
    'binaryCrossEntropyWithLogits posWeight',
    (x, t, w) => F.binaryCrossEntropyWithLogits(x!, t!, { posWeight: w }),
    () => [rnd([4, 3]), rnd([4, 3], 0, 1), pos([3])],
  ],
  ['crossEntropy', (x) => F.crossEntropy(x, classes()), () => [rnd([4, 3])]],
  [
    'crossEntropy smoothing+weight+ignore',
    (x, w) => F.crossEntropy(x!, idx([0, -100, 1, 2]), { weight: w, labelSmoothing: 0.1 }),
    () => [rnd([4, 3]), pos([3])],
  ],
  ['nllLoss', (x) => F.nllLoss(F.logSoftmax(x, 1), classes(), { reduction: 'sum' }), () => [rnd([4, 3])]],
  ['multiMarginLoss', (x) => F.multiMarginLoss(x, classes()), () => [rnd([4, 3])]],
]

const layers: [string, () => nn.Module<any, any>, number[]][] = [
  ['Linear', () => new nn.Linear(4, 3, { dtype: 'float64' }), [5, 4]],
  ['PReLU', () => new nn.PReLU(3, 0.25, { dtype: 'float64' }), [2, 3, 4]],
  ['Softplus beta 2', () => new nn.Softplus(2, 20), [3, 4]],
  ['BatchNorm1d train', () => new nn.BatchNorm1d(3, { dtype: 'float64' }), [5, 3]],
  ['BatchNorm1d train (N, C, L)', () => new nn.BatchNorm1d(3, { dtype: 'float64' }), [2, 3, 4]],
  ['BatchNorm1d eval', () => new nn.BatchNorm1d(3, { dtype: 'float64' }).eval(), [5, 3]],
  ['LayerNorm', () => new nn.LayerNorm([4], { dtype: 'float64' }), [3, 4]],
  ['LayerNorm 2-D shape', () => new nn.LayerNorm([2, 3], { dtype: 'float64' }), [2, 2, 3]],
  ['Embedding', () => new nn.Embedding(5, 3, { dtype: 'float64' }), []],
]

describe('gradcheck (float64, relative error < 1e-7)', () => {
  it.each(ops)('%s', (_, fn, inputs) => {
    const xs = inputs()
    const r = gradcheck(fn, xs)
    expect(r.wrt).toEqual(xs.map((_, i) => i))
    expectGradOk(r)
  })

  it.each(losses)('loss %s (every float input: scores, soft targets, weights)', (_, fn, inputs) => {
    const xs = inputs()
    const r = gradcheck(fn, xs)
    expect(r.wrt).toEqual(xs.map((_, i) => i))
    expectGradOk(r)
  })

  it('cast float64 -> float32 -> float64 routes the gradient back through both casts', () => {
    // NOTE: dyadic inputs and a power-of-two eps, so x +- eps is exact in float32 and the finite
    // difference of this linear map is exact: the check can reach 1e-7 through a float32 value.
    const x = tensor(
      Float64Array.from({ length: 6 }, (_, i) => (i - 2.5) / 8),
      { shape: [2, 3] },
    )
    const r = gradcheck((v) => v!.to('float32').mul(3).to('float64'), [x], { eps: 2 ** -6 })
    expectGradOk(r)
  })

  it.each(layers)('layer %s (input and every parameter)', (name, make, shape) => {
    const m = f64(make())
    const params = m.parameters()
    if (name === 'Embedding') {
      const ids = idx([1, 4, 4, 0])
      expectGradOk(gradcheck((w) => F.embeddingLookup(w!, ids), [params[0]!.detach()]))
      return
    }
    expectGradOk(gradcheck((x) => m.call(x), [rnd(shape)]))
    if (m.parameters().length)
      for (const [p, e] of Object.entries(paramGradErrors(m, rnd(shape))))
        expect(e, `gradient of ${p}`).toBeLessThan(1e-7)
  })

  it('dropout with a fixed mask', () => {
    const x = rnd([4, 5])
    const r = gradcheck(
      (v) => {
        manualSeed(3)
        return F.dropout(v!, 0.3, true)
      },
      [x],
    )
    expectGradOk(r)
  })
})

describe('gradcheck itself', () => {
  it('refuses a call with nothing float64 to check', () => {
    expect(() => gradcheck((x) => x!.mul(2), [tensor([1, 2, 3])])).toThrow(DTypeError)
    expect(() => gradcheck((x) => x!.mul(2), [tensor([1, 2, 3])])).toThrow(/at least one float64 input/)
    expect(() => gradcheck(() => tensor([1]), [])).toThrow(DTypeError)
    expect(() => gradcheck((x) => x!.mul(2), [rnd([3])], { wrt: [] })).toThrow(/wrt is empty/)
    expect(() => gradcheck((x) => x!.mul(2), [rnd([3])], { wrt: [1] })).toThrow(/not an input/)
  })

  it("fails on a small input's wrong gradient even when the combined error is small", () => {
    // The gradient of the tiny input b is dropped (detach): its own error is 1, but b's share of
    // the combined error is small next to a's large, correct gradient.
    const a = rnd([20, 20])
    const b = tensor(Float64Array.of(0.3), { shape: [1] })
    const r = gradcheck((x, y) => x!.mul(1000).add(y!.detach().mul(1e-5)).add(y!.mul(0)), [a, b])
    expect(r.relError).toBeLessThan(1e-7)
    expect(r.perInput[1]).toBeGreaterThan(0.5)
    expect(r.ok).toBe(false)
  })
})

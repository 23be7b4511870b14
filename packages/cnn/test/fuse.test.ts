/** fuseConvBn: evaluation-mode batch norm folded into the convolution before it, checked on the model's output. */
import { ArgumentError, Module, type Tensor, manualSeed, nn, noGrad, randn } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { BatchNorm2d, Conv2d, fuseConvBn, resnet18 } from '../src/index.js'

/** Running statistics and affine parameters away from their initial values, so that folding has work to do. */
function randomiseBatchNorms(model: Module<any, any>): void {
  noGrad(() => {
    for (const [, m] of model.namedModules())
      if (m instanceof BatchNorm2d) {
        const c = m.running_mean!.size
        m.running_mean!.storage.set(randn([c]).mul(0.5).data)
        m.running_var!.storage.set(randn([c]).abs().add(0.5).data)
        m.weight!.storage.set(randn([c]).mul(0.3).add(1).data)
        m.bias!.storage.set(randn([c]).mul(0.2).data)
      }
  })
}
const count = (model: Module<any, any>, type: abstract new (...a: any[]) => unknown) =>
  [...model.namedModules()].filter(([, m]) => m instanceof type).length
const maxDiff = (a: Tensor, b: Tensor) => Math.max(...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]!)))

describe('fuseConvBn', () => {
  it('folds all 20 batch norms of ResNet-18 into their convolutions; the output is unchanged to float32 rounding', () => {
    manualSeed(3)
    const model = resnet18({ numClasses: 10 })
    randomiseBatchNorms(model)
    model.eval()
    const x = randn([2, 3, 64, 64])
    const before = noGrad(() => model.call(x))
    expect(fuseConvBn(model, x)).toBe(20)
    expect(count(model, BatchNorm2d)).toBe(0)
    expect(count(model, nn.Identity)).toBe(20)
    // Every convolution now has a bias (ResNet's have none of their own).
    for (const [, m] of model.namedModules()) if (m instanceof Conv2d) expect(m.bias).not.toBeNull()
    const after = noGrad(() => model.call(x))
    const scale = Math.max(...Array.from(before.data, Math.abs))
    expect(maxDiff(after, before)).toBeLessThan(2e-5 * scale)
    // Another input gives the original model's answer too, and a second fold finds nothing left.
    expect(fuseConvBn(model, randn([1, 3, 64, 64]))).toBe(0)
  })

  it('is exact in float64: conv(x; W s, b s + t) = bn(conv(x; W, b))', () => {
    const conv = new Conv2d(3, 4, 3, { padding: 1, dtype: 'float64' })
    const bn = new BatchNorm2d(4, { dtype: 'float64' })
    const model = new nn.Sequential(conv, bn, new nn.ReLU())
    randomiseBatchNorms(model)
    model.eval()
    const x = randn([2, 3, 5, 5], { dtype: 'float64' })
    const before = noGrad(() => model.call(x))
    expect(fuseConvBn(model, x)).toBe(1)
    expect(model.layers[1]).toBeInstanceOf(nn.Identity)
    expect(
      maxDiff(
        noGrad(() => model.call(x)),
        before,
      ),
    ).toBeLessThan(1e-12)
  })

  it('refuses a model in training mode, and changes nothing', () => {
    const model = new nn.Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4))
    const w = model.parameters().map((p) => p.data.slice())
    expect(() => fuseConvBn(model, randn([1, 3, 8, 8]))).toThrow(ArgumentError)
    expect(() => fuseConvBn(model, randn([1, 3, 8, 8]))).toThrow(/evaluation mode/)
    expect(model.parameters().map((p) => p.data)).toEqual(w)
    expect(model.layers[1]).toBeInstanceOf(BatchNorm2d)
  })

  it('leaves the model as it was when a convolution output is used beyond its batch norm', () => {
    class Skip extends Module<[Tensor], Tensor> {
      conv = new Conv2d(3, 3, 3, { padding: 1 })
      bn = new BatchNorm2d(3)
      forward(x: Tensor): Tensor {
        const y = this.conv.call(x)
        return this.bn.call(y).add(y)
      }
    }
    const model = new Skip()
    randomiseBatchNorms(model)
    model.eval()
    const x = randn([1, 3, 6, 6])
    const before = noGrad(() => model.call(x))
    const w = model.conv.weight.data.slice()
    expect(() => fuseConvBn(model, x)).toThrow(/used elsewhere too, so nothing was folded/)
    expect(model.bn).toBeInstanceOf(BatchNorm2d)
    expect(model.conv.weight.data).toEqual(w)
    expect(model.conv.bias).not.toBeNull()
    expect(
      maxDiff(
        noGrad(() => model.call(x)),
        before,
      ),
    ).toBe(0)
  })
})

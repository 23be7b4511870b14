import { Generator, ShapeError, Tensor, manualSeed, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { Conv2d } from '../src/layers/index.js'
import {
  FeatureExtractor,
  contentLoss,
  gramMatrix,
  styleLoss,
  styleTransfer,
  totalVariationLoss,
  vggFeatures,
} from '../src/style.js'

function seeded(shape: number[], seed: number): Tensor {
  const g = new Generator(seed)
  return new Tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => g.random()),
    shape,
  )
}

describe('losses', () => {
  it('gramMatrix: channel correlations divided by C H W', () => {
    // Two channels over two positions: F = [[1, 2], [3, 4]], F F^T = [[5, 11], [11, 25]], / (2 * 1 * 2).
    const f = tensor([[[[1, 2]], [[3, 4]]]])
    expect(gramMatrix(f).toArray()).toEqual([
      [
        [1.25, 2.75],
        [2.75, 6.25],
      ],
    ])
    expect(gramMatrix(f, { normalize: false }).toArray()).toEqual([
      [
        [5, 11],
        [11, 25],
      ],
    ])
    expect(gramMatrix(tensor([[[1, 2]], [[3, 4]]])).shape).toEqual([2, 2])
    // Against a direct sum on random features, batch of 2.
    const x = seeded([2, 3, 4, 5], 1)
    const g = gramMatrix(x)
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          let s = 0
          for (let p = 0; p < 20; p++) s += x.data[(b * 3 + i) * 20 + p]! * x.data[(b * 3 + j) * 20 + p]!
          expect(g.data[(b * 3 + i) * 3 + j]).toBeCloseTo(s / 60, 5)
        }
    expect(() => gramMatrix(tensor([1, 2]))).toThrow(ShapeError)
  })

  it('totalVariationLoss: zero on flat images, half the mean absolute step otherwise', () => {
    expect(totalVariationLoss(new Tensor(new Float32Array(12).fill(0.3), [1, 3, 2, 2])).item()).toBe(0)
    // Columns 0 and 1 differ by 1 in every row; rows are equal: 0.5 * (0 + 1).
    const x = tensor([
      [
        [
          [0, 1],
          [0, 1],
        ],
      ],
    ])
    expect(totalVariationLoss(x).item()).toBeCloseTo(0.5, 7)
    // Vertical steps of 2 and horizontal steps of 1: L1 0.5 (2 + 1), squared 0.5 (4 + 1).
    const y = tensor([
      [
        [0, 1, 2],
        [2, 3, 4],
      ],
    ])
    expect(totalVariationLoss(y).item()).toBeCloseTo(1.5, 6)
    expect(totalVariationLoss(y, { squared: true }).item()).toBeCloseTo(2.5, 6)
    const z = seeded([1, 1, 4, 4], 2).requireGrad()
    totalVariationLoss(z).backward()
    expect(z.grad!.shape).toEqual([1, 1, 4, 4])
    expect(() => totalVariationLoss(tensor([[[1, 2]]]))).toThrow(ShapeError)
  })

  it('content and style losses are zero at the target and positive elsewhere', () => {
    const a = seeded([1, 4, 3, 3], 3)
    const b = seeded([1, 4, 3, 3], 4)
    expect(contentLoss(a, a).item()).toBe(0)
    expect(contentLoss(a, b).item()).toBeGreaterThan(0)
    expect(styleLoss(a, gramMatrix(a)).item()).toBe(0)
    expect(styleLoss(a, gramMatrix(b)).item()).toBeGreaterThan(0)
    // The Gram matrix ignores where things are: a mirrored image has the same style.
    const mirrored = new Tensor(
      Float32Array.from(a.data, (_, i) => a.data[i - (i % 3) + 2 - (i % 3)]!),
      a.shape,
    )
    expect(styleLoss(mirrored, gramMatrix(a)).item()).toBeCloseTo(0, 10)
  })
})

describe('vggFeatures and FeatureExtractor', () => {
  it('builds torchvision-numbered feature layers and returns the chosen activations', () => {
    const net = vggFeatures([
      [1, 4],
      [2, 8],
    ])
    // conv, relu, pool | conv, relu, conv, relu, pool
    expect(net.layers.length).toBe(8)
    expect(net.layers[0]).toBeInstanceOf(Conv2d)
    expect(Object.keys(net.stateDict())).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '5.weight', '5.bias'])
    const ext = new FeatureExtractor(net, [5, 0])
    const [f5, f0] = ext.extract(seeded([2, 3, 8, 8], 5))
    expect(f5!.shape).toEqual([2, 8, 4, 4])
    expect(f0!.shape).toEqual([2, 4, 8, 8])
    expect(() => new FeatureExtractor(net, [8])).toThrow()
  })
})

describe('styleTransfer', () => {
  it('optimises the image: the losses fall, the network stays fixed, pixels stay in [0, 1]', () => {
    manualSeed(0)
    const net = vggFeatures([
      [1, 8],
      [1, 16],
    ])
    const before = Object.fromEntries(Object.entries(net.stateDict()).map(([k, v]) => [k, Array.from(v.data)]))
    // Content: a smooth diagonal gradient; style: red and blue vertical stripes.
    const s = 16
    const content = new Tensor(
      Float32Array.from({ length: 3 * s * s }, (_, i) => ((i % s) + (Math.floor(i / s) % s)) / (2 * s)),
      [1, 3, s, s],
    )
    const style = new Tensor(
      Float32Array.from({ length: 3 * s * s }, (_, i) => {
        const c = Math.floor(i / (s * s))
        const stripe = Math.floor((i % s) / 2) % 2
        return c === 0 ? stripe : c === 2 ? 1 - stripe : 0.2
      }),
      [1, 3, s, s],
    )
    const steps: number[] = []
    const { image, history } = styleTransfer({
      net,
      content,
      style,
      contentLayers: [3],
      styleLayers: [0, 3],
      styleWeight: 1e3,
      tvWeight: 1,
      steps: 15,
      lr: 0.02,
      onStep: (k) => steps.push(k),
    })
    expect(steps).toEqual(Array.from({ length: 15 }, (_, i) => i + 1))
    expect(image.shape).toEqual([1, 3, s, s])
    for (const v of image.data) expect(v >= 0 && v <= 1).toBe(true)
    const first = history[0]!
    const last = history[history.length - 1]!
    expect(last.total).toBeLessThan(0.7 * first.total)
    expect(last.style).toBeLessThan(first.style)
    expect(Array.from(image.data)).not.toEqual(Array.from(content.data))
    for (const [k, v] of Object.entries(net.stateDict())) expect(Array.from(v.data)).toEqual(before[k])
    expect(net.parameters().every((p) => !p.requiresGrad)).toBe(true)
    expect(() => styleTransfer({ net, content: content.reshape(3, s, s), style })).toThrow(ShapeError)
  })
})

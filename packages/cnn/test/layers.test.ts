/**
 * The layers' behaviour: numbers against direct-loop references and hand-computed values, PyTorch's
 * names and layouts, train/eval modes, the DropBlock schedule, and typed errors for bad input.
 * Gradients are checked in layers-gradcheck.test.ts, PyTorch parity in golden-layers.test.ts.
 */
import {
  ArgumentError,
  Generator,
  ShapeError,
  type Tensor,
  arange,
  fromArray,
  manualSeed,
  noGrad,
  ones,
  randn,
  tensor,
} from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  DropBlock,
  Dropout2d,
  GlobalAvgPool2d,
  LocalResponseNorm,
  MaxPool2d,
  type ConvTranspose2dOptions,
  bilinearKernel,
  conv2dOutputShape,
  conv2dOutputSize,
  conv2dParameterCount,
  convTranspose2dOutputSize,
  countParameters,
  pool2dOutputSize,
} from '../src/index.js'
import { type RefConvTransposeOptions, conv2dRef, convTranspose2dRef, maxAbsDiff } from './helpers/reference.js'

const f64 = (shape: number[], seed = 1) => randn(shape, { dtype: 'float64', generator: new Generator(seed) })
const values = (t: Tensor) => Array.from(t.data as Float64Array, Number)

describe('Conv2d', () => {
  it('has PyTorch’s parameter names and layouts, grouped weights (C_out, C_in / groups, kH, kW)', () => {
    const conv = new Conv2d(6, 12, [3, 5], { groups: 3 })
    expect(Object.fromEntries(Object.entries(conv.stateDict()).map(([k, t]) => [k, t.shape]))).toEqual({
      weight: [12, 2, 3, 5],
      bias: [12],
    })
    expect(Object.keys(new Conv2d(4, 4, 3, { bias: false }).stateDict())).toEqual(['weight'])
  })

  it('initialises like PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias', () => {
    manualSeed(3)
    const conv = new Conv2d(8, 16, 3, { groups: 2 })
    const bound = 1 / Math.sqrt(4 * 9)
    for (const t of [conv.weight, conv.bias!]) {
      const v = values(t.to('float64'))
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound)
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.8 * bound)
    }
  })

  // [name, options, padding per side for the reference]
  const cases: [string, ConstructorParameters<typeof Conv2d>[3] & object, [number, number, number, number], number][] =
    [
      ['padding 1', { padding: 1 }, [1, 1, 1, 1], 1],
      ['stride 2, valid', { stride: 2, padding: 'valid' }, [0, 0, 0, 0], 1],
      ['stride [2, 3], padding [1, 0]', { stride: [2, 3], padding: [1, 0] }, [1, 0, 1, 0], 1],
      ['padding per side [top 2, left 0, bottom 1, right 3]', { padding: [2, 0, 1, 3] }, [2, 0, 1, 3], 1],
      ['dilation 2, padding 2', { dilation: 2, padding: 2 }, [2, 2, 2, 2], 1],
      ['groups 2', { groups: 2, padding: 1 }, [1, 1, 1, 1], 2],
      ['depthwise (groups = C_in)', { groups: 4, padding: 1 }, [1, 1, 1, 1], 4],
    ]
  it.each(cases)('%s matches the direct-loop convolution', (_, opts, pads) => {
    manualSeed(5)
    const conv = new Conv2d(4, 8, 3, { ...opts, dtype: 'float64' })
    const x = f64([2, 4, 9, 10])
    const y = noGrad(() => conv.call(x))
    const ref = conv2dRef(x, conv.weight, conv.bias, {
      stride:
        typeof opts.stride === 'number' || !opts.stride
          ? [opts.stride ?? 1, opts.stride ?? 1]
          : [opts.stride[0], opts.stride[1]],
      pads,
      dilation: [(opts.dilation as number) ?? 1, (opts.dilation as number) ?? 1],
      groups: opts.groups ?? 1,
    })
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-12)
    expect(y.shape).toEqual(
      conv2dOutputShape(x.shape, 8, 3, {
        stride: opts.stride ?? 1,
        padding: opts.padding ?? 0,
        dilation: opts.dilation ?? 1,
      }),
    )
  })

  it("'same' padding keeps ceil(n / stride) for any stride, the extra row and column at the end (ONNX SAME_UPPER)", () => {
    const x = f64([1, 2, 11, 8])
    for (const [k, s] of [
      [3, 1],
      [4, 1],
      [3, 2],
      [4, 2],
      [5, 3],
    ] as const) {
      const conv = new Conv2d(2, 3, k, { stride: s, padding: 'same', dtype: 'float64' })
      const y = noGrad(() => conv.call(x))
      expect(y.shape).toEqual([1, 3, Math.ceil(11 / s), Math.ceil(8 / s)])
      const total = (n: number) => Math.max(0, (Math.ceil(n / s) - 1) * s + k - n)
      const [th, tw] = [total(11), total(8)]
      const pads: [number, number, number, number] = [
        Math.floor(th / 2),
        Math.floor(tw / 2),
        th - Math.floor(th / 2),
        tw - Math.floor(tw / 2),
      ]
      expect(maxAbsDiff(y, conv2dRef(x, conv.weight, conv.bias, { stride: [s, s], pads }))).toBeLessThan(1e-12)
    }
  })

  it('rejects bad channels and inputs with typed errors that say what was expected', () => {
    expect(() => new Conv2d(6, 8, 3, { groups: 4 })).toThrow(ArgumentError)
    expect(() => new Conv2d(6, 8, 3, { groups: 4 })).toThrow(/divisible by groups \(4\)/)
    expect(() => new Conv2d(0, 8, 3)).toThrow(/positive integers/)
    expect(() => new ConvTranspose2d(4, 6, 3, { groups: 4 })).toThrow(ArgumentError)
    const conv = new Conv2d(3, 4, 3)
    expect(() => conv.call(randn([1, 5, 8, 8]))).toThrow(ShapeError)
    expect(() => conv.call(randn([1, 5, 8, 8]))).toThrow(/3/)
    expect(conv.call(randn([3, 8, 8])).shape).toEqual([4, 6, 6]) // unbatched (C, H, W), as PyTorch
    expect(() => conv.call(randn([8, 8]))).toThrow(ShapeError)
    expect(() => conv.call(randn([1, 3, 2, 2]))).toThrow(/smaller than the kernel/)
    expect(() => conv2dOutputShape([3, 8, 8], 4, 3)).toThrow(ShapeError)
  })
})

describe('ConvTranspose2d', () => {
  it('has weight (C_in, C_out / groups, kH, kW) and matches the scatter definition', () => {
    manualSeed(2)
    const cases: [ConvTranspose2dOptions, RefConvTransposeOptions][] = [
      [
        { stride: 2, padding: 1, outputPadding: 1 },
        { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] },
      ],
      [
        { stride: [3, 2], padding: [0, 1] },
        { stride: [3, 2], padding: [0, 1] },
      ],
      [
        { stride: 2, groups: 2 },
        { stride: [2, 2], groups: 2 },
      ],
    ]
    for (const [opts, ref] of cases) {
      const up = new ConvTranspose2d(4, 6, 3, { ...opts, dtype: 'float64' })
      expect(up.weight.shape).toEqual([4, 6 / (opts.groups ?? 1), 3, 3])
      const x = f64([2, 4, 5, 4])
      const y = noGrad(() => up.call(x))
      expect(maxAbsDiff(y, convTranspose2dRef(x, up.weight, up.bias, ref))).toBeLessThan(1e-12)
    }
  })

  it('with the bilinear kernel upsamples like bilinear interpolation (FCN)', () => {
    // d2l 13.11: kernel 4, factor 2, center 1.5 -> the tent [0.25, 0.75, 0.75, 0.25] in each direction.
    const k = bilinearKernel(2, 2, 4, 'float64')
    const tent = [0.25, 0.75, 0.75, 0.25]
    expect(values(k).slice(0, 16)).toEqual(tent.flatMap((a) => tent.map((b) => a * b)))
    expect(
      values(k)
        .slice(16, 32)
        .every((v) => v === 0),
    ).toBe(true) // channel 0 -> 1 is zero
    const up = new ConvTranspose2d(2, 2, 4, { stride: 2, padding: 1, bias: false, dtype: 'float64' })
    up.weight.storage.set(k.storage)
    // A linear ramp along W stays a ramp: interior outputs are the linear interpolation at half steps.
    const x = fromArray(
      Float64Array.from({ length: 2 * 4 * 6 }, (_, i) => i % 6),
      [1, 2, 4, 6],
    )
    const y = noGrad(() => up.call(x))
    expect(y.shape).toEqual([1, 2, 8, 12])
    const row = values(y).slice(3 * 12, 4 * 12) // an interior row of channel 0
    // output column q samples the input at (q - 0.5) / 2
    for (let q = 1; q < 11; q++) expect(row[q]).toBeCloseTo((q - 0.5) / 2, 12)
  })
})

describe('pooling', () => {
  const x = arange(0, 2 * 25, 1, { dtype: 'float64' }).reshape([1, 2, 5, 5])

  it('MaxPool2d ceil mode keeps the last partial window; floor mode drops it', () => {
    expect(noGrad(() => new MaxPool2d(2).call(x)).shape).toEqual([1, 2, 2, 2])
    const y = noGrad(() => new MaxPool2d(2, { ceilMode: true }).call(x))
    expect(y.shape).toEqual([1, 2, 3, 3])
    expect(values(y).slice(0, 9)).toEqual([6, 8, 9, 16, 18, 19, 21, 23, 24])
  })

  it('AvgPool2d divides by the window inside the padding unless countIncludePad is false', () => {
    const inc = noGrad(() => new AvgPool2d(3, { stride: 2, padding: 1 }).call(x))
    const exc = noGrad(() => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }).call(x))
    expect(inc.shape).toEqual([1, 2, 3, 3])
    // top-left window covers rows 0-1, cols 0-1 of the image: 0 + 1 + 5 + 6 = 12
    expect(values(inc)[0]).toBeCloseTo(12 / 9, 12)
    expect(values(exc)[0]).toBeCloseTo(12 / 4, 12)
    // centre window lies inside the image: both divide by 9
    expect(values(inc)[4]).toBeCloseTo(values(exc)[4]!, 12)
    // ceil mode with countIncludePad false: the clipped last window divides by its size inside the image
    const ceil = noGrad(() => new AvgPool2d(2, { ceilMode: true, countIncludePad: false }).call(x))
    expect(values(ceil)[2]).toBeCloseTo((4 + 9) / 2, 12)
  })

  it('AdaptiveAvgPool2d uses PyTorch’s windows [floor(i n / o), ceil((i + 1) n / o)); GlobalAvgPool2d is the mean', () => {
    const y = noGrad(() => new AdaptiveAvgPool2d([2, 3]).call(x))
    expect(y.shape).toEqual([1, 2, 2, 3])
    // rows [0, 3), cols [0, 2): mean of 0, 1, 5, 6, 10, 11
    expect(values(y)[0]).toBeCloseTo((0 + 1 + 5 + 6 + 10 + 11) / 6, 12)
    // rows [2, 5), cols [1, 4)
    expect(values(y)[4]).toBeCloseTo([11, 12, 13, 16, 17, 18, 21, 22, 23].reduce((a, b) => a + b) / 9, 12)
    const g = noGrad(() => new GlobalAvgPool2d().call(x))
    expect(g.shape).toEqual([1, 2, 1, 1])
    expect(values(g)).toEqual([12, 37])
    expect(new GlobalAvgPool2d().parameters()).toEqual([])
  })
})

describe('BatchNorm2d', () => {
  it('normalises each channel over (B, H, W) in training and updates the running statistics', () => {
    const bn = new BatchNorm2d(3, { dtype: 'float64' })
    expect(Object.keys(bn.stateDict()).sort()).toEqual([
      'bias',
      'num_batches_tracked',
      'running_mean',
      'running_var',
      'weight',
    ])
    const x = f64([4, 3, 5, 5]).mul(2).add(1)
    const y = noGrad(() => bn.call(x))
    for (let c = 0; c < 3; c++) {
      const ch = y.slice(1, c, c + 1)
      expect(ch.mean().item()).toBeCloseTo(0, 10)
      expect(ch.square().mean().item()).toBeCloseTo(1, 4) // biased variance, eps 1e-5
      const xc = x.slice(1, c, c + 1)
      const m = xc.mean().item()
      const unbiased = xc.sub(m).square().sum().item() / (4 * 25 - 1)
      expect(bn.running_mean!.data[c]).toBeCloseTo(0.1 * m, 12)
      expect(bn.running_var!.data[c]).toBeCloseTo(0.9 + 0.1 * unbiased, 12)
    }
    bn.eval()
    const z = noGrad(() => bn.call(x))
    const expected = x
      .sub(bn.running_mean!.reshape([1, 3, 1, 1]))
      .div(bn.running_var!.reshape([1, 3, 1, 1]).add(1e-5).sqrt())
    expect(maxAbsDiff(z, expected)).toBeLessThan(1e-12)
    expect(() => bn.call(randn([2, 4, 3, 3], { dtype: 'float64' }))).toThrow(ShapeError)
  })
})

describe('LocalResponseNorm', () => {
  it('divides by (k + alpha / n * sum of squares over n neighbouring channels)^beta', () => {
    const x = f64([1, 6, 2, 2])
    const lrn = new LocalResponseNorm(3, { alpha: 0.3, beta: 0.75, k: 2 })
    const y = values(noGrad(() => lrn.call(x)))
    const v = values(x)
    for (let c = 0; c < 6; c++)
      for (let p = 0; p < 4; p++) {
        let s = 0
        for (let d = Math.max(0, c - 1); d <= Math.min(5, c + 1); d++) s += v[d * 4 + p]! ** 2
        expect(y[c * 4 + p]).toBeCloseTo(v[c * 4 + p]! / (2 + (0.3 / 3) * s) ** 0.75, 12)
      }
    expect(lrn.parameters()).toEqual([])
  })
})

describe('Dropout2d', () => {
  it('zeroes whole channels with probability p and scales the rest by 1 / (1 - p); identity in eval', () => {
    const drop = new Dropout2d(0.25, new Generator(11))
    const x = ones([50, 40, 3, 3], { dtype: 'float64' })
    const y = values(drop.call(x))
    let dropped = 0
    for (let ch = 0; ch < 50 * 40; ch++) {
      const plane = y.slice(ch * 9, ch * 9 + 9)
      expect(new Set(plane).size).toBe(1) // the whole channel shares one mask value
      expect([0, 1 / 0.75]).toContain(plane[0])
      if (plane[0] === 0) dropped++
    }
    expect(dropped / 2000).toBeGreaterThan(0.22)
    expect(dropped / 2000).toBeLessThan(0.28)
    drop.eval()
    expect(drop.call(x)).toBe(x)
    expect(() => new Dropout2d(1)).toThrow(ArgumentError)
    expect(() => drop.call(ones([2, 3]))).toThrow(ShapeError)
  })
})

describe('DropBlock', () => {
  it('grows the drop rate linearly over totalSteps, then holds it', () => {
    const db = new DropBlock({ blockSize: 3, dropRate: 0.2, totalSteps: 4 })
    const rates: number[] = []
    for (let i = 0; i < 6; i++) {
      rates.push(db.currentDropRate())
      db.step()
    }
    expect(rates.map((r) => +r.toFixed(12))).toEqual([0, 0.05, 0.1, 0.15, 0.2, 0.2])
    // gamma, Eq. (1): dropRate / bs^2 * HW / ((H - bs + 1)(W - bs + 1))
    expect(db.gamma(10, 12)).toBeCloseTo((0.2 / 9) * (120 / (8 * 10)), 15)
    // At step 0 of the schedule nothing is dropped.
    const fresh = new DropBlock({ blockSize: 3, dropRate: 0.2, totalSteps: 10 })
    const x = randn([1, 2, 6, 6])
    expect(fresh.call(x)).toBe(x)
  })

  it('drops blockSize x blockSize squares, about dropRate of the units, and keeps the mean', () => {
    const bs = 5
    const db = new DropBlock({ blockSize: bs, dropRate: 0.15, generator: new Generator(4) })
    const [b, c, h, w] = [4, 16, 32, 32]
    const y = values(db.call(ones([b, c, h, w], { dtype: 'float64' })))
    let zeros = 0
    let sum = 0
    for (let p = 0; p < b * c; p++) {
      const at = (i: number, j: number) => y[p * h * w + i * w + j]!
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          sum += at(i, j)
          if (at(i, j) !== 0) continue
          zeros++
          // Every dropped unit lies in an all-zero bs x bs square inside the map.
          let inBlock = false
          for (let i0 = Math.max(0, i - bs + 1); i0 <= Math.min(i, h - bs) && !inBlock; i0++)
            for (let j0 = Math.max(0, j - bs + 1); j0 <= Math.min(j, w - bs) && !inBlock; j0++) {
              let all = true
              for (let di = 0; di < bs && all; di++)
                for (let dj = 0; dj < bs && all; dj++) all = at(i0 + di, j0 + dj) === 0
              inBlock = all
            }
          expect(inBlock).toBe(true)
        }
    }
    const frac = zeros / (b * c * h * w)
    // Overlapping blocks make the dropped fraction a little under the target (the paper's Eq. 1 is an approximation).
    expect(frac).toBeGreaterThan(0.1)
    expect(frac).toBeLessThan(0.17)
    // Scaled by count / kept: the mean of an all-ones input is exactly preserved.
    expect(sum / (b * c * h * w)).toBeCloseTo(1, 10)
    db.eval()
    const x = randn([1, 1, 8, 8])
    expect(db.call(x)).toBe(x)
  })

  it('shares one mask across channels when asked, and validates its options', () => {
    const db = new DropBlock({ blockSize: 2, dropRate: 0.3, shareChannels: true, generator: new Generator(9) })
    const y = values(db.call(ones([2, 3, 8, 8], { dtype: 'float64' })))
    for (let n = 0; n < 2; n++)
      for (let c = 1; c < 3; c++)
        expect(y.slice((n * 3 + c) * 64, (n * 3 + c + 1) * 64)).toEqual(y.slice(n * 3 * 64, (n * 3 + 1) * 64))
    expect(() => new DropBlock({ dropRate: 1 })).toThrow(ArgumentError)
    expect(() => new DropBlock({ blockSize: 0 })).toThrow(/blockSize/)
    expect(() => db.call(tensor([1, 2, 3]))).toThrow(ShapeError)
  })
})

describe('shape and parameter helpers (d2l.ai’s formulas)', () => {
  it('conv output floor((n + 2p - f) / s) + 1; valid floor((n - f) / s) + 1; same ceil(n / s)', () => {
    expect(conv2dOutputSize(6, 3)).toBe(4) // 6x6 image, 3x3 filter -> 4x4
    expect(conv2dOutputSize(6, 3, 1, 1)).toBe(6) // p = (f - 1) / 2 keeps the size
    expect(conv2dOutputSize(7, 3, 2)).toBe(3)
    expect(conv2dOutputSize(7, 3, 2, 1)).toBe(4)
    expect(conv2dOutputSize(7, 3, 2, 'valid')).toBe(3)
    expect(conv2dOutputSize(7, 3, 2, 'same')).toBe(4)
    expect(conv2dOutputSize(7, 3, 1, 2, 2)).toBe(7) // dilation 2: the kernel spans 5
    expect(conv2dOutputShape([8, 3, 224, 224], 64, 7, { stride: 2, padding: 3 })).toEqual([8, 64, 112, 112]) // ResNet stem
    expect(conv2dOutputShape([1, 3, 10, 10], 4, [3, 5], { padding: [1, 0, 2, 3] })).toEqual([1, 4, 11, 9])
  })

  it('pool output with ceil mode; transposed conv (n - 1)s - 2p + d(f - 1) + outputPadding + 1', () => {
    expect(pool2dOutputSize(112, 3, 2)).toBe(55)
    expect(pool2dOutputSize(112, 3, 2, 0, 1, true)).toBe(56) // GoogLeNet's ceil-mode pools
    expect(convTranspose2dOutputSize(10, 64, 32, 16)).toBe(320) // FCN: 32x upsampling
    expect(convTranspose2dOutputSize(5, 3, 2, 1, 1, 1)).toBe(10)
  })

  it('a conv layer has k*k*(c_in/groups)*c_out + c_out parameters', () => {
    expect(conv2dParameterCount(3, 10, 3)).toBe(280) // ten 3x3x3 filters with biases
    expect(conv2dParameterCount(32, 32, 3, { groups: 32, bias: false })).toBe(288) // depthwise
    expect(countParameters(new Conv2d(3, 10, 3))).toBe(280)
    expect(countParameters(new Conv2d(32, 32, 3, { groups: 32, bias: false }))).toBe(288)
    expect(countParameters(new ConvTranspose2d(8, 4, 3, { groups: 2 }))).toBe(8 * 2 * 9 + 4)
  })
})

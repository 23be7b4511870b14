/**
 * Every convolution geometry the cnn specs use (stride, padding, dilation, groups, 1x1, 7x7 stride 2,
 * 11x11 stride 4, transposed convolutions through their data-gradient kernel), recorded from a forward pass
 * of each model at its small size, through the three wasm conv kernels against the js reference: both SIMD
 * builds, one and two threads. Deeper variants share their family's layer kinds (VGG-11 stands for the VGGs).
 * Also: core's kernel-level countMacs agrees with cnn's per-layer countFlops on every architecture.
 */
import {
  type Backend,
  type Conv2dGeometry,
  countMacs,
  createWasmBackend,
  getBackend,
  hasRelaxedSimd,
  noGrad,
  setBackend,
} from '@refnets/core'
import { afterAll, describe, expect, it } from 'vitest'
import { checkConv } from '../../core/test/helpers/kernel-check.js'
import { countFlops, profile, specs } from '../src/index.js'

// Deeper variants repeat the layer kinds of their family's first models (VGG-11; ResNet-18 basic, -50 bottleneck).
const REPEATS = [
  'vgg13',
  'vgg16',
  'vgg19',
  'vgg11-bn',
  'vgg13-bn',
  'vgg16-bn',
  'vgg19-bn',
  'resnet34',
  'resnet101',
  'resnet152',
]
const picked = specs.filter((s) => !REPEATS.includes(s.name))

/** The distinct conv geometries (batch 1) of a forward pass of every picked spec at its small size. */
function recordGeometries(): Conv2dGeometry[] {
  const seen = new Map<string, Conv2dGeometry>()
  const prev = getBackend()
  const record = (g: Conv2dGeometry) => {
    const one = { ...g, batch: 1 }
    seen.set(JSON.stringify(one), one)
  }
  const recording: Backend = {
    name: 'record',
    kernels: {
      Conv: (x, w, b, y, g) => {
        record(g)
        prev.kernels.Conv ? prev.kernels.Conv(x, w, b, y, g) : undefined
      },
      ConvTranspose: (dy, w, b, dx, g) => {
        record(g)
        prev.kernels.ConvTranspose ? prev.kernels.ConvTranspose(dy, w, b, dx, g) : undefined
      },
    },
  }
  for (const spec of picked) {
    const m = spec.build(0).eval()
    const inputs = spec.inputs('small', 1)
    setBackend(recording)
    try {
      noGrad(() => m.call(...inputs))
    } finally {
      setBackend(prev)
    }
  }
  return [...seen.values()]
}

const geometries = recordGeometries()
const backends = (hasRelaxedSimd() ? [true, false] : [false]).flatMap((relaxedSimd) =>
  [1, 2].map(
    (threads) =>
      [
        `${relaxedSimd ? 'relaxed' : 'plain'} SIMD, ${threads} thread(s)`,
        createWasmBackend({ relaxedSimd, threads }),
      ] as const,
  ),
)
afterAll(() =>
  backends.forEach(([, b]) => {
    b.close()
  }),
)

it('records the geometries of every layer kind', () => {
  const kinds = new Set(geometries.map((g) => `${g.kH}x${g.kW}/${g.strideH}/${g.groups > 1 ? 'grouped' : 'dense'}`))
  for (const k of ['1x1/1/dense', '3x3/1/dense', '7x7/2/dense', '11x11/4/dense', '5x5/1/dense'])
    expect(kinds).toContain(k)
})

describe.each(backends)('wasm conv kernels on the cnn geometries, %s', (_, be) => {
  it.each(
    geometries.map(
      (g) =>
        [
          `${g.inC}->${g.outC} ${g.inH}x${g.inW} k${g.kH}x${g.kW} s${g.strideH} p${g.padTop} d${g.dilationH} g${g.groups}`,
          g,
        ] as const,
    ),
  )('%s', (_, g) => checkConv(be, g))
})

// countMacs sees every GEMM, including the averaging matrix products that adaptive pooling with irregular
// windows runs on (AlexNet at small sizes): at most a fraction of a percent more than the layers' own work.
it('countMacs (kernel level) agrees with countFlops (per layer, less the Linear biases) on every architecture', () => {
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)
  for (const spec of picked.filter((s) => s.family !== 'layer' && s.name !== 'vgg11')) {
    const m = spec.build(0).eval()
    const [x] = spec.inputs('small', 1)
    const macs = countMacs(() => noGrad(() => m.call(x!)))
    const perLayer = profile(m, x!.shape).reduce(
      (n, r) => n + (r.type === 'Linear' ? prod(r.inputShape) * r.outputShape.at(-1)! : r.flops),
      0,
    )
    expect(macs, spec.name).toBeGreaterThanOrEqual(perLayer)
    expect(macs / perLayer, spec.name).toBeLessThan(1.001)
    expect(perLayer, spec.name).toBeLessThanOrEqual(countFlops(m, x!.shape))
  }
})

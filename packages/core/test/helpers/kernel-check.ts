/**
 * Comparing the kernels of a backend with the js reference: seeded random data, a rounding-aware bound, and
 * the three convolution kernels on one geometry. Used by the wasm kernel test here and by @refnets/cnn's test
 * of every convolution geometry its models use.
 */
import { expect } from 'vitest'
import { type Conv2dGeometry, Generator } from '../../src/index.js'
import { jsKernels } from '../../src/backends/js/kernels.js'

export const gen = new Generator(7)
export const rand = (n: number) => Float32Array.from({ length: n }, () => gen.random() * 2 - 1)
export const int = (lo: number, hi: number) => lo + Math.floor(gen.random() * (hi - lo + 1))

/** max |got - want| <= 2e-6 * sqrt(terms) * max |want| (+ a floor for all-zero results). */
export function expectClose(got: Float32Array, want: Float32Array, terms: number): void {
  expect(got.length).toBe(want.length)
  let diff = 0
  let scale = 0
  let nanMismatches = 0
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(got[i]!) !== Number.isNaN(want[i]!)) nanMismatches++
    else if (!Number.isNaN(want[i]!)) {
      diff = Math.max(diff, Math.abs(got[i]! - want[i]!))
      scale = Math.max(scale, Math.abs(want[i]!))
    }
  }
  expect(nanMismatches).toBe(0)
  expect(diff).toBeLessThanOrEqual(2e-6 * Math.sqrt(terms) * scale + 1e-7)
}

export function convGeometry(
  p: Partial<Conv2dGeometry> & Pick<Conv2dGeometry, 'inC' | 'outC' | 'inH' | 'inW' | 'kH' | 'kW'>,
): Conv2dGeometry {
  const g = { batch: 1, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, dilationH: 1, dilationW: 1, groups: 1, ...p }
  const outH = Math.floor((g.inH + 2 * g.padTop - g.dilationH * (g.kH - 1) - 1) / g.strideH) + 1
  const outW = Math.floor((g.inW + 2 * g.padLeft - g.dilationW * (g.kW - 1) - 1) / g.strideW) + 1
  return { ...g, outH, outW }
}

/** The three conv kernels of `be` against js on geometry g. */
export function checkConv(be: { kernels: Partial<typeof jsKernels> }, g: Conv2dGeometry, withBias = true): void {
  const k = be.kernels as typeof jsKernels
  const cg = g.inC / g.groups
  const x = rand(g.batch * g.inC * g.inH * g.inW)
  const w = rand(g.outC * cg * g.kH * g.kW)
  const ny = g.batch * g.outC * g.outH * g.outW
  const bias = withBias ? rand(g.outC) : null
  const [y1, y2] = [new Float32Array(ny), new Float32Array(ny)]
  jsKernels.Conv(x, w, bias, y1, g)
  k.Conv(x, w, bias, y2, g)
  expectClose(y2, y1, cg * g.kH * g.kW)
  const dy = rand(ny)
  const bx = withBias ? rand(g.inC) : null
  const [d1, d2] = [new Float32Array(x.length).fill(NaN), new Float32Array(x.length).fill(NaN)]
  jsKernels.ConvTranspose(dy, w, bx, d1, g)
  k.ConvTranspose(dy, w, bx, d2, g)
  expectClose(d2, d1, (g.outC / g.groups) * g.kH * g.kW)
  const [w1, w2] = [new Float32Array(w.length).fill(NaN), new Float32Array(w.length).fill(NaN)]
  jsKernels.ConvWeightGrad(x, dy, w1, g)
  k.ConvWeightGrad(x, dy, w2, g)
  expectClose(w2, w1, g.batch * g.outH * g.outW)
}

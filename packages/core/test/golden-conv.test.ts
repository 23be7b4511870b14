/**
 * Convolution and pooling against PyTorch (float64): forward outputs and the gradients of
 * sum(y * gy) for a fixed upstream gy, from fixtures/conv.json (scripts/gen_conv_fixtures.py).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  type AvgPool2dOptions,
  type Conv1dOptions,
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  type LocalResponseNormOptions,
  type MaxPool2dOptions,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  conv1d,
  conv2d,
  convTranspose2d,
  globalAvgPool2d,
  globalMaxPool2d,
  localResponseNorm,
  maxPool2d,
} from '../src/ops/index.js'
import { type Tensor, tensor } from '../src/tensor.js'

interface Fixed {
  shape: number[]
  data: number[]
}
interface Case {
  name: string
  options: Record<string, unknown>
  x: Fixed
  w?: Fixed
  b?: Fixed
  y: Fixed
  gy: Fixed
  gx: Fixed
  gw?: Fixed
  gb?: Fixed
}
type Fixtures = Record<string, Case[]>

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/conv.json', import.meta.url), 'utf8')) as Fixtures
const TOL = 1e-10

const load = (f: Fixed) => tensor(Float64Array.from(f.data), { shape: f.shape }).requireGrad()

function expectClose(got: Tensor | null, want: Fixed, what: string): void {
  expect(got, what).not.toBeNull()
  expect(got!.shape, `${what} shape`).toEqual(want.shape)
  const g = got!.data
  let err = 0
  for (let i = 0; i < want.data.length; i++) err = Math.max(err, Math.abs(g[i]! - want.data[i]!))
  expect(err, `${what}: max abs error`).toBeLessThan(TOL)
}

/** Run one case: forward, backward of sum(y * gy), compare everything the fixture has. */
function check(c: Case, run: (x: Tensor, w?: Tensor, b?: Tensor) => Tensor): void {
  const x = load(c.x)
  const w = c.w && load(c.w)
  const b = c.b && load(c.b)
  const y = run(x, w, b)
  expectClose(y, c.y, 'y')
  y.mul(tensor(Float64Array.from(c.gy.data), { shape: c.gy.shape }))
    .sum()
    .backward()
  expectClose(x.grad, c.gx, 'dx')
  if (c.gw) expectClose(w!.grad, c.gw, 'dw')
  if (c.gb) expectClose(b!.grad, c.gb, 'db')
}

const cases = (key: string) => {
  const list = fixtures[key]
  if (!list?.length) throw new Error(`fixtures/conv.json has no ${key} cases: run scripts/gen_conv_fixtures.py`)
  return list.map((c) => [c.name, c] as const)
}

describe('golden: convolution (PyTorch)', () => {
  it.each(cases('conv2d'))('conv2d %s', (_, c) => check(c, (x, w, b) => conv2d(x, w!, b, c.options as Conv2dOptions)))
  it.each(cases('convTranspose2d'))('convTranspose2d %s', (_, c) =>
    check(c, (x, w, b) => convTranspose2d(x, w!, b, c.options as ConvTranspose2dOptions)),
  )
  it.each(cases('conv1d'))('conv1d %s', (_, c) => check(c, (x, w, b) => conv1d(x, w!, b, c.options as Conv1dOptions)))
})

describe('golden: pooling (PyTorch)', () => {
  it.each(cases('maxPool2d'))('maxPool2d %s', (_, c) =>
    check(c, (x) => maxPool2d(x, c.options as unknown as MaxPool2dOptions)),
  )
  it.each(cases('avgPool2d'))('avgPool2d %s', (_, c) =>
    check(c, (x) => avgPool2d(x, c.options as unknown as AvgPool2dOptions)),
  )
  it.each(cases('adaptiveAvgPool2d'))('adaptiveAvgPool2d %s', (_, c) =>
    check(c, (x) => adaptiveAvgPool2d(x, c.options.outputSize as [number, number])),
  )
  it.each(cases('adaptiveMaxPool2d'))('adaptiveMaxPool2d %s', (_, c) =>
    check(c, (x) => adaptiveMaxPool2d(x, c.options.outputSize as [number, number])),
  )
  it.each(cases('localResponseNorm'))('localResponseNorm %s', (_, c) =>
    check(c, (x) => localResponseNorm(x, c.options as unknown as LocalResponseNormOptions)),
  )

  // Global pools are the 1 x 1 adaptive pools.
  const oneByOne = (key: string) =>
    fixtures[key]!.find((c) => (c.options.outputSize as number[]).every((d) => d === 1))!
  it('globalAvgPool2d', () => check(oneByOne('adaptiveAvgPool2d'), (x) => globalAvgPool2d(x)))
  it('globalMaxPool2d', () => check(oneByOne('adaptiveMaxPool2d'), (x) => globalMaxPool2d(x)))
})

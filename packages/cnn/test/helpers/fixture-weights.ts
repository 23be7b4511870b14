/**
 * The deterministic weights of scripts/gen_fixtures.py, reproduced bit for bit: the torchvision
 * golden fixtures store only logits, and both sides fill every state-dict tensor from this formula.
 * See the script's docstring for the rules; this file must stay in step with it.
 */
import { readFileSync } from 'node:fs'
import { type Module, type Tensor, fromArray, scalar } from '@refnets/core'

export interface FixtureFormula {
  inputT: number
  gain: number
  bias: number
  bnWeightCenter: number
  bnWeight: number
  bnBias: number
  runningMean: number
  runningVar: number
}

export interface TorchvisionFixture {
  model: string
  formula: FixtureFormula
  /** State-dict keys and shapes in torchvision's order. */
  keys: [string, number[]][]
  inputShape: number[]
  logits: number[]
  logits64: number[]
  float32VsFloat64MaxAbs: number
}

export const readFixture = (name: string): TorchvisionFixture =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as TorchvisionFixture

/**
 * out[i] = center + spread * u(t, i) for i < out.length, where u(t, i) in [-1, 1) is murmur3's fmix32
 * of (i * 0x9E3779B1 + t * 0x85EBCA77 + 0x165667B1) mod 2^32, top 24 bits scaled (exact in float32).
 * The sum is formed in float64 and rounded once by the store into a Float32Array, as numpy's
 * `(c + s * u).astype(np.float32)` does.
 */
export function hashFill<A extends Float32Array | Float64Array>(out: A, t: number, center = 0, spread = 1): A {
  const base = (Math.imul(t, 0x85ebca77) + 0x165667b1) >>> 0
  for (let i = 0; i < out.length; i++) {
    let h = (Math.imul(i, 0x9e3779b1) + base) >>> 0
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
    out[i] = center + spread * ((h >>> 8) * 2 ** -23 - 1)
  }
  return out
}

/** A float32 tensor of `shape` filled by hashFill. */
export const fillFloat32 = (t: number, shape: number[], center: number, spread: number): Tensor =>
  fromArray(hashFill(new Float32Array(shape.reduce((a, b) => a * b, 1)), t, center, spread), shape)

/** (center, spread) of a state-dict tensor by the script's rules, or null for num_batches_tracked. */
export function centerSpread(
  key: string,
  shape: number[],
  keys: Set<string>,
  f: FixtureFormula,
): [number, number] | null {
  if (key.endsWith('num_batches_tracked')) return null
  if (key.endsWith('running_mean')) return [0, f.runningMean]
  if (key.endsWith('running_var')) return [1, f.runningVar]
  if (key.endsWith('weight') && shape.length >= 2) {
    const fanIn = shape.reduce((a, b) => a * b, 1) / shape[0]!
    return [0, f.gain / Math.sqrt(fanIn)]
  }
  if (key.endsWith('weight')) return [f.bnWeightCenter, f.bnWeight]
  if (key.endsWith('bias')) return [0, keys.has(`${key.slice(0, -'bias'.length)}running_mean`) ? f.bnBias : f.bias]
  throw new Error(`no fixture rule for ${key}`)
}

/**
 * State-dict keys in PyTorch's order: module by module (pre-order), each module's parameters then
 * its buffers. (Module.stateDict() lists all parameters first, then all buffers.)
 */
export function torchOrderKeys(module: Module<any, any>): string[] {
  const order = new Map([...module.namedModules()].map(([path], i) => [path, i]))
  const owner = (k: string) => order.get(k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') ?? -1
  return Object.keys(module.stateDict()).sort((a, b) => owner(a) - owner(b))
}

/** The fixture's state dict: a fresh tensor per key, filled by the formula in torchvision's key order. */
export function fixtureStateDict(fx: TorchvisionFixture): Record<string, Tensor> {
  const keys = new Set(fx.keys.map(([k]) => k))
  const sd: Record<string, Tensor> = {}
  fx.keys.forEach(([k, shape], t) => {
    const cs = centerSpread(k, shape, keys, fx.formula)
    sd[k] = cs ? fillFloat32(t, shape, cs[0], cs[1]) : scalar(0, 'int32')
  })
  return sd
}

/**
 * The deterministic weights of scripts/gen_ssd_fixture.py, reproduced bit for bit (the same hash as
 * packages/cnn's torchvision fixtures): tensor t of the state dict is float32(center + spread * u(t, i)).
 */
import { type Module, type Tensor, fromArray } from '@refnets/core'

/** u(t, i) in [-1, 1): murmur3's fmix32 of (i * 0x9E3779B1 + t * 0x85EBCA77 + 0x165667B1) mod 2^32, top 24 bits. */
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

/** Fill a module's state dict from the fixture's key list (torchvision's order) by the script's rules. */
export function fillSsdWeights(model: Module<any, any>, keys: [string, number[]][]): void {
  const sd: Record<string, Tensor> = {}
  keys.forEach(([k, shape], t) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const [c, s] = k.endsWith('scale_weight')
      ? [20, 0]
      : k.endsWith('weight')
        ? [0, 2 / Math.sqrt(n / shape[0]!)]
        : [0, 0.1]
    sd[k] = fromArray(hashFill(new Float32Array(n), t, c, s), shape)
  })
  model.loadStateDict(sd)
}

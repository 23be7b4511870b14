/**
 * A seedable PRNG shared by every random tensor, initialiser, dropout mask and shuffle, so a run is
 * reproducible from `manualSeed(n)`. xoshiro128** (Blackman & Vigna): fast, 32-bit, good quality.
 */
export class Generator {
  private s = new Uint32Array(4)
  private spare: number | null = null

  constructor(seed = 0) {
    this.seed(seed)
  }

  seed(seed: number): this {
    // splitmix32 expands the seed into the four state words (never all zero).
    let x = seed >>> 0
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0
      let z = x
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      this.s[i] = (z ^ (z >>> 16)) >>> 0
    }
    this.spare = null
    return this
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0
    const t = s[1]! << 9
    s[2]! ^= s[0]!
    s[3]! ^= s[1]!
    s[1]! ^= s[2]!
    s[0]! ^= s[3]!
    s[2]! ^= t
    s[3] = rotl(s[3]!, 11)
    return result
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5
    const lo = this.nextUint32() >>> 6
    return (hi * 67108864 + lo) / 9007199254740992
  }

  /** Standard normal by the Box-Muller transform (pairs cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare
      this.spare = null
      return v
    }
    let u = 0
    while (u === 0) u = this.random()
    const v = this.random()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /**
   * `out[i] = lo + (hi - lo) * random()` for every element: the values and the generator's state afterwards are
   * those of the same loop over `random()`, at a fraction of its cost (the state lives in locals; a large model's
   * initialisation draws hundreds of millions of values).
   */
  uniformFill(out: { length: number; [i: number]: number }, lo: number, hi: number): void {
    const s = this.s
    let [s0, s1, s2, s3] = [s[0]! | 0, s[1]! | 0, s[2]! | 0, s[3]! | 0]
    // One xoshiro128** step (nextUint32, inlined) a pass; each value takes two, combined as random() does.
    let bits = 0
    for (let j = 0; j < 2 * out.length; j++) {
      const r = Math.imul(rotl32(Math.imul(s1, 5), 7), 9)
      const t = s1 << 9
      s2 ^= s0
      s3 ^= s1
      s1 ^= s2
      s0 ^= s3
      s2 ^= t
      s3 = rotl32(s3, 11)
      if ((j & 1) === 0) bits = r >>> 5
      else out[j >> 1] = lo + (hi - lo) * ((bits * 67108864 + (r >>> 6)) * TWO_TO_MINUS_53)
    }
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
  }

  /**
   * `out[i] = mean + std * normal()` for every element, with the same values and state afterwards (a cached
   * Box-Muller spare is used first and one is left cached when the count is odd). The generator steps run
   * inline on locals, as in uniformFill: each pair draws u (again while it is exactly 0), then v.
   */
  normalFill(out: { length: number; [i: number]: number }, mean: number, std: number): void {
    const n = out.length
    let i = 0
    if (this.spare !== null && n > 0) {
      out[i++] = mean + std * this.spare
      this.spare = null
    }
    if (i >= n) return
    const s = this.s
    let [s0, s1, s2, s3] = [s[0]! | 0, s[1]! | 0, s[2]! | 0, s[3]! | 0]
    // Four xoshiro128** steps (nextUint32 inlined) on locals a pair: steps 0-1 make u, 2-3 make v, each
    // combined as random() does. Math.log, cos and sin take ~2/3 of the time (~50 ns a pair).
    let r = 0
    let t = 0
    let hi = 0
    while (i < n) {
      let u = 0
      let v = 0
      for (let k = 0; k < 4; k++) {
        r = Math.imul(rotl32(Math.imul(s1, 5), 7), 9)
        t = s1 << 9
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl32(s3, 11)
        if ((k & 1) === 0) {
          hi = r >>> 5
          continue
        }
        const x = (hi * 67108864 + (r >>> 6)) * TWO_TO_MINUS_53
        if (k === 3) v = x
        else if (x === 0)
          k = -1 // u is drawn again while it is exactly 0, as normal() does
        else u = x
      }
      const rad = Math.sqrt(-2 * Math.log(u))
      const angle = 2 * Math.PI * v
      out[i++] = mean + std * (rad * Math.cos(angle))
      const second = rad * Math.sin(angle)
      if (i < n) out[i++] = mean + std * second
      else this.spare = second
    }
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n)
  }

  /** Fisher-Yates shuffle of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n)
    for (let i = 0; i < n; i++) p[i] = i
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = p[i]!
      p[i] = p[j]!
      p[j] = t
    }
    return p
  }
}

/** 2^-53: a 53-bit integer times it is exactly that integer / 2^53. */
const TWO_TO_MINUS_53 = 1 / 9007199254740992
const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0
/** rotl as a signed 32-bit value (the bulk loops keep their state in int32 locals). */
const rotl32 = (x: number, k: number) => (x << k) | (x >>> (32 - k))

/** The default generator. */
export const defaultGenerator = new Generator(0)

/** Seed the default generator (like `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  defaultGenerator.seed(seed)
}

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
   * Box-Muller spare is used first and one is left cached when the count is odd). Uniforms are drawn in
   * blocks by uniformFill.
   */
  normalFill(out: { length: number; [i: number]: number }, mean: number, std: number): void {
    let i = 0
    if (this.spare !== null && out.length > 0) {
      out[i++] = mean + std * this.spare
      this.spare = null
    }
    // The uniforms come in blocks, each no longer than what is still certain to be consumed (so the state ends
    // where the scalar loop's would): a pair takes u (redrawn while it is exactly 0), then v.
    const u = UNIFORM_BLOCK
    let [pos, len] = [0, 0]
    const refill = (need: number) => {
      len = Math.min(u.length, need)
      this.uniformFill(u.subarray(0, len), 0, 1)
      pos = 0
    }
    while (i < out.length) {
      const pairsLeft = Math.ceil((out.length - i) / 2)
      if (pos === len) refill(2 * pairsLeft)
      const a = u[pos++]!
      if (a === 0) continue
      if (pos === len) refill(2 * pairsLeft - 1)
      const v = u[pos++]!
      const r = Math.sqrt(-2 * Math.log(a))
      out[i++] = mean + std * (r * Math.cos(2 * Math.PI * v))
      const second = r * Math.sin(2 * Math.PI * v)
      if (i < out.length) out[i++] = mean + std * second
      else this.spare = second
    }
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

/** normalFill's block of uniforms (shared: a fill runs to its end before another can start). */
const UNIFORM_BLOCK = new Float64Array(1024)
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

import { describe, expect, it } from 'vitest'
import { Generator } from '../src/random.js'

/** Two generators in the same state: `a` drawn by the scalar methods, `b` by the bulk fills. */
function pair(seed: number, normalsFirst: number): [Generator, Generator] {
  const [a, b] = [new Generator(seed), new Generator(seed)]
  for (let k = 0; k < normalsFirst; k++) {
    a.normal()
    b.normal()
  }
  return [a, b]
}

// Odd and even lengths, from none to thousands.
const LENGTHS = [0, 1, 2, 3, 511, 512, 513, 1023, 1024, 1025, 2049, 4000]

describe('Generator bulk fills', () => {
  it('uniformFill gives the values of the scalar loop over random() and leaves the same state', () => {
    for (const n of LENGTHS) {
      const [a, b] = pair(n, 0)
      const want = Float64Array.from({ length: n }, () => -0.5 + (1.25 - -0.5) * a.random())
      const got = new Float64Array(n)
      b.uniformFill(got, -0.5, 1.25)
      expect(got).toEqual(want)
      expect(b.nextUint32()).toBe(a.nextUint32())
    }
  })

  it('normalFill gives the values of the scalar loop over normal(), spare included, in float32 and float64', () => {
    for (const n of LENGTHS)
      for (const first of [0, 1]) {
        // One normal() drawn first leaves a spare that the fill must use first; an odd n leaves one behind.
        const [a, b] = pair(1000 + n, first)
        const want = Float32Array.from({ length: n }, () => 0.25 + 0.02 * a.normal())
        const got = new Float32Array(n)
        b.normalFill(got, 0.25, 0.02)
        expect(got).toEqual(want)
        expect(b.normal()).toBe(a.normal())
        expect(b.random()).toBe(a.random())
      }
    const [a, b] = pair(5, 0)
    const want = Float64Array.from({ length: 777 }, () => 3 * a.normal())
    const got = new Float64Array(777)
    b.normalFill(got, 0, 3)
    expect(got).toEqual(want)
  })

  it('normalFill redraws a uniform that is exactly 0, as normal() does', () => {
    // xoshiro128** outputs 0 twice from the state [x, 0, x, y], so random() returns exactly 0 there.
    const zeroFirst = (g: Generator) => {
      ;(g as unknown as { s: Uint32Array }).s.set([0x12345678, 0, 0x12345678, 0x9abcdef])
      return g
    }
    const [a, b] = [zeroFirst(new Generator()), zeroFirst(new Generator())]
    expect(new Generator().random()).not.toBe(0)
    expect(zeroFirst(new Generator()).random()).toBe(0)
    const want = Float64Array.from({ length: 9 }, () => a.normal())
    const got = new Float64Array(9)
    b.normalFill(got, 0, 1)
    expect(got).toEqual(want)
    expect(want.every(Number.isFinite)).toBe(true)
    expect(b.random()).toBe(a.random())
  })
})

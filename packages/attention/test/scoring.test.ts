/**
 * Masked softmax, additive and scaled dot-product attention: d2l's examples, masks of every kind,
 * dropout on the weights, typed errors, and gradcheck in float64 (relative error < 1e-7).
 */
import {
  ArgumentError,
  DTypeError,
  Generator,
  ShapeError,
  Tensor,
  gradcheck,
  manualSeed,
  randn,
  softmax,
  tensor,
} from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { AdditiveAttention, DotProductAttention, maskedSoftmax, scaledDotProductAttention } from '../src/index.js'

const g = (seed: number) => new Generator(seed)
const r64 = (shape: number[], seed: number) => randn(shape, { dtype: 'float64', generator: g(seed) })
const i32 = (v: number[], shape = [v.length]) => new Tensor(Int32Array.from(v), shape)

describe('maskedSoftmax', () => {
  it('gives masked keys weight 0 and normalises the rest, with valid lengths per row', () => {
    const x = r64([2, 2, 4], 1)
    const y = maskedSoftmax(x, { validLens: i32([2, 3]) })
    const d = y.data as Float64Array
    for (let b = 0; b < 2; b++)
      for (let q = 0; q < 2; q++) {
        const row = Array.from(d.slice((b * 2 + q) * 4, (b * 2 + q + 1) * 4))
        const valid = b === 0 ? 2 : 3
        expect(row.slice(valid).every((v) => v === 0)).toBe(true)
        expect(row.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 12)
        // The kept entries are the softmax of the kept scores alone.
        const ref = softmax(
          x
            .slice(0, b, b + 1)
            .slice(1, q, q + 1)
            .slice(2, 0, valid),
          -1,
        ).data as Float64Array
        row.slice(0, valid).forEach((v, k) => {
          expect(v).toBeCloseTo(ref[k]!, 14)
        })
      }
  })

  it('takes valid lengths per row and query (B, Q)', () => {
    const y = maskedSoftmax(r64([2, 2, 4], 2), { validLens: i32([1, 3, 2, 4], [2, 2]) })
    const d = y.data as Float64Array
    expect(d[1]).toBe(0) // b0 q0: one valid key
    expect(d[0]).toBeCloseTo(1, 14)
    expect(d[4 + 3]).toBe(0) // b0 q1: three valid keys
    expect(d[12 + 3]).toBeGreaterThan(0) // b1 q1: all four
  })

  it('matches a boolean mask (true = masked) and an additive mask of -1e9', () => {
    const x = r64([2, 3, 5], 3)
    const maskData = Uint8Array.from({ length: 15 }, (_, i) => (i % 5 > (i % 3) + 1 ? 1 : 0))
    const bool = new Tensor(maskData, [3, 5]) // (Q, K) broadcast over the batch
    const add = new Tensor(
      Float64Array.from(maskData, (m) => (m ? -1e9 : 0)),
      [3, 5],
    )
    const a = maskedSoftmax(x, bool).data as Float64Array
    const b = maskedSoftmax(x, add).data as Float64Array
    a.forEach((v, i) => {
      expect(v).toBeCloseTo(b[i]!, 14)
    })
    expect(a[4]).toBe(0)
  })

  it('gives a row with no valid key uniform weights, not NaN', () => {
    const y = maskedSoftmax(r64([1, 1, 4], 4), { validLens: i32([0]) }).data as Float64Array
    for (const v of y) expect(v).toBeCloseTo(0.25, 14)
  })

  it('rejects masks that do not broadcast, with expected and got', () => {
    const x = r64([2, 3, 5], 5)
    expect(() => maskedSoftmax(x, new Tensor(new Uint8Array(12), [3, 4]))).toThrow(ShapeError)
    expect(() => maskedSoftmax(x, new Tensor(new Uint8Array(12), [3, 4]))).toThrow(
      /broadcasts to \[2, 3, 5\].*got \[3, 4\]/,
    )
    expect(() => maskedSoftmax(x, { validLens: i32([1, 2, 3]) })).toThrow(/expected \(2\) or \(2, 3\).*got \[3\]/)
    expect(() => maskedSoftmax(x, { validLens: tensor([1, 2]) })).toThrow(DTypeError)
    expect(() => maskedSoftmax(x, { validLens: i32([1, -1]) })).toThrow(ArgumentError)
  })

  it('passes gradcheck with valid lengths, bool and float masks', () => {
    const x = r64([2, 3, 4], 6)
    expect(gradcheck((a) => maskedSoftmax(a, { validLens: i32([2, 4]) }), [x]).relError).toBeLessThan(1e-7)
    expect(
      gradcheck((a) => maskedSoftmax(a, { validLens: i32([1, 2, 3, 4, 4, 2], [2, 3]) }), [x]).relError,
    ).toBeLessThan(1e-7)
    const bool = new Tensor(Uint8Array.from([0, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1]), [3, 4])
    expect(gradcheck((a) => maskedSoftmax(a, bool), [x]).relError).toBeLessThan(1e-7)
    expect(gradcheck((a, m) => maskedSoftmax(a, m), [x, r64([3, 4], 7)]).relError).toBeLessThan(1e-7)
  })
})

describe('AdditiveAttention', () => {
  it('reproduces d2l’s example: identical keys give uniform weights over the valid ones', () => {
    manualSeed(0)
    // d2l: queries (2, 1, 20), keys ones (2, 10, 2), values arange(40).reshape(1, 10, 4) repeated, valid_lens [2, 6].
    const queries = randn([2, 1, 20], { generator: g(1) })
    const keys = tensor(new Array(40).fill(1), { shape: [2, 10, 2] })
    const values = tensor(
      Array.from({ length: 80 }, (_, i) => i % 40),
      { shape: [2, 10, 4] },
    )
    const att = new AdditiveAttention(2, 20, 8, { dropout: 0.1 }).eval()
    const out = att.call(queries, keys, values, { validLens: i32([2, 6]) })
    expect(out.shape).toEqual([2, 1, 4])
    // Mean of the first 2 (resp. 6) value rows: [2, 3, 4, 5] and [10, 11, 12, 13].
    expect(Array.from(out.data, (v) => +v.toFixed(4))).toEqual([2, 3, 4, 5, 10, 11, 12, 13])
    const w = att.attentionWeights!.data
    expect(w[0]).toBeCloseTo(0.5, 6)
    expect(w[2]).toBe(0)
  })

  it('passes gradcheck for queries, keys, values and its three weights', () => {
    manualSeed(1)
    const att = new AdditiveAttention(3, 5, 4, { dtype: 'float64' })
    const [wk, wq, wv] = [att.W_k.weight, att.W_q.weight, att.w_v.weight]
    const f = (q: Tensor, k: Tensor, v: Tensor, a: Tensor, b: Tensor, c: Tensor) => {
      att.W_k.weight = a as never
      att.W_q.weight = b as never
      att.w_v.weight = c as never
      return att.call(q, k, v, { validLens: i32([2, 3]) })
    }
    const res = gradcheck(f, [
      r64([2, 2, 5], 1),
      r64([2, 3, 3], 2),
      r64([2, 3, 2], 3),
      wk.detach(),
      wq.detach(),
      wv.detach(),
    ])
    expect(res.relError).toBeLessThan(1e-7)
  })
})

describe('scaled dot-product attention', () => {
  it('equals softmax(Q K^T / sqrt(d)) V computed by hand', () => {
    const q = r64([1, 1, 2], 1)
    const k = r64([1, 3, 2], 2)
    const v = r64([1, 3, 1], 3)
    const { output, weights } = scaledDotProductAttention(q, k, v)
    const qd = q.data as Float64Array
    const kd = k.data as Float64Array
    const s = [0, 1, 2].map((j) => (qd[0]! * kd[2 * j]! + qd[1]! * kd[2 * j + 1]!) / Math.SQRT2)
    const z = s.reduce((a, c) => a + Math.exp(c), 0)
    const w = s.map((c) => Math.exp(c) / z)
    w.forEach((c, j) => {
      expect(weights.data[j]).toBeCloseTo(c, 14)
    })
    expect(output.item()).toBeCloseTo(
      w.reduce((a, c, j) => a + c * (v.data[j] as number), 0),
      14,
    )
  })

  it('drops attention weights in training only, rescaled by 1/(1-p)', () => {
    const att = new DotProductAttention(0.5)
    const q = randn([2, 4, 8], { generator: g(1) })
    const k = randn([2, 6, 8], { generator: g(2) })
    const v = tensor(new Array(2 * 6 * 3).fill(1), { shape: [2, 6, 3] })
    const train = att.call(q, k, v).data
    // With values all 1 the output is the sum of the kept weights * 2: some rows change.
    expect(Array.from(train).some((x) => Math.abs(x - 1) > 1e-3)).toBe(true)
    const evalOut = att.eval().call(q, k, v).data
    for (const x of evalOut) expect(x).toBeCloseTo(1, 5)
  })

  it('rejects mismatched widths', () => {
    expect(() => scaledDotProductAttention(r64([1, 2, 4], 1), r64([1, 3, 5], 2), r64([1, 3, 5], 3))).toThrow(
      /width 4.*\[1, 3, 5\]/,
    )
    expect(() => new DotProductAttention(1)).toThrow(ArgumentError)
  })

  it('passes gradcheck with valid lengths, bool and float masks', () => {
    const args = [r64([2, 3, 4], 1), r64([2, 5, 4], 2), r64([2, 5, 3], 3)]
    const bool = new Tensor(
      Uint8Array.from({ length: 15 }, (_, i) => (i % 5 === 4 || i === 3 ? 1 : 0)),
      [3, 5],
    )
    for (const mask of [undefined, { validLens: i32([3, 5]) }, bool, r64([2, 3, 5], 4)]) {
      const res = gradcheck((q, k, v) => scaledDotProductAttention(q, k, v, { mask }).output, args)
      expect(res.relError).toBeLessThan(1e-7)
    }
  })
})

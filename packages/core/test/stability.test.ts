/**
 * Numerical stability in float32: softmax, logSoftmax, crossEntropy and binaryCrossEntropyWithLogits
 * with logits of magnitude 1e4 (where a naive exp overflows) stay finite, equal the analytical values,
 * and have finite, correct gradients. Also binaryCrossEntropy at probabilities exactly 0 and 1.
 */
import { describe, expect, it } from 'vitest'
import { logSoftmax, softmax } from '../src/ops/activation.js'
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, crossEntropy } from '../src/ops/loss.js'
import { type Tensor, tensor } from '../src/tensor.js'

const BIG = 1e4
// Rows: one huge winner; three near -1e4 one apart (only differences matter); a tie at +1e4.
// All of these are exact in float32 (its spacing near 1e4 is 2^-10).
const LOGITS = [
  [BIG, -BIG, 0],
  [-BIG, -BIG + 1, -BIG + 2],
  [BIG, BIG, -BIG],
]
const logits = () => tensor(LOGITS, { dtype: 'float32' }).requireGrad()

/** Exact softmax of a row in float64, by shifting by its max (the reference, not the code under test). */
const refSoftmax = (row: number[]) => {
  const m = Math.max(...row)
  const e = row.map((v) => Math.exp(v - m))
  const s = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / s)
}
const refLogSoftmax = (row: number[]) => {
  const m = Math.max(...row)
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0))
  return row.map((v) => v - lse)
}

function expectFiniteClose(
  got: Tensor | null,
  want: number[][] | number[],
  what: string,
  rel = 1e-6,
  abs = 1e-6,
): void {
  expect(got, what).not.toBeNull()
  const g = [...got!.data]
  const w = (want as unknown[]).flat() as number[]
  expect(g.length, `${what} size`).toBe(w.length)
  for (let i = 0; i < w.length; i++) {
    expect(Number.isFinite(g[i]!), `${what}[${i}] = ${g[i]} is finite`).toBe(true)
    expect(Math.abs(g[i]! - w[i]!), `${what}[${i}]: got ${g[i]}, want ${w[i]}`).toBeLessThanOrEqual(
      abs + rel * Math.abs(w[i]!),
    )
  }
}

describe('float32 stability at logits of magnitude 1e4', () => {
  it('softmax: finite probabilities equal to the analytical values; gradient finite and correct', () => {
    const x = logits()
    const p = softmax(x, 1)
    expect(p.dtype).toBe('float32')
    const want = LOGITS.map(refSoftmax)
    expectFiniteClose(p, want, 'softmax')
    expect(want[0]).toEqual([1, 0, 0])
    expect(want[2]).toEqual([0.5, 0.5, 0])
    // d/dx sum(p * g) = p * (g - sum(p * g)) per row.
    const g = [
      [1, 2, 3],
      [-1, 0.5, 2],
      [3, -1, 4],
    ]
    p.mul(tensor(g, { dtype: 'float32' }))
      .sum()
      .backward()
    const wantGrad = want.map((row, r) => {
      const dot = row.reduce((a, v, j) => a + v * g[r]![j]!, 0)
      return row.map((v, j) => v * (g[r]![j]! - dot))
    })
    expectFiniteClose(x.grad, wantGrad, 'd softmax')
  })

  it('logSoftmax: finite log-probabilities (down to -2e4), gradient g - softmax * sum(g)', () => {
    const x = logits()
    const lp = logSoftmax(x, -1)
    const want = LOGITS.map(refLogSoftmax)
    expect(want[0]![1]).toBe(-2 * BIG)
    expectFiniteClose(lp, want, 'logSoftmax')
    const g = [
      [1, 2, 3],
      [-1, 0.5, 2],
      [3, -1, 4],
    ]
    lp.mul(tensor(g, { dtype: 'float32' }))
      .sum()
      .backward()
    const wantGrad = LOGITS.map((row, r) => {
      const s = g[r]!.reduce((a, b) => a + b, 0)
      return refSoftmax(row).map((p, j) => g[r]![j]! - p * s)
    })
    expectFiniteClose(x.grad, wantGrad, 'd logSoftmax')
  })

  it('crossEntropy: -log p of the target (2e4 for a confidently wrong row); gradient (softmax - onehot) / N', () => {
    const x = logits()
    const target = tensor([1, 2, 0], { dtype: 'int32' })
    const perRow = crossEntropy(x, target, { reduction: 'none' })
    expectFiniteClose(perRow, [2 * BIG, -refLogSoftmax(LOGITS[1]!)[2]!, Math.LN2], 'crossEntropy per row')
    const loss = crossEntropy(x, target)
    expectFiniteClose(loss, [(2 * BIG + -refLogSoftmax(LOGITS[1]!)[2]! + Math.LN2) / 3], 'crossEntropy mean')
    loss.backward()
    const wantGrad = LOGITS.map((row, r) => refSoftmax(row).map((p, j) => (p - (j === [1, 2, 0][r] ? 1 : 0)) / 3))
    expectFiniteClose(x.grad, wantGrad, 'd crossEntropy')
  })

  it('binaryCrossEntropyWithLogits: softplus never overflows; gradient sigmoid(x) - y, scaled by posWeight where y = 1', () => {
    const xs = [BIG, -BIG, BIG, -BIG, 0]
    const ys = [1, 0, 0, 1, 1]
    const x = tensor(xs, { dtype: 'float32' }).requireGrad()
    const y = tensor(ys, { dtype: 'float32' })
    // Right with certainty costs 0, wrong with certainty costs |x|, undecided costs log 2.
    expectFiniteClose(
      binaryCrossEntropyWithLogits(x, y, { reduction: 'none' }),
      [0, 0, BIG, BIG, Math.LN2],
      'bce per element',
    )
    const loss = binaryCrossEntropyWithLogits(x, y)
    expectFiniteClose(loss, [(2 * BIG + Math.LN2) / 5], 'bce mean')
    loss.backward()
    const sig = (v: number) => (v > 0 ? 1 : v < 0 ? 0 : 0.5)
    expectFiniteClose(
      x.grad,
      xs.map((v, i) => (sig(v) - ys[i]!) / 5),
      'd bce',
    )

    // pos_weight 3 multiplies the y = 1 term: loss 3 softplus(-x), gradient 3 (sigmoid(x) - 1) there.
    const xw = tensor(xs, { dtype: 'float32' }).requireGrad()
    const lw = binaryCrossEntropyWithLogits(xw, y, { posWeight: tensor([3], { dtype: 'float32' }), reduction: 'sum' })
    expectFiniteClose(lw, [BIG + 3 * BIG + 3 * Math.LN2], 'bce posWeight sum')
    lw.backward()
    expectFiniteClose(
      xw.grad,
      xs.map((v, i) => (ys[i] ? 3 * (sig(v) - 1) : sig(v))),
      'd bce posWeight',
    )
  })

  it('binaryCrossEntropy at p = 0 and 1: each log clamped at -100, gradients finite (PyTorch: +-1e12)', () => {
    const p = tensor([0, 1, 0, 1, 0.25], { dtype: 'float32' }).requireGrad()
    const y = tensor([1, 0, 0, 1, 1], { dtype: 'float32' })
    const loss = binaryCrossEntropy(p, y, { reduction: 'none' })
    expectFiniteClose(loss, [100, 100, 0, 0, Math.log(4)], 'bce of probabilities')
    loss.sum().backward()
    const g = [...p.grad!.data]
    expect(g.every(Number.isFinite), `gradients ${g.join(', ')} are finite`).toBe(true)
    // The clamped logs' gradients are 1 / max(p, 1e-12): -1e12 pushing p = 0 up, +1e12 pushing p = 1 down.
    expectFiniteClose(p.grad, [-1e12, 1e12, 1, -1, -4], 'd bce', 1e-6, 1e-6)
  })
})

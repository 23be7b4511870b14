/** updateBatchNorm and momentum = null (PyTorch's cumulative average), on BatchNorm1d. */
import { describe, expect, it } from 'vitest'
import { manualSeed, nn, randn } from '../src/index.js'

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const unbiasedVar = (xs: number[]) => {
  const m = mean(xs)
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)
}

describe('updateBatchNorm', () => {
  it('sets the running statistics to the average over the batches and restores momentum and mode', () => {
    manualSeed(0)
    const bn = new nn.BatchNorm1d(3, { dtype: 'float64' })
    const model = new nn.Sequential(new nn.Linear(2, 3, { dtype: 'float64' }), bn)
    model.eval()
    const batches = [randn([5, 2], { dtype: 'float64' }), randn([7, 2], { dtype: 'float64', mean: 2 })]
    // Stale statistics that must be discarded.
    bn.running_mean!.storage.fill(9)
    nn.updateBatchNorm(
      model,
      batches.map((b) => [b]),
    )
    expect(bn.momentum).toBe(0.1)
    expect(model.training).toBe(false)
    expect(Number(bn.num_batches_tracked!.storage[0])).toBe(2)
    // Recompute the per-batch statistics of the Linear output by hand.
    const lin = [...model.namedChildren()][0]![1] as nn.Linear
    for (let c = 0; c < 3; c++) {
      const stats = batches.map((b) => {
        const y = lin.call(b).data as Float64Array
        const col = Array.from({ length: b.shape[0]! }, (_, i) => y[i * 3 + c]!)
        return [mean(col), unbiasedVar(col)]
      })
      expect(bn.running_mean!.storage[c]).toBeCloseTo(mean(stats.map((s) => s[0]!)), 12)
      expect(bn.running_var!.storage[c]).toBeCloseTo(mean(stats.map((s) => s[1]!)), 12)
    }
  })
})

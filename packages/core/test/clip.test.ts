import { describe, expect, it } from 'vitest'
import { Parameter } from '../src/nn/module.js'
import { tensor } from '../src/tensor.js'
import { clipGradNorm, clipGradValue } from '../src/optim/clip.js'

const withGrad = (g: number[]) => {
  const p = new Parameter(
    tensor(
      g.map(() => 0),
      { dtype: 'float64' },
    ),
  )
  p.grad = tensor(g, { dtype: 'float64' })
  return p
}
const norm = (ps: Parameter[]) => Math.hypot(...ps.flatMap((p) => [...p.grad!.data]))

describe('clipGradNorm', () => {
  it('rescales all gradients by maxNorm / (norm + 1e-6) when the global L2 norm is larger', () => {
    const ps = [withGrad([3, 0]), withGrad([4])] // global norm 5
    const total = clipGradNorm(ps, 1)
    expect(total).toBe(5)
    const c = 1 / (5 + 1e-6)
    expect([...ps[0]!.grad!.data]).toEqual([3 * c, 0])
    expect([...ps[1]!.grad!.data]).toEqual([4 * c])
    expect(norm(ps)).toBeLessThan(1)
    expect(norm(ps)).toBeCloseTo(1, 6)
  })

  it('leaves gradients under the limit alone and skips parameters without one', () => {
    const a = withGrad([0.3, 0.4])
    const b = new Parameter(tensor([1], { dtype: 'float64' }))
    const g = a.grad
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(0.5, 15)
    expect(a.grad).toBe(g)
    expect(b.grad).toBeNull()
    expect(clipGradNorm([b], 1)).toBe(0)
  })

  it('max norm (Infinity) and other p-norms', () => {
    const ps = [withGrad([1, -6]), withGrad([2])]
    expect(clipGradNorm(ps, 100, Infinity)).toBe(6)
    expect(clipGradNorm([withGrad([1, -2]), withGrad([3])], 100, 1)).toBe(6)
    const q = [withGrad([1, -6])]
    clipGradNorm(q, 3, Infinity)
    expect(q[0]!.grad!.data[1]).toBeCloseTo(-3, 5)
  })

  it('gradients that share storage are each scaled once', () => {
    const a = withGrad([3, 4])
    const b = new Parameter(tensor([0, 0], { dtype: 'float64' }))
    b.grad = a.grad!.detach() // same storage, as autograd can produce for x + y
    clipGradNorm([a, b], 1)
    const c = 1 / (Math.sqrt(50) + 1e-6)
    expect([...a.grad!.data]).toEqual([3 * c, 4 * c])
    expect([...b.grad!.data]).toEqual([3 * c, 4 * c])
  })
})

describe('clipGradValue', () => {
  it('clamps each element to [-v, v]', () => {
    const a = withGrad([-5, 0.5, 2])
    clipGradValue([a], 1)
    expect([...a.grad!.data]).toEqual([-1, 0.5, 1])
    expect(() => clipGradValue([a], -1)).toThrow(/clipValue must be >= 0/)
  })
})

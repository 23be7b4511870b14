import { describe, expect, it } from 'vitest'
import { Generator } from '../src/random.js'
import { matmul } from '../src/backends/js/matmul.js'
import { matmul as matmulOp, randn } from '../src/ops/index.js'
import { manualSeed } from '../src/random.js'
import { getBackend, setBackend } from '../src/backend.js'
import type { KernelTable } from '../src/kernel-table.js'

/** The textbook triple loop, in float64. */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!
  return c
}

function random(len: number, g: Generator, sparsity = 0): Float64Array {
  return Float64Array.from({ length: len }, () => (g.random() < sparsity ? 0 : g.normal()))
}

describe('js MatMul kernel (4x4 register tiles)', () => {
  const g = new Generator(0)
  // Sizes around the tile edges: multiples of 4, remainders in m and k, a single row/column.
  for (const [m, k, n] of [
    [8, 8, 8],
    [5, 7, 3],
    [1, 9, 4],
    [13, 1, 6],
    [4, 4, 1],
    [6, 17, 11],
  ] as const)
    it(`matches the triple loop for ${m}x${k} @ ${k}x${n}, dense and sparse`, () => {
      for (const sparsity of [0, 0.8]) {
        const a = random(m * k, g, sparsity)
        const b = random(k * n, g)
        const out = new Float64Array(m * n).fill(NaN)
        matmul(a, b, out, m, k, n, 1, 0, 0)
        const ref = reference(a, b, m, k, n)
        for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(ref[i]!, 12)
      }
    })

  it('handles batches with per-batch and shared operands', () => {
    const [m, k, n, batch] = [5, 6, 3, 3]
    const a = random(batch * m * k, g)
    const b = random(k * n, g)
    const out = new Float64Array(batch * m * n)
    matmul(a, b, out, m, k, n, batch, m * k, 0)
    for (let t = 0; t < batch; t++) {
      const ref = reference(a.subarray(t * m * k, (t + 1) * m * k), b, m, k, n)
      for (let i = 0; i < m * n; i++) expect(out[t * m * n + i]).toBeCloseTo(ref[i]!, 12)
    }
  })

  it('writes float32 output and overwrites what was there', () => {
    const out = new Float32Array(4).fill(99)
    matmul(Float32Array.from([1, 2, 3, 4]), Float32Array.from([5, 6, 7, 8]), out, 2, 2, 2, 1, 0, 0)
    expect([...out]).toEqual([19, 22, 43, 50])
  })
})

describe('matmul with a transposed first operand (read in place by MatMulTransA)', () => {
  it.each([
    [
      [7, 1],
      [7, 5],
    ],
    [
      [7, 16],
      [7, 9],
    ],
    [
      [3, 7, 6],
      [3, 7, 4],
    ],
    [
      [7, 6],
      [2, 7, 4],
    ],
    [
      [2, 7, 6],
      [7, 4],
    ],
  ])('x %j transposed @ y %j equals the copied-transpose product', (xShape, yShape) => {
    manualSeed(6)
    const x = randn(xShape, { dtype: 'float64' })
    const y = randn(yShape, { dtype: 'float64' })
    const xt = x.transpose(-1, -2)
    const fast = matmulOp(xt, y)
    const ref = matmulOp(xt.contiguous(), y)
    expect(fast.shape).toEqual(ref.shape)
    for (let i = 0; i < ref.data.length; i++) expect(fast.data[i]).toBeCloseTo(ref.data[i]!, 12)
  })

  it('calls the MatMulTransA kernel with the transposed view in place (no StridedCopy)', () => {
    const prev = getBackend()
    const calls: string[] = []
    const spy = <K extends 'MatMulTransA' | 'MatMul' | 'StridedCopy'>(name: K) =>
      ((...args: unknown[]) => {
        calls.push(name)
        return (prev.kernels[name] as (...a: unknown[]) => void)(...args)
      }) as KernelTable[K]
    setBackend({
      name: prev.name,
      kernels: {
        ...prev.kernels,
        MatMulTransA: spy('MatMulTransA'),
        MatMul: spy('MatMul'),
        StridedCopy: spy('StridedCopy'),
      },
    })
    try {
      const x = randn([64, 32])
      const y = randn([64, 16])
      const z = matmulOp(x.transpose(0, 1), y)
      expect(calls).toEqual(['MatMulTransA'])
      expect(z.shape).toEqual([32, 16])
    } finally {
      setBackend(prev)
    }
  })
})

describe('matmul with a transposed dense weight (read in place by MatMulTransB)', () => {
  it.each([[[1, 7]], [[3, 7]], [[16, 7]], [[2, 3, 7]], [[17, 7]]])(
    'x %j @ W^T equals the copied-transpose product',
    (xShape) => {
      manualSeed(5)
      const x = randn(xShape, { dtype: 'float64' })
      const w = randn([10, 7], { dtype: 'float64' })
      const fast = matmulOp(x, w.transpose(0, 1))
      const ref = matmulOp(x, w.transpose(0, 1).contiguous())
      expect(fast.shape).toEqual(ref.shape)
      const a = fast.data
      const b = ref.data
      for (let i = 0; i < b.length; i++) expect(a[i]).toBeCloseTo(b[i]!, 12)
    },
  )
})

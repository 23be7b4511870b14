import { describe, expect, it } from 'vitest'
import { randn } from '../src/ops/index.js'
import { Generator } from '../src/random.js'
import { type Tensor, tensor } from '../src/tensor.js'
import { parseIdx, idxToImageSet } from '../src/data/idx.js'
import { svd, symmetricEig } from '../src/data/linalg.js'
import { pca, pcaWhiten, zcaWhiten } from '../src/data/pca.js'

/** C = A B for row-major (m, k) and (k, n). */
function mm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n)
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!
  return c
}
const tr = (a: ArrayLike<number>, m: number, n: number) =>
  Float64Array.from({ length: m * n }, (_, i) => a[(i % m) * n + Math.floor(i / m)]!)
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))
const eye = (n: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0))

function randomMatrix(m: number, n: number, seed: number): Float64Array {
  const g = new Generator(seed)
  return Float64Array.from({ length: m * n }, () => g.normal())
}

/** Sample covariance (n - 1) of an (N, d) tensor. */
function covariance(y: Tensor): Float64Array {
  const [n, d] = y.shape as [number, number]
  const yc = y.to('float64').sub(y.to('float64').mean(0))
  return mm(tr(yc.data as Float64Array, n, d), yc.data as Float64Array, d, n, d).map((v) => v / (n - 1))
}

describe('symmetricEig (Jacobi)', () => {
  it('finds the spectrum of a 2x2 matrix', () => {
    const { values, vectors } = symmetricEig([2, 1, 1, 2], 2)
    expect([...values]).toEqual([3, 1].map((v) => expect.closeTo(v, 14)))
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 14)
    expect(vectors[0]! * vectors[2]!).toBeGreaterThan(0) // (1, 1) / sqrt 2 up to sign
  })

  it('A V = V diag(lambda) with orthonormal V for a random symmetric matrix', () => {
    const d = 7
    const r = randomMatrix(d, d, 1)
    const a = Float64Array.from({ length: d * d }, (_, i) => r[i]! + r[(i % d) * d + Math.floor(i / d)]!)
    const { values, vectors } = symmetricEig(a, d)
    const av = mm(a, vectors, d, d, d)
    const vl = Float64Array.from(vectors, (v, i) => v * values[i % d]!)
    expect(maxDiff(av, vl)).toBeLessThan(1e-12)
    expect(maxDiff(mm(tr(vectors, d, d), vectors, d, d, d), eye(d))).toBeLessThan(1e-13)
    for (let i = 1; i < d; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!)
  })

  it('rejects a non-symmetric matrix', () => {
    expect(() => symmetricEig([1, 2, 3, 4], 2)).toThrow(/not symmetric/)
  })
})

describe('svd (one-sided Jacobi)', () => {
  for (const [m, n] of [
    [9, 4],
    [3, 6],
    [5, 5],
  ] as const)
    it(`reconstructs a random ${m}x${n} matrix with orthonormal factors`, () => {
      const a = randomMatrix(m, n, m * 10 + n)
      const { u, s, v } = svd(a, m, n)
      const r = Math.min(m, n)
      const us = Float64Array.from(u, (x, i) => x * s[i % r]!)
      expect(maxDiff(mm(us, tr(v, n, r), m, r, n), a)).toBeLessThan(1e-12)
      expect(maxDiff(mm(tr(u, m, r), u, r, m, r), eye(r))).toBeLessThan(1e-12)
      expect(maxDiff(mm(tr(v, n, r), v, r, n, r), eye(r))).toBeLessThan(1e-12)
      // Singular values are the square roots of the eigenvalues of A^T A (or A A^T).
      const gram = m >= n ? mm(tr(a, m, n), a, n, m, n) : mm(a, tr(a, m, n), m, n, m)
      const ev = symmetricEig(gram, r).values
      expect(maxDiff(s, ev.map(Math.sqrt))).toBeLessThan(1e-10)
    })

  it('handles a rank-deficient matrix (zero singular values)', () => {
    // Rows 0 and 1 equal, column 2 = column 0 + column 1: rank 2.
    const a = [1, 2, 3, 1, 2, 3, 4, 0, 4, 0, 1, 1]
    const { u, s, v, rank } = svd(a, 4, 3)
    expect(rank).toBe(2)
    expect(s[2]!).toBeLessThan(1e-12)
    const us = Float64Array.from(u, (x, i) => x * s[i % 3]!)
    expect(maxDiff(mm(us, tr(v, 3, 3), 4, 3, 3), a)).toBeLessThan(1e-12)
  })
})

describe('PCA', () => {
  const x = randn([50, 5], { generator: new Generator(4) })
    .mul(tensor([3, 1, 0.5, 2, 0.1]))
    .add(tensor([1, -2, 0, 5, 3]))

  it('eig and svd give the same components and variances', () => {
    const a = pca(x, 3, { method: 'eig' })
    const b = pca(x, 3, { method: 'svd' })
    expect(maxDiff(a.components.data, b.components.data)).toBeLessThan(1e-10)
    expect(maxDiff(a.explainedVariance.data, b.explainedVariance.data)).toBeLessThan(1e-10)
    expect(a.components.shape).toEqual([3, 5])
    // Ratios are shares of the total variance (the trace of the covariance).
    const total = covariance(x)
      .filter((_, i) => i % 6 === 0)
      .reduce((p, q) => p + q, 0)
    expect(a.explainedVarianceRatio.data[0]).toBeCloseTo(a.explainedVariance.data[0]! / total, 12)
    expect(a.singularValues.data[0]).toBeCloseTo(Math.sqrt(a.explainedVariance.data[0]! * 49), 10)
  })

  it('projections are uncorrelated with the explained variances; all components reconstruct exactly', () => {
    const p = pca(x)
    const z = p.transform(x.double())
    const c = covariance(z)
    expect(
      maxDiff(
        c,
        Float64Array.from(eye(5), (v, i) => v * p.explainedVariance.data[i % 5]!),
      ),
    ).toBeLessThan(1e-10)
    expect(maxDiff(p.inverseTransform(z).data, x.double().data)).toBeLessThan(1e-5)
    expect(p.transform(x).dtype).toBe('float32')
  })

  it('dropping components loses exactly their variance', () => {
    const p = pca(x.double(), 2)
    const err = p.inverseTransform(p.transform(x.double())).sub(x.double()).square().sum().item()
    const full = pca(x.double())
    const dropped = [...full.explainedVariance.data].slice(2).reduce((a, b) => a + b, 0) * 49
    expect(err).toBeCloseTo(dropped, 6)
  })

  it('rejects bad arguments', () => {
    expect(() => pca(x, 6)).toThrow(/k must be/)
    expect(() => pca(x, 2, { method: 'qr' as 'eig' })).toThrow(/method/)
    expect(() => pca(tensor([[1, 2]]))).toThrow(/N >= 2/)
  })
})

describe('whitening', () => {
  const x = randn([200, 4], { generator: new Generator(9) }).matmul(
    tensor([
      [2, 0.5, 0, 0],
      [0, 1, 0.3, 0],
      [0, 0, 0.5, 0.1],
      [1, 0, 0, 0.2],
    ]),
  )

  it('PCA whitening gives identity covariance (eps = 0) and keeps k dims', () => {
    const w = pcaWhiten(x, { eps: 0 })
    expect(maxDiff(covariance(w.transform(x.double())), eye(4))).toBeLessThan(1e-9)
    expect(pcaWhiten(x, { k: 2 }).transform(x).shape).toEqual([200, 2])
    expect(maxDiff(w.inverse(w.transform(x.double())).data, x.double().data)).toBeLessThan(1e-9)
  })

  it('ZCA whitening gives identity covariance, with a symmetric map', () => {
    const w = zcaWhiten(x, { eps: 0, method: 'svd' })
    expect(maxDiff(covariance(w.transform(x.double())), eye(4))).toBeLessThan(1e-9)
    expect(maxDiff(w.matrix.data, w.matrix.T.contiguous().data)).toBeLessThan(1e-12)
  })

  it('eps damps each direction to lambda / (lambda + eps)', () => {
    const eps = 0.1
    const p = pca(x)
    const c = covariance(pcaWhiten(x, { eps }).transform(x.double()))
    const expected = Float64Array.from(eye(4), (v, i) =>
      v ? p.explainedVariance.data[i % 4]! / (p.explainedVariance.data[i % 4]! + eps) : 0,
    )
    expect(maxDiff(c, expected)).toBeLessThan(1e-9)
  })
})

describe('IDX parsing', () => {
  const header = (type: number, dims: number[]) => {
    const b = new Uint8Array(4 + 4 * dims.length)
    const dv = new DataView(b.buffer)
    b[2] = type
    b[3] = dims.length
    dims.forEach((d, i) => {
      dv.setUint32(4 + 4 * i, d)
    })
    return b
  }
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
    let o = 0
    for (const p of parts) {
      out.set(p, o)
      o += p.length
    }
    return out
  }

  it('reads uint8 images and labels into [0, 1] tensors', () => {
    const images = parseIdx(cat(header(0x08, [2, 2, 3]), Uint8Array.from([0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6])))
    const labels = parseIdx(cat(header(0x08, [2]), Uint8Array.from([7, 3])))
    expect(images.dims).toEqual([2, 2, 3])
    const set = idxToImageSet(images, labels)
    expect(set.images.shape).toEqual([2, 6])
    expect(set.images.data[1]).toBe(1)
    expect(set.images.data[2]).toBeCloseTo(0.2, 7)
    expect(set.labels.toArray()).toEqual([7, 3])
    expect(idxToImageSet(images, labels, { layout: 'nchw', limit: 1 }).images.shape).toEqual([1, 1, 2, 3])
  })

  it('reads big-endian int32 and float32', () => {
    const body = new Uint8Array(8)
    new DataView(body.buffer).setInt32(0, -5)
    new DataView(body.buffer).setFloat32(4, 1.5)
    expect([...parseIdx(cat(header(0x0c, [1]), body.subarray(0, 4))).values]).toEqual([-5])
    expect([...parseIdx(cat(header(0x0d, [1]), body.subarray(4))).values]).toEqual([1.5])
  })

  it('rejects bad magic (e.g. still gzipped) and truncated files', () => {
    expect(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0, 0]))).toThrow(/gzipped/)
    expect(() => parseIdx(cat(header(0x08, [3]), Uint8Array.from([1])))).toThrow(/file has/)
  })
})

/**
 * Dense float64 eigen- and singular-value decompositions for PCA and whitening, by Jacobi rotations:
 * short, unconditionally convergent and accurate to working precision (Golub & Van Loan, Matrix
 * Computations, 4th ed., §8.5 "Jacobi methods"). O(d^3) per sweep and usually under ten sweeps:
 * right for feature counts up to a few hundred; not a LAPACK replacement.
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'

const MAX_SWEEPS = 100

/**
 * The rotation tangent t = s/c that zeroes the (p, q) entry, from zeta = (a_qq - a_pp) / (2 a_pq):
 * the smaller root of t^2 + 2 zeta t - 1 = 0.
 * NOTE: written as sign(zeta) / (|zeta| + sqrt(1 + zeta^2)) rather than -zeta + sqrt(...), which
 * cancels catastrophically for large zeta; choosing the smaller root keeps |angle| <= pi/4, which is
 * what makes the cyclic method converge (Golub & Van Loan Alg. 8.5.1).
 */
function tangent(zeta: number): number {
  return (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta))
}

/** Order of `values` from largest to smallest. */
const descending = (values: Float64Array) => Int32Array.from(values.keys()).sort((i, j) => values[j]! - values[i]!)

export interface Eigh {
  /** Eigenvalues, largest first. */
  values: Float64Array
  /** Eigenvectors as the columns of a row-major (d, d) matrix, in the order of `values`. */
  vectors: Float64Array
}

/**
 * Eigendecomposition of a symmetric (d, d) matrix (row-major) by the cyclic Jacobi method: rotate
 * away each off-diagonal entry in turn until the off-diagonal mass is negligible; the diagonal is
 * then the spectrum and the accumulated rotations the eigenvectors.
 */
export function symmetricEig(matrix: ArrayLike<number>, d: number): Eigh {
  if (matrix.length !== d * d)
    throw new ShapeError(`symmetricEig: expected ${d * d} values for a ${d}x${d} matrix, got ${matrix.length}`)
  const a = Float64Array.from(matrix)
  const v = new Float64Array(d * d)
  for (let i = 0; i < d; i++) v[i * d + i] = 1
  for (let i = 0; i < d; i++)
    for (let j = 0; j < i; j++)
      if (Math.abs(a[i * d + j]! - a[j * d + i]!) > 1e-9 * (Math.abs(a[i * d + j]!) + Math.abs(a[j * d + i]!) + 1e-300))
        throw new ArgumentError(`symmetricEig: matrix is not symmetric at (${i}, ${j})`)
  let total = 0
  for (let i = 0; i < d * d; i++) total += a[i]! * a[i]!
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += 2 * a[p * d + q]! ** 2
    if (off <= 1e-30 * total || off === 0) break
    for (let p = 0; p < d - 1; p++)
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!
        // Negligible next to both diagonal entries: set it to zero instead of rotating.
        if (Math.abs(apq) <= 1e-18 * (Math.abs(a[p * d + p]!) + Math.abs(a[q * d + q]!))) {
          a[p * d + q] = 0
          a[q * d + p] = 0
          continue
        }
        const t = tangent((a[q * d + q]! - a[p * d + p]!) / (2 * apq))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = t * c
        // A <- J^T A J and V <- V J, with J the rotation in the (p, q) plane.
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!
          const akq = a[k * d + q]!
          a[k * d + p] = c * akp - s * akq
          a[k * d + q] = s * akp + c * akq
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!
          const aqk = a[q * d + k]!
          a[p * d + k] = c * apk - s * aqk
          a[q * d + k] = s * apk + c * aqk
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!
          const vkq = v[k * d + q]!
          v[k * d + p] = c * vkp - s * vkq
          v[k * d + q] = s * vkp + c * vkq
        }
      }
  }
  const diag = Float64Array.from({ length: d }, (_, i) => a[i * d + i]!)
  const order = descending(diag)
  const vectors = new Float64Array(d * d)
  order.forEach((src, dst) => {
    for (let k = 0; k < d; k++) vectors[k * d + dst] = v[k * d + src]!
  })
  return { values: Float64Array.from(order, (i) => diag[i]!), vectors }
}

export interface Svd {
  /** Left singular vectors, (m, r) row-major, r = min(m, n). */
  u: Float64Array
  /** Singular values, largest first. */
  s: Float64Array
  /** Right singular vectors, (n, r) row-major: A = U diag(s) V^T. */
  v: Float64Array
  rank: number
}

/**
 * Thin SVD of an (m, n) matrix by one-sided Jacobi (Hestenes 1958): rotate pairs of columns of A
 * until all columns are mutually orthogonal; then A V = U diag(s), with s the column norms.
 * Works on the columns of A (m >= n) or of A^T (m < n), so the rotations act on the short side.
 */
export function svd(matrix: ArrayLike<number>, m: number, n: number): Svd {
  if (matrix.length !== m * n)
    throw new ShapeError(`svd: expected ${m * n} values for a ${m}x${n} matrix, got ${matrix.length}`)
  if (m < n) {
    const t = new Float64Array(m * n)
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = matrix[i * n + j]!
    const r = svd(t, n, m)
    return { u: r.v, s: r.s, v: r.u, rank: r.rank }
  }
  // Work on columns: store A column-major so a column is contiguous.
  const a = new Float64Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = matrix[i * n + j]!
  const v = new Float64Array(n * n)
  for (let i = 0; i < n; i++) v[i * n + i] = 1
  const eps = 1e-15
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        let alpha = 0
        let beta = 0
        let gamma = 0
        for (let i = 0; i < m; i++) {
          const x = a[p * m + i]!
          const y = a[q * m + i]!
          alpha += x * x
          beta += y * y
          gamma += x * y
        }
        // Columns already orthogonal to working precision: skip.
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue
        rotated = true
        const t = tangent((beta - alpha) / (2 * gamma))
        const c = 1 / Math.sqrt(1 + t * t)
        const s = t * c
        for (let i = 0; i < m; i++) {
          const x = a[p * m + i]!
          const y = a[q * m + i]!
          a[p * m + i] = c * x - s * y
          a[q * m + i] = s * x + c * y
        }
        for (let k = 0; k < n; k++) {
          const x = v[k * n + p]!
          const y = v[k * n + q]!
          v[k * n + p] = c * x - s * y
          v[k * n + q] = s * x + c * y
        }
      }
    if (!rotated) break
  }
  const norms = Float64Array.from({ length: n }, (_, j) => {
    let s = 0
    for (let i = 0; i < m; i++) s += a[j * m + i]! ** 2
    return Math.sqrt(s)
  })
  const order = descending(norms)
  const s = Float64Array.from(order, (j) => norms[j]!)
  const u = new Float64Array(m * n)
  const vs = new Float64Array(n * n)
  order.forEach((src, dst) => {
    const sv = norms[src]!
    for (let i = 0; i < m; i++) u[i * n + dst] = sv > 0 ? a[src * m + i]! / sv : 0
    for (let k = 0; k < n; k++) vs[k * n + dst] = v[k * n + src]!
  })
  return { u, s, v: vs, rank: s.filter((x) => x > s[0]! * 1e-12).length }
}

function matrixOf(t: Tensor, what: string): [ArrayLike<number>, number, number] {
  if (t.rank !== 2) throw new ShapeError(`${what} needs a 2-D tensor, got ${fmt(t.shape)}`)
  return [t.data as ArrayLike<number>, t.shape[0]!, t.shape[1]!]
}

/** `symmetricEig` on a tensor: eigenvalues (d) and eigenvectors as columns (d, d), float64. */
export function eigh(t: Tensor): { values: Tensor; vectors: Tensor } {
  const [data, d, d2] = matrixOf(t, 'eigh')
  if (d !== d2) throw new ShapeError(`eigh needs a square matrix, got ${fmt(t.shape)}`)
  const r = symmetricEig(data, d)
  return { values: new Tensor(r.values, [d]), vectors: new Tensor(r.vectors, [d, d]) }
}

/** Thin SVD of a 2-D tensor: U (m, r), S (r), V (n, r), float64, with A = U diag(S) V^T. */
export function svdTensor(t: Tensor): { u: Tensor; s: Tensor; v: Tensor } {
  const [data, m, n] = matrixOf(t, 'svd')
  const r = svd(data, m, n)
  const k = Math.min(m, n)
  return { u: new Tensor(r.u, [m, k]), s: new Tensor(r.s, [k]), v: new Tensor(r.v, [n, k]) }
}

/**
 * The reference GEMM of the `js` backend: out[b] = a[b] (m x k) @ b[b] (k x n), row-major.
 *
 * Loop order i-p-j, so the inner loop walks a row of `b` and a row of `out` contiguously, with a
 * 4 x 4 register tile: four rows of `a` (i) times four rows of `b` (p) per pass over j. Each pass
 * loads 4 values of b and 4 of out and does 16 multiply-adds, where the plain i-p-j loop does one
 * multiply-add per load/store pair; on a 2-core AVX2 machine that is ~4x faster (measured
 * when the kernel was written: naive 0.8 GFLOP/s, 4x4 tiles 3.6). A tile whose 16 values of `a` are all zero is
 * skipped: inputs such as MNIST pixels (about 80% zeros) and ReLU activations are sparse.
 * NOTE: the skip is taken only when `b` is all finite: 0 * Inf and 0 * NaN are NaN (IEEE 754), and
 * ONNX Runtime propagates them, so a zero row of `a` must still meet a non-finite `b`.
 * Rows and columns of `a` that do not fill a tile are handled one at a time.
 */
import type { FloatArray } from '../../kernel-table.js'

export function matmul(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bStride: number,
): void {
  for (let t = 0; t < batch; t++) {
    const ao = t * aStride
    const bo = t * bStride
    const oo = t * m * n
    out.fill(0, oo, oo + m * n)
    const skip = allFinite(b, bo, bo + k * n)
    let i = 0
    for (; i + 4 <= m; i += 4) tile4(a, b, out, ao + i * k, bo, oo + i * n, k, n, skip)
    for (; i < m; i++) row1(a, b, out, ao + i * k, bo, oo + i * n, k, n, skip)
  }
}

/** True when b[from..to) holds no Inf or NaN (x - x is 0 only for finite x). */
function allFinite(b: FloatArray, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const v = b[i]!
    if (v - v !== 0) return false
  }
  return true
}

/** out rows r..r+3 += a rows r..r+3 @ b, with a at offset `ar` (row stride k) and out at `or` (row stride n). */
function tile4(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  ar: number,
  bo: number,
  or: number,
  k: number,
  n: number,
  skip: boolean,
): void {
  const a0 = ar
  const a1 = ar + k
  const a2 = ar + 2 * k
  const a3 = ar + 3 * k
  const o0 = or
  const o1 = or + n
  const o2 = or + 2 * n
  const o3 = or + 3 * n
  let p = 0
  for (; p + 4 <= k; p += 4) {
    const x00 = a[a0 + p]!,
      x01 = a[a0 + p + 1]!,
      x02 = a[a0 + p + 2]!,
      x03 = a[a0 + p + 3]!
    const x10 = a[a1 + p]!,
      x11 = a[a1 + p + 1]!,
      x12 = a[a1 + p + 2]!,
      x13 = a[a1 + p + 3]!
    const x20 = a[a2 + p]!,
      x21 = a[a2 + p + 1]!,
      x22 = a[a2 + p + 2]!,
      x23 = a[a2 + p + 3]!
    const x30 = a[a3 + p]!,
      x31 = a[a3 + p + 1]!,
      x32 = a[a3 + p + 2]!,
      x33 = a[a3 + p + 3]!
    if (
      skip &&
      x00 === 0 &&
      x01 === 0 &&
      x02 === 0 &&
      x03 === 0 &&
      x10 === 0 &&
      x11 === 0 &&
      x12 === 0 &&
      x13 === 0 &&
      x20 === 0 &&
      x21 === 0 &&
      x22 === 0 &&
      x23 === 0 &&
      x30 === 0 &&
      x31 === 0 &&
      x32 === 0 &&
      x33 === 0
    )
      continue
    const b0 = bo + p * n
    const b1 = b0 + n
    const b2 = b1 + n
    const b3 = b2 + n
    for (let j = 0; j < n; j++) {
      const v0 = b[b0 + j]!,
        v1 = b[b1 + j]!,
        v2 = b[b2 + j]!,
        v3 = b[b3 + j]!
      out[o0 + j]! += x00 * v0 + x01 * v1 + x02 * v2 + x03 * v3
      out[o1 + j]! += x10 * v0 + x11 * v1 + x12 * v2 + x13 * v3
      out[o2 + j]! += x20 * v0 + x21 * v1 + x22 * v2 + x23 * v3
      out[o3 + j]! += x30 * v0 + x31 * v1 + x32 * v2 + x33 * v3
    }
  }
  // Leftover columns of a (k not a multiple of 4): one row of b at a time.
  for (; p < k; p++) {
    const x0 = a[a0 + p]!,
      x1 = a[a1 + p]!,
      x2 = a[a2 + p]!,
      x3 = a[a3 + p]!
    if (skip && x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue
    const bp = bo + p * n
    for (let j = 0; j < n; j++) {
      const v = b[bp + j]!
      out[o0 + j]! += x0 * v
      out[o1 + j]! += x1 * v
      out[o2 + j]! += x2 * v
      out[o3 + j]! += x3 * v
    }
  }
}

/** One leftover row: the plain i-p-j loop. */
function row1(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  ar: number,
  bo: number,
  or: number,
  k: number,
  n: number,
  skip: boolean,
): void {
  for (let p = 0; p < k; p++) {
    const x = a[ar + p]!
    if (skip && x === 0) continue
    const bp = bo + p * n
    for (let j = 0; j < n; j++) out[or + j]! += x * b[bp + j]!
  }
}

/**
 * out[b] = at[b]^T @ b[b] with at[b] (k x m) row-major. The reference transposes each batch's `at` into
 * a scratch (m x k) matrix and multiplies as `matmul`: the wasm kernel reads `at` in place.
 */
export function matmulTransA(
  at: FloatArray,
  b: FloatArray,
  out: FloatArray,
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bStride: number,
): void {
  const a = new (at.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(m * k)
  for (let t = 0; t < batch; t++) {
    const ao = t * aStride
    for (let p = 0; p < k; p++) for (let i = 0; i < m; i++) a[i * k + p] = at[ao + p * m + i]!
    matmul(a, b.subarray(t * bStride), out.subarray(t * m * n, (t + 1) * m * n), m, k, n, 1, 0, 0)
  }
}

/**
 * out[b] = a[b] (m x k) @ bt^T with bt (n x k) row-major: every output is the dot product of a row
 * of `a` with a row of `bt`, both contiguous, so a transposed weight is read in place. Four rows of
 * `bt` per pass over a row of `a` (four independent accumulators).
 */
export function matmulTransB(
  a: FloatArray,
  bt: FloatArray,
  out: FloatArray,
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bias: FloatArray | null = null,
): void {
  productTransB(a, bt, out, m, k, n, batch, aStride)
  // The bias after the product: (a bt^T) + bias, rounded as the unfused product and add.
  if (bias) for (let r = 0; r < batch * m; r++) for (let j = 0; j < n; j++) out[r * n + j]! += bias[j]!
}

function productTransB(
  a: FloatArray,
  bt: FloatArray,
  out: FloatArray,
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
): void {
  // Many rows of `a` (more than 16 in all): a transposed copy of `bt` and the tiled GEMM above are faster.
  if (batch * m > 16) {
    const b = bt instanceof Float64Array ? new Float64Array(k * n) : new Float32Array(k * n)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) b[p * n + j] = bt[j * k + p]!
    matmul(a, b, out, m, k, n, batch, aStride, 0)
    return
  }
  for (let t = 0; t < batch; t++) {
    const ao = t * aStride
    const oo = t * m * n
    for (let i = 0; i < m; i++) {
      const ar = ao + i * k
      const or = oo + i * n
      let j = 0
      for (; j + 4 <= n; j += 4) {
        const b0 = j * k
        const b1 = b0 + k
        const b2 = b1 + k
        const b3 = b2 + k
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0
        for (let p = 0; p < k; p++) {
          const x = a[ar + p]!
          s0 += x * bt[b0 + p]!
          s1 += x * bt[b1 + p]!
          s2 += x * bt[b2 + p]!
          s3 += x * bt[b3 + p]!
        }
        out[or + j] = s0
        out[or + j + 1] = s1
        out[or + j + 2] = s2
        out[or + j + 3] = s3
      }
      for (; j < n; j++) {
        const b0 = j * k
        let s = 0
        for (let p = 0; p < k; p++) s += a[ar + p]! * bt[b0 + p]!
        out[or + j] = s
      }
    }
  }
}

/**
 * The WebAssembly kernels of the `wasm` backend, in AssemblyScript (compiled by scripts/build-wasm.mjs
 * twice: with relaxed SIMD, where `madd` is one fused multiply-add, and without, where it is a mul and an
 * add; the source is the same).
 *
 * Everything is float32, NCHW, row-major, and addressed by byte pointers into the one linear memory that
 * the JS side (src/backends/wasm) fills. Each exported kernel takes a pointer to an int32 parameter block
 * (see `P`), a thread id and a thread count, and does its share of the work: the JS side calls it on
 * every thread of the pool with the same block, so the split of work between threads lives here, where
 * the loops are. A thread's share never depends on timing, and every output element is summed in the same
 * order whatever the thread count, so results do not depend on it.
 *
 * GEMM is built as in BLIS (Van Zee and van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
 * Functionality", ACM TOMS 2015, https://doi.org/10.1145/2764454): C (M x N) += A (M x K) B (K x N) is cut
 * into NC-wide column blocks, KC-deep slices of K and MC-tall row blocks; each K slice of B is packed into
 * panels of NR = 8 columns and each row block of A into panels of MR = 4 rows, so the micro-kernel reads
 * both operands contiguously; the 4 x 8 micro-kernel keeps its tile of C in 8 SIMD registers. 4 x 8 is the
 * largest tile whose accumulators plus one k-step's loads (8 + 2 + 4 = 14) fit V8's ~15 usable xmm
 * registers; larger tiles spill and run at half speed (measured: see docs/performance.md).
 * Operands are described by a row stride and a column stride, so one packing routine serves A, A^T, B and
 * B^T, and a convolution's unrolled patches, read in place when they need no unrolling.
 */

// ---- parameter blocks ------------------------------------------------------------------------------
// GEMM: C[b] (M x N) = A[b] (M x K) B[b] (K x N) (+ C when beta = 1) (+ bias per row or per column).
// A(i, p) = A[i * rsA + p * csA], B(p, j) = B[p * rsB + j * csB], C(i, j) = C[i * ldc + j].
const G_BATCH = 0, G_M = 1, G_N = 2, G_K = 3
const G_A = 4, G_ABS = 5, G_RSA = 6, G_CSA = 7
const G_B = 8, G_BBS = 9, G_RSB = 10, G_CSB = 11
const G_C = 12, G_CBS = 13, G_LDC = 14, G_BETA = 15
const G_SCRATCH = 16, G_SCRATCH_PER = 17, G_BIAS = 18, G_BIAS_MODE = 19

// Conv2d (the geometry of backends' Conv2dGeometry), pointers, scratch and the split chosen by the JS side.
const C_BATCH = 0, C_INC = 1, C_INH = 2, C_INW = 3, C_OUTC = 4, C_OUTH = 5, C_OUTW = 6, C_KH = 7, C_KW = 8
const C_SH = 9, C_SW = 10, C_PT = 11, C_PL = 12, C_DH = 13, C_DW = 14, C_GROUPS = 15
const C_X = 16, C_W = 17, C_BIAS = 18, C_Y = 19, C_SCRATCH = 20, C_SCRATCH_PER = 21, C_ROWS = 22, C_SPLIT = 23
const C_CHUNKS = 24, C_PART = 25, C_NEXT = 26, C_WPACKED = 27

/**
 * The next work unit of a conv call for whichever thread asks (the counter at C_NEXT, 0 at the start): units
 * go to threads as they become free, so a thread that starts late (a worker woken from sleep, which takes
 * anywhere from microseconds to a millisecond on a busy machine) takes fewer of them instead of making the
 * others wait for its share. Which thread computes a unit does not change its result.
 */
@inline function nextUnit(g: usize): i32 {
  return atomic.add<i32>(g + (<usize>C_NEXT << 2), 1)
}

const MR = 4
const NR = 8
export const KC = 256
export const MC = 128
export const NC = 1024
/** Bytes of scratch one thread needs for GEMM packing (A block, B block, one edge tile). */
export const GEMM_SCRATCH: i32 = (MC * KC + KC * NC + MR * NR) * 4

const BIAS_NONE = 0, BIAS_ROW = 1, BIAS_COL = 2

@inline function pi(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2))
}
@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2)
}
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b
}
@inline function cdiv(a: i32, b: i32): i32 {
  return (a + b - 1) / b
}

/** c + a * b: one fused instruction with relaxed SIMD, a multiply and an add without. */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c)
  return f32x4.add(c, f32x4.mul(a, b))
}

// ---- packing ---------------------------------------------------------------------------------------
/** Transpose the 4 x 4 block of rows r0..r3 and store its columns at dst, dst + step, dst + 2 step, dst + 3 step. */
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5)
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5)
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7)
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7)
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5))
  v128.store(dst + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7))
  v128.store(dst + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5))
  v128.store(dst + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7))
}

/** Rows [0, mc) x columns [0, kc) of A into panels of MR rows: dst[panel][p][r]; short panels padded with 0. */
function packA(A: usize, rsA: i32, csA: i32, mc: i32, kc: i32, dst: usize): void {
  for (let i = 0; i < mc; i += MR) {
    const rows = imin(MR, mc - i)
    const panel = at(dst, i * kc)
    if (rows === MR && rsA === 1) {
      // A^T in memory: the MR values of one k step are adjacent.
      for (let p = 0; p < kc; p++) v128.store(at(panel, p * MR), v128.load(at(A, i + p * csA)))
      continue
    }
    let p = 0
    if (rows === MR && csA === 1) {
      // Row-major A (a weight matrix): 4 x 4 blocks through registers, transposed on the way.
      const a0 = at(A, i * rsA), a1 = at(a0, rsA), a2 = at(a1, rsA), a3 = at(a2, rsA)
      for (; p + 4 <= kc; p += 4)
        transpose4(v128.load(at(a0, p)), v128.load(at(a1, p)), v128.load(at(a2, p)), v128.load(at(a3, p)),
          at(panel, p * MR), MR * 4)
    }
    for (let r = 0; r < MR; r++) {
      if (r < rows) {
        const src = at(A, (i + r) * rsA)
        for (let q = p; q < kc; q++) store<f32>(at(panel, q * MR + r), load<f32>(at(src, q * csA)))
      } else for (let q = p; q < kc; q++) store<f32>(at(panel, q * MR + r), 0)
    }
  }
}

/** Rows [0, kc) x columns [0, nc) of B into panels of NR columns: dst[panel][p][c]; short panels padded with 0. */
function packB(B: usize, rsB: i32, csB: i32, kc: i32, nc: i32, dst: usize): void {
  for (let j = 0; j < nc; j += NR) {
    const cols = imin(NR, nc - j)
    const panel = at(dst, j * kc)
    if (cols === NR && csB === 1) {
      for (let p = 0; p < kc; p++) {
        const src = at(B, p * rsB + j)
        const d = at(panel, p * NR)
        v128.store(d, v128.load(src))
        v128.store(d, v128.load(src, 16), 16)
      }
      continue
    }
    let p = 0
    if (cols === NR && rsB === 1) {
      // B^T in memory (a Linear weight, unrolled patches read transposed): two 4 x 4 transposes per 4 k steps.
      const b0 = at(B, j * csB)
      for (; p + 4 <= kc; p += 4) {
        const d = at(panel, p * NR)
        transpose4(v128.load(at(b0, p)), v128.load(at(b0, csB + p)), v128.load(at(b0, 2 * csB + p)),
          v128.load(at(b0, 3 * csB + p)), d, NR * 4)
        transpose4(v128.load(at(b0, 4 * csB + p)), v128.load(at(b0, 5 * csB + p)), v128.load(at(b0, 6 * csB + p)),
          v128.load(at(b0, 7 * csB + p)), d + 16, NR * 4)
      }
    }
    for (let c = 0; c < NR; c++) {
      if (c < cols) {
        const src = at(B, (j + c) * csB)
        for (let q = p; q < kc; q++) store<f32>(at(panel, q * NR + c), load<f32>(at(src, q * rsB)))
      } else for (let q = p; q < kc; q++) store<f32>(at(panel, q * NR + c), 0)
    }
  }
}

// ---- the micro-kernel ------------------------------------------------------------------------------
/**
 * The 4 x 8 tile at C (row stride ldc) = (C if accumulate else 0) + (bias) + A panel (4 x kc) @ B panel (kc x 8).
 * `rowBias` points at 4 values (one per row), `colBias` at 8 (one per column); 0 means none.
 */
function micro(kc: i32, ap: usize, bp: usize, C: usize, ldc: i32, accumulate: bool, rowBias: usize, colBias: usize): void {
  const r1 = at(C, ldc)
  const r2 = at(C, 2 * ldc)
  const r3 = at(C, 3 * ldc)
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0)
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0)
  if (accumulate) {
    c00 = v128.load(C); c01 = v128.load(C, 16)
    c10 = v128.load(r1); c11 = v128.load(r1, 16)
    c20 = v128.load(r2); c21 = v128.load(r2, 16)
    c30 = v128.load(r3); c31 = v128.load(r3, 16)
  }
  if (rowBias) {
    let b = v128.load32_splat(rowBias)
    c00 = f32x4.add(c00, b); c01 = f32x4.add(c01, b)
    b = v128.load32_splat(rowBias, 4)
    c10 = f32x4.add(c10, b); c11 = f32x4.add(c11, b)
    b = v128.load32_splat(rowBias, 8)
    c20 = f32x4.add(c20, b); c21 = f32x4.add(c21, b)
    b = v128.load32_splat(rowBias, 12)
    c30 = f32x4.add(c30, b); c31 = f32x4.add(c31, b)
  }
  if (colBias) {
    const b0 = v128.load(colBias)
    const b1 = v128.load(colBias, 16)
    c00 = f32x4.add(c00, b0); c01 = f32x4.add(c01, b1)
    c10 = f32x4.add(c10, b0); c11 = f32x4.add(c11, b1)
    c20 = f32x4.add(c20, b0); c21 = f32x4.add(c21, b1)
    c30 = f32x4.add(c30, b0); c31 = f32x4.add(c31, b1)
  }
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp)
    const b1 = v128.load(bp, 16)
    let a = v128.load32_splat(ap)
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01)
    a = v128.load32_splat(ap, 4)
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11)
    a = v128.load32_splat(ap, 8)
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21)
    a = v128.load32_splat(ap, 12)
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31)
    ap += MR * 4
    bp += NR * 4
  }
  v128.store(C, c00); v128.store(C, c01, 16)
  v128.store(r1, c10); v128.store(r1, c11, 16)
  v128.store(r2, c20); v128.store(r2, c21, 16)
  v128.store(r3, c30); v128.store(r3, c31, 16)
}

/** A partial tile (mr < 4 or nr < 8): run the micro-kernel on a 4 x 8 buffer and copy the valid part. */
function microEdge(kc: i32, ap: usize, bp: usize, C: usize, ldc: i32, mr: i32, nr: i32, accumulate: bool,
  rowBias: usize, colBias: usize, tile: usize): void {
  for (let r = 0; r < MR; r++)
    for (let c = 0; c < NR; c++)
      store<f32>(at(tile, r * NR + c), accumulate && r < mr && c < nr ? load<f32>(at(C, r * ldc + c)) : 0)
  micro(kc, ap, bp, tile, NR, true, rowBias, colBias)
  for (let r = 0; r < mr; r++)
    for (let c = 0; c < nr; c++) store<f32>(at(C, r * ldc + c), load<f32>(at(tile, r * NR + c)))
}

// ---- blocked GEMM ----------------------------------------------------------------------------------
/**
 * C (m x n, row stride ldc) = A (m x k) @ B (k x n) (+ C when beta) (+ bias), single-threaded.
 * `bias` points at m values (BIAS_ROW) or n values (BIAS_COL). `scratch` holds GEMM_SCRATCH bytes.
 * With `aPre` A is not packed here: its panels are read from a copy packed beforehand (packWeights) whose rows
 * `aRow0`.. are A's rows, `aRows` rows in all (a multiple of MR).
 */
function gemmBlock(m: i32, n: i32, k: i32, A: usize, rsA: i32, csA: i32, B: usize, rsB: i32, csB: i32,
  C: usize, ldc: i32, beta: bool, bias: usize, biasMode: i32, scratch: usize,
  aPre: usize = 0, aRows: i32 = 0, aRow0: i32 = 0): void {
  const aPack = scratch
  const bPack = at(scratch, MC * KC)
  const tile = at(bPack, KC * NC)
  if (k === 0) {
    // An empty sum: C = beta * C + bias.
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let v: f32 = beta ? load<f32>(at(C, i * ldc + j)) : 0
        if (biasMode === BIAS_ROW) v += load<f32>(at(bias, i))
        else if (biasMode === BIAS_COL) v += load<f32>(at(bias, j))
        store<f32>(at(C, i * ldc + j), v)
      }
    return
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = imin(NC, n - jc)
    for (let pc = 0; pc < k; pc += KC) {
      const kc = imin(KC, k - pc)
      packB(at(B, pc * rsB + jc * csB), rsB, csB, kc, nc, bPack)
      const first = pc === 0
      const accumulate = !first || beta
      for (let ic = 0; ic < m; ic += MC) {
        const mc = imin(MC, m - ic)
        // The block's panels: packed now, or where the packed copy holds them (each k block of it holds all
        // the rows' panels, kc deep).
        const aBlock = aPre ? at(aPre, aRows * pc + (aRow0 + ic) * kc) : aPack
        if (!aPre) packA(at(A, ic * rsA + pc * csA), rsA, csA, mc, kc, aPack)
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = imin(NR, nc - jr)
          const bp = at(bPack, jr * kc)
          const colBias: usize = first && biasMode === BIAS_COL ? at(bias, jc + jr) : 0
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = imin(MR, mc - ir)
            const ap = at(aBlock, ir * kc)
            const cp = at(C, (ic + ir) * ldc + jc + jr)
            const rowBias: usize = first && biasMode === BIAS_ROW ? at(bias, ic + ir) : 0
            if (mr === MR && nr === NR) micro(kc, ap, bp, cp, ldc, accumulate, rowBias, colBias)
            else microEdge(kc, ap, bp, cp, ldc, mr, nr, accumulate, rowBias, colBias, tile)
          }
        }
      }
    }
  }
}

/**
 * A weight matrix of `groups` blocks of `rows` x K (row-major, one after another: a convolution's W) packed once
 * for gemmBlock's `aPre`: per group, per k block of KC, all its rows in panels of MR (the last padded with 0),
 * so group g's copy starts at dst + g * ceil(rows / MR) * MR * K floats. The panels hold what packA would write
 * for any block of whole panels, so a product reads the same values either way.
 */
export function packWeights(W: usize, rows: i32, K: i32, groups: i32, dst: usize): void {
  const padded = cdiv(rows, MR) * MR
  for (let g = 0; g < groups; g++)
    for (let pc = 0; pc < K; pc += KC)
      packA(at(W, g * rows * K + pc), K, 1, rows, imin(KC, K - pc), at(dst, g * padded * K + padded * pc))
}

// ---- few rows of A: no packing ---------------------------------------------------------------------
/** Rows of A at most this many take the unpacked path (a layer on one sample, a recurrent step). */
const SMALL_M = 4

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3)
}

/**
 * out[j] = a . W[j] for the n rows of W (row j at W + j * ldw floats), each of length k: four rows at a time, so
 * each load of `a` serves four rows, with four independent multiply-add chains; then the rows left one by one.
 * The matrix-vector product of the small-m GEMM and of the recurrent kernel.
 */
function dotRows(a: usize, W: usize, ldw: i32, n: i32, k: i32, out: usize): void {
  const k4 = k & ~3
  let j = 0
  for (; j + 4 <= n; j += 4) {
    const b0 = at(W, j * ldw), b1 = at(b0, ldw), b2 = at(b1, ldw), b3 = at(b2, ldw)
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0)
    for (let p = 0; p < k4; p += 4) {
      const x = v128.load(at(a, p))
      s0 = madd(x, v128.load(at(b0, p)), s0)
      s1 = madd(x, v128.load(at(b1, p)), s1)
      s2 = madd(x, v128.load(at(b2, p)), s2)
      s3 = madd(x, v128.load(at(b3, p)), s3)
    }
    let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3)
    for (let p = k4; p < k; p++) {
      const x = load<f32>(at(a, p))
      t0 += x * load<f32>(at(b0, p)); t1 += x * load<f32>(at(b1, p))
      t2 += x * load<f32>(at(b2, p)); t3 += x * load<f32>(at(b3, p))
    }
    const c = at(out, j)
    store<f32>(c, t0); store<f32>(c, t1, 4); store<f32>(c, t2, 8); store<f32>(c, t3, 12)
  }
  for (; j < n; j++) {
    const b0 = at(W, j * ldw)
    let s = f32x4.splat(0)
    for (let p = 0; p < k4; p += 4) s = madd(v128.load(at(a, p)), v128.load(at(b0, p)), s)
    let t = hsum(s)
    for (let p = k4; p < k; p++) t += load<f32>(at(a, p)) * load<f32>(at(b0, p))
    store<f32>(at(out, j), t)
  }
}

/**
 * C (m x n) = A (m x k) @ B (+ bias) for m <= SMALL_M, A row-major, without packing: packing B would read and
 * write all of it to use it m times. With B^T in memory (rsB = 1: a Linear weight) each output is the dot
 * product of a row of A with a row of B^T, four rows of B^T at a time; with B row-major (csB = 1) each row of C
 * accumulates a[i, p] * B[p, :] over p. Either way B is read once per row of A, in order.
 */
function gemmSmallM(m: i32, n: i32, k: i32, A: usize, rsA: i32, B: usize, rsB: i32, csB: i32, C: usize, ldc: i32,
  beta: bool, bias: usize, biasMode: i32): void {
  if (rsB === 1) {
    for (let i = 0; i < m; i++) dotRows(at(A, i * rsA), B, csB, n, k, at(C, i * ldc))
  } else {
    const n4 = n & ~3
    for (let i = 0; i < m; i++) {
      const c = at(C, i * ldc)
      if (!beta) memory.fill(c, 0, <usize>n << 2)
      const a = at(A, i * rsA)
      for (let p = 0; p < k; p++) {
        const x = load<f32>(at(a, p))
        const xs = f32x4.splat(x)
        const b = at(B, p * rsB)
        for (let j = 0; j < n4; j += 4) v128.store(at(c, j), madd(xs, v128.load(at(b, j)), v128.load(at(c, j))))
        for (let j = n4; j < n; j++) store<f32>(at(c, j), load<f32>(at(c, j)) + x * load<f32>(at(b, j)))
      }
    }
  }
  // Both forms leave the bias to add (the dot-product form is taken only without beta: see gemm()).
  if (biasMode !== BIAS_NONE)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        const c = at(C, i * ldc + j)
        store<f32>(c, load<f32>(c) + load<f32>(at(bias, biasMode === BIAS_ROW ? i : j)))
      }
}

/**
 * Batched GEMM over the parameter block at `p` (see G_*). Threads split the batch when it has at least
 * as many items as threads, else the columns (in NR-wide strips) when there are enough, else the rows.
 */
export function gemm(p: usize, tid: i32, nt: i32): void {
  const batch = pi(p, G_BATCH), m = pi(p, G_M), n = pi(p, G_N), k = pi(p, G_K)
  const A = <usize>pi(p, G_A), aBS = pi(p, G_ABS), rsA = pi(p, G_RSA), csA = pi(p, G_CSA)
  const B = <usize>pi(p, G_B), bBS = pi(p, G_BBS), rsB = pi(p, G_RSB), csB = pi(p, G_CSB)
  const C = <usize>pi(p, G_C), cBS = pi(p, G_CBS), ldc = pi(p, G_LDC), beta = pi(p, G_BETA) !== 0
  const scratch = <usize>pi(p, G_SCRATCH) + <usize>tid * <usize>pi(p, G_SCRATCH_PER)
  const bias = <usize>pi(p, G_BIAS), biasMode = pi(p, G_BIAS_MODE)
  let b0 = 0, b1 = batch, m0 = 0, m1 = m, n0 = 0, n1 = n
  if (nt > 1) {
    if (batch >= nt) {
      const per = cdiv(batch, nt)
      b0 = tid * per
      b1 = imin(batch, b0 + per)
    } else if (n >= m) {
      const per = cdiv(cdiv(n, NR), nt) * NR
      n0 = tid * per
      n1 = imin(n, n0 + per)
    } else {
      const per = cdiv(cdiv(m, MR), nt) * MR
      m0 = tid * per
      m1 = imin(m, m0 + per)
    }
  }
  if (m0 >= m1 || n0 >= n1) return
  // Few rows, row-major A, and B either transposed or row-major (not an accumulation into C through B^T).
  const small = m1 - m0 <= SMALL_M && csA === 1 && ((rsB === 1 && !beta) || csB === 1)
  for (let b = b0; b < b1; b++) {
    if (small) {
      gemmSmallM(m1 - m0, n1 - n0, k, at(A, b * aBS + m0 * rsA), rsA, at(B, b * bBS + n0 * csB), rsB, csB,
        at(C, b * cBS + m0 * ldc + n0), ldc, beta, bias ? at(bias, biasMode === BIAS_COL ? n0 : m0) : 0, biasMode)
      continue
    }
    const bCol: usize = biasMode === BIAS_COL ? at(bias, n0) : 0
    const bRow: usize = biasMode === BIAS_ROW ? at(bias, m0) : 0
    gemmBlock(m1 - m0, n1 - n0, k, at(A, b * aBS + m0 * rsA), rsA, csA, at(B, b * bBS + n0 * csB), rsB, csB,
      at(C, b * cBS + m0 * ldc + n0), ldc, beta, bias ? bCol | bRow : 0, biasMode, scratch)
  }
}

// ---- convolution -----------------------------------------------------------------------------------
/** For kernel column offset `off`, the output columns [lo, hi) whose input column o * stride + off is in [0, n). */
@inline function validLo(off: i32, stride: i32, outN: i32): i32 {
  return off >= 0 ? 0 : imin(outN, (-off + stride - 1) / stride)
}
@inline function validHi(off: i32, stride: i32, n: i32, outN: i32, lo: i32): i32 {
  const last = n - 1 - off
  const hi = last < 0 ? 0 : imin(outN, last / stride + 1)
  return hi > lo ? hi : lo
}

/**
 * Copy n floats from src to dst (distinct), or zero n floats at dst: four at a time below 64 floats, memory.copy
 * and memory.fill above. im2col's rows are an output row wide (10 to 28 floats in LeNet); as calls into the
 * engine, memory.copy and memory.fill cost ~16 ns each there, and LeNet's im2col made ~560,000 of them a training
 * step (9 of its 40 ms).
 */
@inline function copyFloats(dst: usize, src: usize, n: i32): void {
  if (n >= 64) {
    memory.copy(dst, src, <usize>n << 2)
    return
  }
  if (n < 4) {
    for (let i = 0; i < n; i++) store<f32>(at(dst, i), load<f32>(at(src, i)))
    return
  }
  // Four at a time, the last four ending at n (overlapping the previous ones): no scalar tail.
  for (let i = 0; i + 4 < n; i += 4) v128.store(at(dst, i), v128.load(at(src, i)))
  v128.store(at(dst, n - 4), v128.load(at(src, n - 4)))
}
@inline function zeroFloats(dst: usize, n: i32): void {
  if (n >= 64) {
    memory.fill(dst, 0, <usize>n << 2)
    return
  }
  if (n < 4) {
    for (let i = 0; i < n; i++) store<f32>(at(dst, i), 0)
    return
  }
  const z = f32x4.splat(0)
  for (let i = 0; i + 4 < n; i += 4) v128.store(at(dst, i), z)
  v128.store(at(dst, n - 4), z)
}

/** Unroll `c` channels of the image at x, output rows [oh0, oh1), into cols (c*kH*kW x (oh1-oh0)*outW). */
function im2col(x: usize, c: i32, cols: usize, g: usize, oh0: i32, oh1: i32): void {
  const inH = pi(g, C_INH), inW = pi(g, C_INW), outW = pi(g, C_OUTW), kH = pi(g, C_KH), kW = pi(g, C_KW)
  const sH = pi(g, C_SH), sW = pi(g, C_SW), pT = pi(g, C_PT), pL = pi(g, C_PL), dH = pi(g, C_DH), dW = pi(g, C_DW)
  const T = (oh1 - oh0) * outW
  const plane = inH * inW
  for (let j = 0; j < kW; j++) {
    const off = j * dW - pL
    const lo = validLo(off, sW, outW)
    const hi = validHi(off, sW, inW, outW, lo)
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < kH; i++) {
        const row = at(cols, ((ci * kH + i) * kW + j) * T)
        for (let oh = oh0; oh < oh1; oh++) {
          const r = at(row, (oh - oh0) * outW)
          const iy = oh * sH - pT + i * dH
          if (iy < 0 || iy >= inH) {
            zeroFloats(r, outW)
            continue
          }
          const src = at(x, ci * plane + iy * inW + off)
          if (lo > 0) zeroFloats(r, lo)
          if (sW === 1) copyFloats(at(r, lo), at(src, lo), hi - lo)
          else for (let ow = lo; ow < hi; ow++) store<f32>(at(r, ow), load<f32>(at(src, ow * sW)))
          if (hi < outW) zeroFloats(at(r, hi), outW - hi)
        }
      }
  }
}

/** The adjoint of im2col: dx (c channels) += col2im(cols). */
function col2im(cols: usize, dx: usize, c: i32, g: usize, oh0: i32, oh1: i32): void {
  const inH = pi(g, C_INH), inW = pi(g, C_INW), outW = pi(g, C_OUTW), kH = pi(g, C_KH), kW = pi(g, C_KW)
  const sH = pi(g, C_SH), sW = pi(g, C_SW), pT = pi(g, C_PT), pL = pi(g, C_PL), dH = pi(g, C_DH), dW = pi(g, C_DW)
  const T = (oh1 - oh0) * outW
  const plane = inH * inW
  for (let j = 0; j < kW; j++) {
    const off = j * dW - pL
    const lo = validLo(off, sW, outW)
    const hi = validHi(off, sW, inW, outW, lo)
    if (lo === hi) continue
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < kH; i++) {
        const row = at(cols, ((ci * kH + i) * kW + j) * T)
        for (let oh = oh0; oh < oh1; oh++) {
          const iy = oh * sH - pT + i * dH
          if (iy < 0 || iy >= inH) continue
          const r = at(row, (oh - oh0) * outW)
          const dst = at(dx, ci * plane + iy * inW + off)
          if (sW === 1) {
            let ow = lo
            for (; ow + 4 <= hi; ow += 4) {
              const d = at(dst, ow)
              v128.store(d, f32x4.add(v128.load(d), v128.load(at(r, ow))))
            }
            for (; ow < hi; ow++) store<f32>(at(dst, ow), load<f32>(at(dst, ow)) + load<f32>(at(r, ow)))
          } else
            for (let ow = lo; ow < hi; ow++) {
              const d = at(dst, ow * sW)
              store<f32>(d, load<f32>(d) + load<f32>(at(r, ow)))
            }
        }
      }
  }
}

/** A 1x1, stride-1, unpadded convolution: the input planes already are the unrolled patches. */
function isPointwise(g: usize): bool {
  return pi(g, C_KH) === 1 && pi(g, C_KW) === 1 && pi(g, C_SH) === 1 && pi(g, C_SW) === 1 && pi(g, C_PT) === 0 &&
    pi(g, C_PL) === 0 && pi(g, C_OUTH) === pi(g, C_INH) && pi(g, C_OUTW) === pi(g, C_INW)
}

/**
 * y = conv(x, w) + bias. Work units are (sample, group, tile of `rows` output rows, strip of output
 * channels); units go to the threads as they free up (nextUnit). Each unit unrolls its tile into the
 * thread's scratch and multiplies W_g (og x K) by it, writing the output tile in place (bias folded into
 * the GEMM).
 */
export function conv2d(g: usize, tid: i32, nt: i32): void {
  const batch = pi(g, C_BATCH), inC = pi(g, C_INC), outC = pi(g, C_OUTC), outH = pi(g, C_OUTH), outW = pi(g, C_OUTW)
  const groups = pi(g, C_GROUPS), rows = pi(g, C_ROWS), split = pi(g, C_SPLIT)
  const x = <usize>pi(g, C_X), w = <usize>pi(g, C_W), bias = <usize>pi(g, C_BIAS), y = <usize>pi(g, C_Y)
  const scratch = <usize>pi(g, C_SCRATCH) + <usize>tid * <usize>pi(g, C_SCRATCH_PER)
  const cols = at(scratch, GEMM_SCRATCH >> 2)
  const cg = inC / groups, og = outC / groups
  const K = cg * pi(g, C_KH) * pi(g, C_KW)
  const plane = pi(g, C_INH) * pi(g, C_INW), ohw = outH * outW
  const tiles = cdiv(outH, rows)
  const per = cdiv(cdiv(og, MR), split) * MR
  const pointwise = isPointwise(g)
  const units = batch * groups * tiles * split
  // W packed beforehand (a pinned weight: packWeights), or 0: each unit packs its rows of W.
  const wPacked = <usize>pi(g, C_WPACKED), ogPadded = cdiv(og, MR) * MR
  for (let u = nextUnit(g); u < units; u = nextUnit(g)) {
    const s = u % split
    let r = u / split
    const tile = r % tiles
    r /= tiles
    const gi = r % groups
    const n = r / groups
    const m0 = s * per, m1 = imin(og, m0 + per)
    if (m0 >= m1) continue
    const oh0 = tile * rows, oh1 = imin(outH, oh0 + rows)
    const T = (oh1 - oh0) * outW
    const xg = at(x, (n * inC + gi * cg) * plane)
    let B = cols, rsB = T
    if (pointwise) {
      B = at(xg, oh0 * outW)
      rsB = plane
    } else im2col(xg, cg, cols, g, oh0, oh1)
    const oc = gi * og + m0
    gemmBlock(m1 - m0, T, K, at(w, oc * K), K, 1, B, rsB, 1, at(y, (n * outC + oc) * ohw + oh0 * outW), ohw, false,
      bias ? at(bias, oc) : 0, bias ? BIAS_ROW : BIAS_NONE, scratch,
      wPacked ? at(wPacked, gi * ogPadded * K) : 0, ogPadded, m0)
  }
}

/**
 * dx = conv^T(dy, w) (+ bias per input channel): the data gradient of conv2d, and ConvTranspose. Here
 * C_X is dy (the conv's output) and C_Y is dx (its input). Work units are (sample, group, strip of
 * input channels): a unit owns its channels of dx, so the overlapping scatter of col2im never races.
 * For each tile of output rows: dcols (strip*kH*kW x T) = W_g^T @ dy_tile, then col2im into dx.
 */
export function conv2dBackwardInput(g: usize, tid: i32, nt: i32): void {
  const batch = pi(g, C_BATCH), inC = pi(g, C_INC), outC = pi(g, C_OUTC), outH = pi(g, C_OUTH), outW = pi(g, C_OUTW)
  const groups = pi(g, C_GROUPS), rows = pi(g, C_ROWS), split = pi(g, C_SPLIT)
  const dy = <usize>pi(g, C_X), w = <usize>pi(g, C_W), bias = <usize>pi(g, C_BIAS), dx = <usize>pi(g, C_Y)
  const scratch = <usize>pi(g, C_SCRATCH) + <usize>tid * <usize>pi(g, C_SCRATCH_PER)
  const cols = at(scratch, GEMM_SCRATCH >> 2)
  const cg = inC / groups, og = outC / groups
  const kk = pi(g, C_KH) * pi(g, C_KW)
  const K = cg * kk
  const plane = pi(g, C_INH) * pi(g, C_INW), ohw = outH * outW
  const tiles = cdiv(outH, rows)
  const per = cdiv(cg, split)
  const pointwise = isPointwise(g)
  const units = batch * groups * split
  for (let u = nextUnit(g); u < units; u = nextUnit(g)) {
    const s = u % split
    const gi = (u / split) % groups
    const n = u / split / groups
    const c0 = s * per, c1 = imin(cg, c0 + per)
    if (c0 >= c1) continue
    const dxc = at(dx, (n * inC + gi * cg + c0) * plane)
    memory.fill(dxc, 0, <usize>((c1 - c0) * plane) << 2)
    const A = at(w, gi * og * K + c0 * kk) // A(i, o) = W[g*og + o, c0*kk + i]
    for (let tile = 0; tile < tiles; tile++) {
      const oh0 = tile * rows, oh1 = imin(outH, oh0 + rows)
      const T = (oh1 - oh0) * outW
      const B = at(dy, (n * outC + gi * og) * ohw + oh0 * outW)
      if (pointwise) gemmBlock(c1 - c0, T, og, A, 1, K, B, ohw, 1, at(dxc, oh0 * outW), plane, false, 0, BIAS_NONE, scratch)
      else {
        gemmBlock((c1 - c0) * kk, T, og, A, 1, K, B, ohw, 1, cols, T, false, 0, BIAS_NONE, scratch)
        col2im(cols, dxc, c1 - c0, g, oh0, oh1)
      }
    }
    if (bias)
      for (let c = c0; c < c1; c++) {
        const bv = f32x4.splat(load<f32>(at(bias, gi * cg + c)))
        const d = at(dxc, (c - c0) * plane)
        let i = 0
        for (; i + 4 <= plane; i += 4) v128.store(at(d, i), f32x4.add(v128.load(at(d, i)), bv))
        for (; i < plane; i++) store<f32>(at(d, i), load<f32>(at(d, i)) + f32x4.extract_lane(bv, 0))
      }
  }
}

/**
 * dw = sum over samples and tiles of dy_tile (og x T) @ cols_tile^T (T x K): the weight gradient of conv2d.
 * C_X is x, C_Y is dy, C_W is dw. Work units are (group, strip of output channels); each unit owns its
 * rows of dw and walks every sample and tile in order, so the sum's order is fixed. With C_CHUNKS > 0 the
 * units are (group, chunk of samples) instead, each writing its chunk's sum to the chunk's copy of dw at
 * C_PART; the caller then adds the chunks in order (sumChunks).
 */
export function conv2dBackwardWeight(g: usize, tid: i32, nt: i32): void {
  const batch = pi(g, C_BATCH), inC = pi(g, C_INC), outC = pi(g, C_OUTC), outH = pi(g, C_OUTH), outW = pi(g, C_OUTW)
  const groups = pi(g, C_GROUPS), rows = pi(g, C_ROWS), split = pi(g, C_SPLIT), chunks = pi(g, C_CHUNKS)
  const x = <usize>pi(g, C_X), dw = <usize>pi(g, C_W), dy = <usize>pi(g, C_Y), part = <usize>pi(g, C_PART)
  const scratch = <usize>pi(g, C_SCRATCH) + <usize>tid * <usize>pi(g, C_SCRATCH_PER)
  const cols = at(scratch, GEMM_SCRATCH >> 2)
  const cg = inC / groups, og = outC / groups
  const K = cg * pi(g, C_KH) * pi(g, C_KW)
  const plane = pi(g, C_INH) * pi(g, C_INW), ohw = outH * outW
  const tiles = cdiv(outH, rows)
  // Units per group: `split` strips of output channels over every sample, or `chunks` chunks of samples.
  const parts = chunks > 0 ? chunks : split
  const per = chunks > 0 ? cdiv(batch, chunks) : cdiv(cdiv(og, MR), split) * MR
  const pointwise = isPointwise(g)
  for (let u = nextUnit(g); u < groups * parts; u = nextUnit(g)) {
    const s = u % parts
    const gi = u / parts
    let m0 = 0, m1 = og, n0 = 0, n1 = batch
    let C: usize
    if (chunks > 0) {
      n0 = s * per
      n1 = imin(batch, n0 + per)
      C = at(part, s * outC * K + gi * og * K)
    } else {
      m0 = s * per
      m1 = imin(og, m0 + per)
      if (m0 >= m1) continue
      C = at(dw, (gi * og + m0) * K)
    }
    let first = true
    for (let n = n0; n < n1; n++) {
      const xg = at(x, (n * inC + gi * cg) * plane)
      for (let tile = 0; tile < tiles; tile++) {
        const oh0 = tile * rows, oh1 = imin(outH, oh0 + rows)
        const T = (oh1 - oh0) * outW
        let B = cols, csB = T
        if (pointwise) {
          B = at(xg, oh0 * outW)
          csB = plane
        } else im2col(xg, cg, cols, g, oh0, oh1)
        const A = at(dy, (n * outC + gi * og + m0) * ohw + oh0 * outW)
        gemmBlock(m1 - m0, K, T, A, ohw, 1, B, 1, csB, C, K, !first, 0, BIAS_NONE, scratch)
        first = false
      }
    }
    if (first) memory.fill(C, 0, <usize>((m1 - m0) * K) << 2)
  }
}

/** dst[i] = part[0][i] + part[1][i] + ... + part[chunks - 1][i], added in that order (n floats per part). */
export function sumChunks(part: usize, dst: usize, n: i32, chunks: i32): void {
  let i = 0
  for (; i + 4 <= n; i += 4) {
    let s = v128.load(at(part, i))
    for (let c = 1; c < chunks; c++) s = f32x4.add(s, v128.load(at(part, c * n + i)))
    v128.store(at(dst, i), s)
  }
  for (; i < n; i++) {
    let s = load<f32>(at(part, i))
    for (let c = 1; c < chunks; c++) s += load<f32>(at(part, c * n + i))
    store<f32>(at(dst, i), s)
  }
}

// ---- element-wise and pooling ---------------------------------------------------------------------
// Memory-bound kernels: they run on the calling thread and take their arguments directly (no parameter
// block). Comparisons are written as selects, so random signs cost no branch mispredictions (a JS
// `x > 0 ? x : 0` over random data mispredicts half the time).

const OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_MAX = 4, OP_MIN = 5

@inline function vop(op: i32, x: v128, y: v128): v128 {
  if (op == OP_ADD) return f32x4.add(x, y)
  if (op == OP_SUB) return f32x4.sub(x, y)
  if (op == OP_MUL) return f32x4.mul(x, y)
  if (op == OP_DIV) return f32x4.div(x, y)
  // As the js kernel, x >= y || x is NaN ? x : y: pmax/pmin keep x on ties (so -0 vs 0 gives x) and when x is
  // NaN; a NaN y is taken where pmax/pmin would keep x.
  const nanY = f32x4.ne(y, y)
  return v128.bitselect(y, op == OP_MAX ? f32x4.pmax(x, y) : f32x4.pmin(x, y), nanY)
}
@inline function sop(op: i32, x: f32, y: f32): f32 {
  if (op == OP_ADD) return x + y
  if (op == OP_SUB) return x - y
  if (op == OP_MUL) return x * y
  if (op == OP_DIV) return x / y
  if (op == OP_MAX) return x >= y || x != x ? x : y
  return x <= y || x != x ? x : y
}

/**
 * out[r * n + i] = a[aOffs[r] + i * aCol] op b[bOffs[r] + i * bCol] for r < rows, i < n: a broadcasting binary
 * op collapsed (by the JS side) to rows of n outputs, each operand either walking the row (col stride 1) or
 * repeating one value along it (col stride 0). aOffs/bOffs hold each row's start, in elements.
 */
export function binaryRows(op: i32, a: usize, aOffs: usize, aCol: i32, b: usize, bOffs: usize, bCol: i32,
  out: usize, rows: i32, n: i32): void {
  const n4 = n & ~3
  for (let r = 0; r < rows; r++) {
    const pa = at(a, pi(aOffs, r))
    const pb = at(b, pi(bOffs, r))
    const po = out + <usize>r * <usize>n * 4
    let i = 0
    if (aCol != 0 && bCol != 0) {
      for (; i < n4; i += 4) v128.store(at(po, i), vop(op, v128.load(at(pa, i)), v128.load(at(pb, i))))
    } else if (aCol != 0) {
      const y = f32x4.splat(load<f32>(pb))
      for (; i < n4; i += 4) v128.store(at(po, i), vop(op, v128.load(at(pa, i)), y))
    } else if (bCol != 0) {
      const x = f32x4.splat(load<f32>(pa))
      for (; i < n4; i += 4) v128.store(at(po, i), vop(op, x, v128.load(at(pb, i))))
    }
    for (; i < n; i++)
      store<f32>(at(po, i), sop(op, load<f32>(at(pa, i * aCol)), load<f32>(at(pb, i * bCol))))
  }
}

/**
 * Batch norm with running statistics: y = x * scale[c] + shift[c] over `rows` = outer * channels contiguous rows
 * of n (row r is channel r % channels); a multiply then an add, not a fused multiply-add, so the result is the
 * js kernel's to the bit.
 */
export function channelAffine(x: usize, y: usize, scale: usize, shift: usize, rows: i32, channels: i32, n: i32): void {
  const n4 = n & ~3
  for (let r = 0; r < rows; r++) {
    const c = r % channels
    const s = load<f32>(at(scale, c)), t = load<f32>(at(shift, c))
    const vs = f32x4.splat(s), vt = f32x4.splat(t)
    const px = at(x, r * n), py = at(y, r * n)
    let i = 0
    for (; i < n4; i += 4) v128.store(at(py, i), f32x4.add(f32x4.mul(v128.load(at(px, i)), vs), vt))
    for (; i < n; i++) store<f32>(at(py, i), load<f32>(at(px, i)) * s + t)
  }
}

/** y = x > 0 ? x : 0 (NaN gives 0, as the js kernel). */
export function relu(x: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0)
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) {
    const v = v128.load(at(x, i))
    v128.store(at(y, i), v128.and(v, f32x4.gt(v, zero)))
  }
  for (; i < n; i++) {
    const v = load<f32>(at(x, i))
    store<f32>(at(y, i), select<f32>(v, 0, v > 0))
  }
}

/** dx = dy * (x > 0 ? 1 : 0): ReLU's backward (dy * 0, not 0, where x <= 0, as the js kernel). */
export function reluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  const zero = f32x4.splat(0)
  const one = f32x4.splat(1)
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) {
    const pass = v128.and(one, f32x4.gt(v128.load(at(x, i)), zero))
    v128.store(at(dx, i), f32x4.mul(v128.load(at(dy, i)), pass))
  }
  for (; i < n; i++) store<f32>(at(dx, i), load<f32>(at(dy, i)) * select<f32>(1, 0, load<f32>(at(x, i)) > 0))
}

/** Four floats at x[off], x[off + s], x[off + 2s], x[off + 3s]: one load for s = 1, two and a shuffle for s = 2. */
@inline function gather4(x: usize, off: i32, s: i32): v128 {
  if (s == 1) return v128.load(at(x, off))
  if (s == 2) {
    const lo = v128.load(at(x, off))
    const hi = v128.load(at(x, off + 4))
    return i8x16.shuffle(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
  }
  let v = f32x4.splat(load<f32>(at(x, off)))
  v = f32x4.replace_lane(v, 1, load<f32>(at(x, off + s)))
  v = f32x4.replace_lane(v, 2, load<f32>(at(x, off + 2 * s)))
  return f32x4.replace_lane(v, 3, load<f32>(at(x, off + 3 * s)))
}

/**
 * Max pooling over `planes` planes (the geometry of the backends' Pool2dGeometry). The taps of each output
 * row and column inside the input, [iLo, iHi) and [jLo, jHi), come precomputed from the JS side. As PyTorch:
 * each window is scanned row by row, the first of equal maxima wins and NaN propagates; a window wholly in
 * the padding gets -inf and index -1. `indices` (0: not wanted) receives each maximum's offset in its plane.
 * Outputs whose windows lie wholly inside the input in width go four at a time, one SIMD lane each (the
 * lanes scan their windows in the same order, so the result is the scalar loop's, bit for bit), the last one
 * to three of such a run too, their spare lanes reading up to 3 * strideW + 4 floats past the run's last tap:
 * the caller leaves that much room after x. The comparisons are selects, so the sign of the data costs no branch
 * mispredictions (LeNet's 14-wide rows had two outputs in the scalar loop out of 14, and it was 1.1 ms for a
 * batch of 128 at 28 x 28 x 6).
 */
export function maxPool2d(x: usize, y: usize, indices: usize, planes: i32, inH: i32, inW: i32, outH: i32,
  outW: i32, kW: i32, strideH: i32, strideW: i32, padTop: i32, padLeft: i32, dilationH: i32, dilationW: i32,
  iLo: usize, iHi: usize, jLo: usize, jHi: usize): void {
  const plane = inH * inW
  // The output columns whose taps are all inside the input: [wA, wB), a contiguous run.
  let wA = 0
  while (wA < outW && (pi(jLo, wA) != 0 || pi(jHi, wA) != kW)) wA++
  let wB = wA
  while (wB < outW && pi(jLo, wB) == 0 && pi(jHi, wB) == kW) wB++
  const lanes = i32x4(0, strideW, 2 * strideW, 3 * strideW)
  const minusInf = f32x4.splat(-Infinity)
  for (let p = 0; p < planes; p++) {
    const xp = at(x, p * plane)
    const yo = p * outH * outW
    for (let oh = 0; oh < outH; oh++) {
      const hs = oh * strideH - padTop
      const i0 = pi(iLo, oh), i1 = pi(iHi, oh)
      const yr = yo + oh * outW
      let ow = 0
      while (ow < outW) {
        if (ow >= wA && ow < wB && i0 < i1) {
          const ws = ow * strideW - padLeft
          let best = minusInf
          let bi = i32x4.add(i32x4.splat((hs + i0 * dilationH) * inW + ws), lanes)
          for (let i = i0; i < i1; i++) {
            const r = (hs + i * dilationH) * inW + ws
            for (let j = 0; j < kW; j++) {
              const k = r + j * dilationW
              const v = gather4(xp, k, strideW)
              const take = v128.or(f32x4.gt(v, best), f32x4.ne(v, v))
              best = v128.bitselect(v, best, take)
              bi = v128.bitselect(i32x4.add(i32x4.splat(k), lanes), bi, take)
            }
          }
          const n = wB - ow
          if (n >= 4) {
            v128.store(at(y, yr + ow), best)
            if (indices != 0) v128.store(at(indices, yr + ow), bi)
            ow += 4
            continue
          }
          // The last one to three of the run: the other lanes read past it (see above) and are dropped.
          const yl = at(y, yr + ow)
          store<f32>(yl, f32x4.extract_lane(best, 0))
          if (n > 1) store<f32>(yl, f32x4.extract_lane(best, 1), 4)
          if (n > 2) store<f32>(yl, f32x4.extract_lane(best, 2), 8)
          if (indices != 0) {
            const il = at(indices, yr + ow)
            store<i32>(il, i32x4.extract_lane(bi, 0))
            if (n > 1) store<i32>(il, i32x4.extract_lane(bi, 1), 4)
            if (n > 2) store<i32>(il, i32x4.extract_lane(bi, 2), 8)
          }
          ow = wB
          continue
        }
        const ws = ow * strideW - padLeft
        const j0 = pi(jLo, ow), j1 = pi(jHi, ow)
        let best: f32 = -Infinity
        let bi: i32 = i0 < i1 && j0 < j1 ? (hs + i0 * dilationH) * inW + ws + j0 * dilationW : -1
        for (let i = i0; i < i1; i++) {
          const r = (hs + i * dilationH) * inW + ws
          for (let j = j0; j < j1; j++) {
            const k = r + j * dilationW
            const v = load<f32>(at(xp, k))
            const take = v > best || v != v
            best = select<f32>(v, best, take)
            bi = select<i32>(k, bi, take)
          }
        }
        store<f32>(at(y, yr + ow), best)
        if (indices != 0) store<i32>(at(indices, yr + ow), bi)
        ow++
      }
    }
  }
}

/** n floats of -inf at dst, four at a time (the last four overlapping when n is not a multiple of four). */
function fillNegInf(dst: usize, n: i32): void {
  const v = f32x4.splat(-Infinity)
  if (n < 4) {
    for (let i = 0; i < n; i++) store<f32>(at(dst, i), -Infinity)
    return
  }
  for (let i = 0; i + 4 <= n; i += 4) v128.store(at(dst, i), v)
  v128.store(at(dst, n - 4), v)
}

/** Whether any of the n floats at x is NaN. */
function hasNaN(x: usize, n: i32): bool {
  let any = f32x4.splat(0)
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at(x, i))
    any = v128.or(any, f32x4.ne(v, v))
  }
  for (; i < n; i++) if (load<f32>(at(x, i)) != load<f32>(at(x, i))) return true
  return v128.any_true(any)
}

// Padded max pooling parameter block: the geometry, then x, y, the threads' padded planes and their size.
const MP_PLANES = 0, MP_INH = 1, MP_INW = 2, MP_OUTH = 3, MP_OUTW = 4, MP_KH = 5, MP_KW = 6, MP_SH = 7, MP_SW = 8
const MP_PT = 9, MP_PL = 10, MP_DH = 11, MP_DW = 12, MP_X = 13, MP_Y = 14, MP_PAD = 15, MP_PH = 16, MP_PW = 17

/**
 * Max pooling without indices (inference), the planes split between threads: each plane is first copied into a
 * padded plane of PH x PW floats whose border is -inf (PyTorch's implicit padding; ceil mode's windows past the
 * edge), so that every output, edges included, takes the four-lane path with no bounds to check: the window of
 * output (oh, ow) starts at row oh * strideH and column ow * strideW of the padded plane. PW leaves room for the
 * spare lanes of a row's last outputs. A plane without NaN takes a running pmax (best < v ? v : best: one
 * instruction, the first of equal maxima kept as in maxPool2d); one with NaN the select of maxPool2d. Either
 * way each output is maxPool2d's, bit for bit.
 */
export function maxPool2dPadded(p: usize, tid: i32, nt: i32): void {
  const planes = pi(p, MP_PLANES), inH = pi(p, MP_INH), inW = pi(p, MP_INW), outH = pi(p, MP_OUTH)
  const outW = pi(p, MP_OUTW), kH = pi(p, MP_KH), kW = pi(p, MP_KW), sH = pi(p, MP_SH), sW = pi(p, MP_SW)
  const pT = pi(p, MP_PT), pL = pi(p, MP_PL), dH = pi(p, MP_DH), dW = pi(p, MP_DW)
  const x = <usize>pi(p, MP_X), y = <usize>pi(p, MP_Y), PH = pi(p, MP_PH), PW = pi(p, MP_PW)
  const per = cdiv(planes, nt)
  const p0 = tid * per, p1 = imin(planes, p0 + per)
  if (p0 >= p1) return
  const P = at(<usize>pi(p, MP_PAD), tid * PH * PW)
  // The border once: the planes' copies only overwrite the interior.
  fillNegInf(P, PH * PW)
  for (let c = p0; c < p1; c++) {
    const xp = at(x, c * inH * inW)
    for (let r = 0; r < inH; r++) copyFloats(at(P, (pT + r) * PW + pL), at(xp, r * inW), inW)
    const nan = hasNaN(xp, inH * inW)
    const yp = at(y, c * outH * outW)
    for (let oh = 0; oh < outH; oh++) {
      const yr = at(yp, oh * outW), w0 = oh * sH * PW
      // The common windows with their taps unrolled and their gathers specialised (constants after inlining).
      if (nan) poolRowNaN(P, yr, outW, w0, kH, kW, sW, dH, dW, PW)
      else if (kW == 3 && sW == 1) poolRow(P, yr, outW, w0, kH, 3, 1, dH, dW, PW)
      else if (kW == 3 && sW == 2) poolRow(P, yr, outW, w0, kH, 3, 2, dH, dW, PW)
      else if (kW == 2 && sW == 2) poolRow(P, yr, outW, w0, kH, 2, 2, dH, dW, PW)
      else poolRow(P, yr, outW, w0, kH, kW, sW, dH, dW, PW)
    }
  }
}

/** The four lanes of `v` to y[ow..], or its first n of them when n < 4 (a row's last outputs). */
@inline function storeLanes(y: usize, ow: i32, n: i32, v: v128): void {
  if (n >= 4) {
    v128.store(at(y, ow), v)
    return
  }
  store<f32>(at(y, ow), f32x4.extract_lane(v, 0))
  if (n > 1) store<f32>(at(y, ow + 1), f32x4.extract_lane(v, 1))
  if (n > 2) store<f32>(at(y, ow + 2), f32x4.extract_lane(v, 2))
}

/** best and the kW taps of one window row starting at P[r], four windows at a time, by pmax. */
@inline function rowTaps(P: usize, r: i32, kW: i32, dW: i32, sW: i32, best: v128): v128 {
  if (kW == 2) return f32x4.pmax(f32x4.pmax(best, gather4(P, r, sW)), gather4(P, r + dW, sW))
  if (kW == 3) {
    best = f32x4.pmax(best, gather4(P, r, sW))
    return f32x4.pmax(f32x4.pmax(best, gather4(P, r + dW, sW)), gather4(P, r + 2 * dW, sW))
  }
  for (let j = 0; j < kW; j++) best = f32x4.pmax(best, gather4(P, r + j * dW, sW))
  return best
}

/** One output row of maxPool2dPadded, on a plane without NaN (w0: the row's first window's offset in P). */
@inline function poolRow(P: usize, yr: usize, outW: i32, w0: i32, kH: i32, kW: i32, sW: i32, dH: i32, dW: i32,
  PW: i32): void {
  const rowStep = dH * PW
  for (let ow = 0; ow < outW; ow += 4) {
    let best = f32x4.splat(-Infinity)
    let r = w0 + ow * sW
    for (let i = 0; i < kH; i++) {
      best = rowTaps(P, r, kW, dW, sW, best)
      r += rowStep
    }
    storeLanes(yr, ow, outW - ow, best)
  }
}

/** One output row of maxPool2dPadded on a plane with NaN: maxPool2d's select, which lets NaN in. */
function poolRowNaN(P: usize, yr: usize, outW: i32, w0: i32, kH: i32, kW: i32, sW: i32, dH: i32, dW: i32,
  PW: i32): void {
  for (let ow = 0; ow < outW; ow += 4) {
    let best = f32x4.splat(-Infinity)
    for (let i = 0; i < kH; i++) {
      const r = w0 + ow * sW + i * dH * PW
      for (let j = 0; j < kW; j++) {
        const v = gather4(P, r + j * dW, sW)
        best = v128.bitselect(v, best, v128.or(f32x4.gt(v, best), f32x4.ne(v, v)))
      }
    }
    storeLanes(yr, ow, outW - ow, best)
  }
}

// ---- transcendental functions ---------------------------------------------------------------------
// Four lanes at a time, to float32 accuracy (a few ulps; src/backends/js holds the float64 references they are
// tested against). NaN propagates through each of them.

/**
 * e^x in four lanes: x = n ln 2 + r with n = round(x / ln 2) and |r| <= ln 2 / 2 (ln 2 split in two constants,
 * Cody and Waite's reduction, so n ln 2 is exact enough), e^r by its Taylor polynomial to degree 7 (truncation
 * error r^8 / 8! < 6e-9, below float32 rounding), then 2^n as the product of two powers of two put in the
 * exponent bits (each stays a normal float for n in [-150, 128]). x is clamped to [-104, 88.8]: beyond those
 * e^x is 0 or +inf in float32, and the product of the two powers gives exactly that.
 */
@inline function exp4(x: v128): v128 {
  // pmin/pmax are one instruction each (min/max must order NaN and signed zeros: several); x first, so NaN stays NaN.
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.8)), f32x4.splat(-104))
  // n = round(x / ln 2) by adding 1.5 * 2^23, which leaves n in the low mantissa bits (ties to even, as nearest).
  const shifted = f32x4.add(f32x4.mul(xc, f32x4.splat(1.4426950408889634)), f32x4.splat(12582912))
  const n = f32x4.sub(shifted, f32x4.splat(12582912))
  const r = f32x4.add(f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(2.12194440e-4)))
  let p = f32x4.splat(1.0 / 5040)
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1))
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1))
  const ni = i32x4.sub(shifted, i32x4.splat(0x4b400000))
  const half = i32x4.shr_s(ni, 1)
  const bias = i32x4.splat(127)
  const s1 = i32x4.shl(i32x4.add(half, bias), 23)
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, half), bias), 23)
  return f32x4.mul(f32x4.mul(p, s1), s2)
}

/**
 * ln u for positive normal u: u = m 2^e with m in [sqrt(1/2), sqrt(2)) (subtracting sqrt(1/2)'s bits from u's
 * and shifting gives e), then ln m = 2 atanh s = 2 (s + s^3/3 + ... + s^11/11) with s = (m - 1)/(m + 1),
 * |s| <= 0.172 (truncation < 2e-10).
 */
@inline function log4(u: v128): v128 {
  const e = i32x4.shr_s(i32x4.sub(u, i32x4.splat(0x3f3504f3)), 23)
  const m = i32x4.sub(u, i32x4.shl(e, 23))
  const s = f32x4.div(f32x4.sub(m, f32x4.splat(1)), f32x4.add(m, f32x4.splat(1)))
  const s2 = f32x4.mul(s, s)
  let p = f32x4.splat(2.0 / 11)
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(2.0 / 9))
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(2.0 / 7))
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(2.0 / 5))
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(2.0 / 3))
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(2))
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(e), f32x4.splat(0.6931471805599453)), f32x4.mul(p, s))
}

/**
 * ln(1 + y) for y > -1 (1 + y normal) without losing y's low bits to the rounding of 1 + y: with u = fl(1 + y),
 * ln(1 + y) = ln(u) y / (u - 1) (Goldberg, "What every computer scientist should know about floating-point
 * arithmetic", 1991, theorem 4), and y itself where u rounds to 1.
 */
@inline function log1p4(y: v128): v128 {
  const u = f32x4.add(y, f32x4.splat(1))
  const d = f32x4.sub(u, f32x4.splat(1))
  const r = f32x4.div(f32x4.mul(log4(u), y), d)
  return v128.bitselect(y, r, f32x4.eq(d, f32x4.splat(0)))
}

@inline function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1)
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))))
}

/**
 * tanh x: below |x| = 0.4 its odd Taylor series to x^13 (truncation < 2e-9 relative), where 1 - 2 / (e^2|x| + 1)
 * would lose the low bits of a small result to cancellation; above, that formula with x's sign.
 */
@inline function tanh4(x: v128): v128 {
  const a = f32x4.abs(x)
  const x2 = f32x4.mul(x, x)
  let p = f32x4.splat(21844.0 / 6081075)
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1382.0 / 155925))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(62.0 / 2835))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-17.0 / 315))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(2.0 / 15))
  p = f32x4.add(f32x4.mul(p, x2), f32x4.splat(-1.0 / 3))
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, x2), p))
  const one = f32x4.splat(1)
  const big = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(a, a)), one)))
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)))
  return v128.bitselect(small, signed, f32x4.lt(a, f32x4.splat(0.4)))
}

// The coefficients of erfc4's P, as printed by scripts/fit-erfc.py.
const ERFC_P0: f32 = -1.2655544575295408,
  ERFC_P1: f32 = 1.0011703057534578,
  ERFC_P2: f32 = 0.36092929575539096,
  ERFC_P3: f32 = 0.18005619426511812,
  ERFC_P4: f32 = -0.5052634762416659,
  ERFC_P5: f32 = 1.0433373432240416,
  ERFC_P6: f32 = -2.2652448285768307,
  ERFC_P7: f32 = 2.4198741759004943,
  ERFC_P8: f32 = -1.0560426113811876,
  ERFC_P9: f32 = -0.0912443669883819,
  ERFC_P10: f32 = 0.23798934389721516,
  ERFC_P11: f32 = -0.060006919987416724

/**
 * erfc w: for z = |w|, erfc z = t exp(-z^2 + P(t)) with t = 1 / (1 + z/2) and P of degree 11 fitted by least
 * squares to ln(erfc(z) / t) + z^2 on z in [0, 10] (scripts/fit-erfc.py; largest error of the fit 8e-9); for
 * w < 0, erfc w = 2 - erfc |w|. As erfc, not erf, so that GELU's x Phi(x) = x erfc(-x / sqrt 2) / 2 keeps its
 * relative accuracy where Phi is small.
 */
@inline function erfc4(w: v128): v128 {
  const z = f32x4.abs(w)
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(z, f32x4.splat(0.5))))
  let p = f32x4.splat(ERFC_P11)
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P10))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P9))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P8))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P7))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P6))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P5))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P4))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P3))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P2))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P1))
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(ERFC_P0))
  const r = f32x4.mul(t, exp4(f32x4.sub(p, f32x4.mul(z, z))))
  return v128.bitselect(f32x4.sub(f32x4.splat(2), r), r, f32x4.lt(w, f32x4.splat(0)))
}

/**
 * Exact GELU's backward: dx = dy (Phi(x) + x phi(x)), Phi(x) = erfc(-x / sqrt 2) / 2 (as the forward, keeping its
 * relative accuracy where Phi is small) and phi(x) = e^(-x^2 / 2) / sqrt(2 pi).
 */
@inline function geluGrad4(d: v128, v: v128): v128 {
  const cdf = f32x4.mul(f32x4.splat(0.5), erfc4(f32x4.mul(v, f32x4.splat(-0.7071067811865476))))
  const pdf = f32x4.mul(exp4(f32x4.mul(f32x4.splat(-0.5), f32x4.mul(v, v))), f32x4.splat(0.3989422804014327))
  return f32x4.mul(d, f32x4.add(cdf, f32x4.mul(v, pdf)))
}
export function geluGrad(dy: usize, x: usize, dx: usize, n: i32): void {
  const n4 = n & ~3
  let i = 0
  for (; i < n4; i += 4) v128.store(at(dx, i), geluGrad4(v128.load(at(dy, i)), v128.load(at(x, i))))
  // The last 1-3 elements one at a time, in lane 0.
  for (; i < n; i++)
    store<f32>(at(dx, i), f32x4.extract_lane(geluGrad4(f32x4.splat(load<f32>(at(dy, i))), f32x4.splat(load<f32>(at(x, i)))), 0))
}

const U_EXP = 0, U_SIGMOID = 1, U_TANH = 2, U_SOFTPLUS = 3, U_ELU = 4, U_GELU = 5, U_GELU_TANH = 6, U_MISH = 7

@inline function unary4(op: i32, x: v128, alpha: v128, gamma: v128): v128 {
  const zero = f32x4.splat(0)
  const half = f32x4.splat(0.5)
  if (op == U_EXP) return exp4(x)
  if (op == U_SIGMOID) return sigmoid4(x)
  if (op == U_TANH) return tanh4(x)
  // max(x, 0) + ln(1 + e^-|x|): never overflows.
  if (op == U_SOFTPLUS) return f32x4.add(f32x4.max(x, zero), log1p4(exp4(f32x4.neg(f32x4.abs(x)))))
  if (op == U_ELU) {
    // gamma (x > 0 ? x : alpha (e^x - 1)); above -0.5, e^x - 1 as (u - 1) x / ln u (u = e^x, Kahan's
    // expm1) since u - 1 alone would lose the low bits of a small result, and x itself where u rounds to 1.
    const u = exp4(x)
    const d = f32x4.sub(u, f32x4.splat(1))
    const near = v128.bitselect(x, f32x4.div(f32x4.mul(d, x), log4(u)), f32x4.eq(d, zero))
    const em1 = v128.bitselect(near, d, f32x4.gt(x, f32x4.splat(-0.5)))
    return f32x4.mul(gamma, v128.bitselect(x, f32x4.mul(alpha, em1), f32x4.gt(x, zero)))
  }
  if (op == U_GELU) return f32x4.mul(f32x4.mul(half, x), erfc4(f32x4.mul(x, f32x4.splat(-0.7071067811865476))))
  if (op == U_MISH) {
    // x tanh(softplus(x)) = x n / (n + 2) with n = e^x (e^x + 2), since tanh(ln u) = (u^2 - 1) / (u^2 + 1) at
    // u = 1 + e^x: one exponential and one division. Past x = 20 the fraction is 1 in float32 (and e^x
    // squared would overflow), so x is clamped there; NaN stays NaN, -inf gives NaN as the js kernel's -inf * 0.
    const e = exp4(f32x4.pmin(x, f32x4.splat(20)))
    const n = f32x4.mul(e, f32x4.add(e, f32x4.splat(2)))
    return f32x4.mul(x, f32x4.div(n, f32x4.add(n, f32x4.splat(2))))
  }
  // U_GELU_TANH: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
  const u = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))))
  return f32x4.mul(f32x4.mul(half, x), f32x4.add(f32x4.splat(1), tanh4(u)))
}

/**
 * y = f(x) for the transcendental unary ops (U_*; alpha and gamma are Elu/Selu's), four at a time over n
 * rounded up to a multiple of 4: the JS side's buffers are padded to 16 bytes, and it copies out only n.
 */
export function unary(op: i32, x: usize, y: usize, n: i32, alpha: f32, gamma: f32): void {
  const va = f32x4.splat(alpha)
  const vg = f32x4.splat(gamma)
  for (let i = 0; i < n; i += 4) v128.store(at(y, i), unary4(op, v128.load(at(x, i)), va, vg))
}

/**
 * y = x >= 0 ? x : alpha x (LeakyRelu), four at a time over n rounded up to a multiple of 4, branch-free. The
 * product is taken in float64 with a float64 alpha and rounded once to float32, as the js kernel's (so the
 * results are the same to the bit); -0 stays -0 (ONNX: x for x >= 0) and NaN gives NaN.
 */
export function leakyRelu(x: usize, y: usize, n: i32, alpha: f64): void {
  const a = f64x2.splat(alpha)
  const zero = f32x4.splat(0)
  for (let i = 0; i < n; i += 4) {
    const v = v128.load(at(x, i))
    const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v), a))
    const upper = i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15)
    const hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(upper), a))
    const neg = i8x16.shuffle(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
    v128.store(at(y, i), v128.bitselect(v, neg, f32x4.ge(v, zero)))
  }
}

/**
 * Softmax (log = 0) or log-softmax (log = 1) of `rows` contiguous rows of n floats: the row's max, the sum of
 * e^(x - max) (stored as it goes for softmax), then e / sum or (x - max) - ln sum. Rows with a NaN give NaN, as
 * the js kernel (f32x4.max and f32.max propagate it).
 */
export function softmaxRows(x: usize, y: usize, rows: i32, n: i32, log: i32): void {
  const n4 = n & ~3
  for (let r = 0; r < rows; r++) {
    const px = at(x, r * n)
    const py = at(y, r * n)
    let mv = f32x4.splat(-Infinity)
    let j = 0
    for (; j < n4; j += 4) mv = f32x4.max(mv, v128.load(at(px, j)))
    let m = max<f32>(max<f32>(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)),
      max<f32>(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)))
    for (; j < n; j++) m = max<f32>(m, load<f32>(at(px, j)))
    const vm = f32x4.splat(m)
    let sv = f32x4.splat(0)
    let s: f32 = 0
    for (j = 0; j < n4; j += 4) {
      const e = exp4(f32x4.sub(v128.load(at(px, j)), vm))
      if (!log) v128.store(at(py, j), e)
      sv = f32x4.add(sv, e)
    }
    for (; j < n; j++) {
      const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(at(px, j)) - m)), 0)
      if (!log) store<f32>(at(py, j), e)
      s += e
    }
    s += hsum(sv)
    if (log) {
      // s >= 1 (the max contributes e^0), so ln s is log4's.
      const lse = f32x4.splat(f32x4.extract_lane(log4(f32x4.splat(s)), 0))
      for (j = 0; j < n4; j += 4) v128.store(at(py, j), f32x4.sub(f32x4.sub(v128.load(at(px, j)), vm), lse))
      for (; j < n; j++) store<f32>(at(py, j), load<f32>(at(px, j)) - m - f32x4.extract_lane(lse, 0))
    } else {
      const vs = f32x4.splat(s)
      for (j = 0; j < n4; j += 4) v128.store(at(py, j), f32x4.div(v128.load(at(py, j)), vs))
      for (; j < n; j++) store<f32>(at(py, j), load<f32>(at(py, j)) / s)
    }
  }
}

/**
 * Layer normalisation of `rows` contiguous rows of n floats: the mean, the biased variance from the deviations
 * (a second pass, not E[x^2] - E[x]^2, which cancels), then y = (x - mean) r w + b; w and b are 0 when absent.
 */
export function layerNormRows(x: usize, y: usize, rows: i32, n: i32, w: usize, b: usize, eps: f32): void {
  const n4 = n & ~3
  for (let r = 0; r < rows; r++) {
    const px = at(x, r * n)
    const py = at(y, r * n)
    let sv = f32x4.splat(0)
    let j = 0
    for (; j < n4; j += 4) sv = f32x4.add(sv, v128.load(at(px, j)))
    let s = hsum(sv)
    for (; j < n; j++) s += load<f32>(at(px, j))
    const mean = s / <f32>n
    const vm = f32x4.splat(mean)
    sv = f32x4.splat(0)
    for (j = 0; j < n4; j += 4) {
      const d = f32x4.sub(v128.load(at(px, j)), vm)
      sv = f32x4.add(sv, f32x4.mul(d, d))
    }
    s = hsum(sv)
    for (; j < n; j++) {
      const d = load<f32>(at(px, j)) - mean
      s += d * d
    }
    const rstd: f32 = 1 / Mathf.sqrt(s / <f32>n + eps)
    const vr = f32x4.splat(rstd)
    for (j = 0; j < n4; j += 4) {
      let v = f32x4.mul(f32x4.sub(v128.load(at(px, j)), vm), vr)
      if (w != 0) v = f32x4.mul(v, v128.load(at(w, j)))
      if (b != 0) v = f32x4.add(v, v128.load(at(b, j)))
      v128.store(at(py, j), v)
    }
    for (; j < n; j++) {
      let v = (load<f32>(at(px, j)) - mean) * rstd
      if (w != 0) v *= load<f32>(at(w, j))
      if (b != 0) v += load<f32>(at(b, j))
      store<f32>(at(py, j), v)
    }
  }
}

// ---- recurrent layers ------------------------------------------------------------------------------
/** Four floats at base[off], or (not full: a last unit on its own) one float in every lane. */
@inline function ld(base: usize, off: i32, full: bool): v128 {
  return full ? v128.load(at(base, off)) : f32x4.splat(load<f32>(at(base, off)))
}

// Recurrent scan parameter block (RecurrentScanArgs; pointers are 0 where an operand is absent). `h` holds the
// initial state and receives the final one; `hAlt` is a second state buffer (the steps alternate between the
// two); `sync` is the barrier counter the threads meet at once the panels are packed, and `ctrs` points to the
// step counters (chunks done, then each thread's chunks claimed, 64 bytes apart from a 64-byte boundary), all set
// to 0 by the caller; `canWait` says whether the calling thread may block in a wait (not on a browser's main
// thread).
const R_MODE = 0, R_T = 1, R_B = 2, R_H = 3, R_REVERSE = 4, R_XP = 5, R_W = 6, R_BIAS = 7, R_MASK = 8
const R_STATE = 9, R_CELL = 10, R_Y = 11, R_HH = 12, R_HALT = 13, R_S_HPREV = 14, R_S_CPREV = 15, R_S_HH = 16
const R_S_HNEW = 17, R_S_CNEW = 18, R_CAN_WAIT = 19, R_SYNC = 20, R_WP = 21, R_PACK = 22, R_CTRS = 23

/** Rows of W_hh per panel in the recurrent kernel (packPanel, dotPanel). */
const PANEL = 6

/**
 * PANEL rows of W (row i at W + i * ldw floats, k4 = k & ~3 columns) into a panel: for every four columns, the
 * rows' four values one after another, so that the product with a vector reads the panel in order from one
 * pointer.
 */
function packPanel(W: usize, ldw: i32, k4: i32, dst: usize): void {
  for (let p = 0; p < k4; p += 4) {
    const d = at(dst, p * PANEL)
    for (let i = 0; i < PANEL; i++) v128.store(at(d, i << 2), v128.load(at(W, i * ldw + p)))
  }
}

/**
 * out[i] = a . W[i] (+ bias[i]) for the six rows of a panel (packPanel): six independent multiply-add chains on
 * one load of `a`, the panel's vectors read at constant offsets from one pointer. Six, not eight: V8 loads all
 * of a step's vectors before its multiply-adds, so eight chains need 17 vector registers of the 15 it has, and
 * the accumulator it keeps on the stack puts a store-to-load round trip on its chain (2.5x slower). The k - k4
 * last columns come from W's rows. Each row sums in dotRows' order, so the result is the same as dotRows'.
 */
function dotPanel(a: usize, panel: usize, k4: i32, W: usize, ldw: i32, k: i32, bias: usize, out: usize): void {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0)
  let s4 = f32x4.splat(0), s5 = f32x4.splat(0)
  let w = panel
  for (let p = 0; p < k4; p += 4) {
    const x = v128.load(at(a, p))
    s0 = madd(x, v128.load(w), s0)
    s1 = madd(x, v128.load(w, 16), s1)
    s2 = madd(x, v128.load(w, 32), s2)
    s3 = madd(x, v128.load(w, 48), s3)
    s4 = madd(x, v128.load(w, 64), s4)
    s5 = madd(x, v128.load(w, 80), s5)
    w += 96
  }
  let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3)
  let t4 = hsum(s4), t5 = hsum(s5)
  for (let p = k4; p < k; p++) {
    const x = load<f32>(at(a, p))
    t0 += x * load<f32>(at(W, p)); t1 += x * load<f32>(at(W, ldw + p))
    t2 += x * load<f32>(at(W, 2 * ldw + p)); t3 += x * load<f32>(at(W, 3 * ldw + p))
    t4 += x * load<f32>(at(W, 4 * ldw + p)); t5 += x * load<f32>(at(W, 5 * ldw + p))
  }
  if (bias) {
    t0 += load<f32>(bias); t1 += load<f32>(bias, 4); t2 += load<f32>(bias, 8); t3 += load<f32>(bias, 12)
    t4 += load<f32>(bias, 16); t5 += load<f32>(bias, 20)
  }
  store<f32>(out, t0); store<f32>(out, t1, 4); store<f32>(out, t2, 8); store<f32>(out, t3, 12)
  store<f32>(out, t4, 16); store<f32>(out, t5, 20)
}

/** Spins before a thread waiting at a barrier sleeps (a wake-up through wait/notify costs ~14 us). */
const BARRIER_SPINS = 20000

/**
 * Wait until all `nt` threads have arrived at barrier number `round` (1, 2, ...) on the counter at `ctr`: each
 * arrival adds 1, so round r is passed when the counter reaches r * nt, and the counter never needs a reset
 * within a call. The last to arrive wakes any sleeper. A thread that may not block (a browser's main thread)
 * only spins.
 */
function barrier(ctr: usize, round: i32, nt: i32, canWait: bool): void {
  const target = round * nt
  if (atomic.add<i32>(ctr, 1) + 1 >= target) atomic.notify(ctr, nt)
  else waitAtLeast(ctr, target, canWait)
}

/**
 * Step t for the hidden units [u0, u1) of every sequence (see recurrentScan): hh = W_hh h + b_hh for those units'
 * rows of each gate block (panels from `wp` where packed, dotRows for the rest), then their gates, cell state and
 * outputs, reading the previous state from `cur` and writing the new one to `next`. Each unit's values are
 * computed the same way whichever call covers it, so the split into calls does not change the result.
 */
function scanUnits(p: usize, t: i32, cur: usize, next: usize, u0: i32, u1: i32): void {
  const mode = pi(p, R_MODE), B = pi(p, R_B), H = pi(p, R_H)
  const xp = <usize>pi(p, R_XP), w = <usize>pi(p, R_W), bias = <usize>pi(p, R_BIAS), mask = <usize>pi(p, R_MASK)
  const c = <usize>pi(p, R_CELL), y = <usize>pi(p, R_Y), hhScratch = <usize>pi(p, R_HH)
  const sHPrev = <usize>pi(p, R_S_HPREV), sCPrev = <usize>pi(p, R_S_CPREV), sHh = <usize>pi(p, R_S_HH)
  const sHNew = <usize>pi(p, R_S_HNEW), sCNew = <usize>pi(p, R_S_CNEW), wp = <usize>pi(p, R_WP)
  const G: i32 = mode <= 1 ? 1 : mode == 2 ? 3 : 4
  const GH = G * H, nu = u1 - u0
  const HP = H - H % PANEL, k4 = H & ~3
  // [u0, q1) in panels (u0 is a multiple of twelve), the rest by dotRows; every row without a panel buffer.
  const q1 = wp == 0 || u0 > HP ? u0 : u0 + (imin(u1, HP) - u0) / PANEL * PANEL
  const sH = t * B * H
  const sG = t * B * GH
  const hh = sHh ? at(sHh, sG) : hhScratch
  for (let r = 0; r < B; r++) {
    if (sHPrev) memory.copy(at(sHPrev, sH + r * H + u0), at(cur, r * H + u0), <usize>nu << 2)
    if (sCPrev) memory.copy(at(sCPrev, sH + r * H + u0), at(c, r * H + u0), <usize>nu << 2)
    // hh = h W_hh^T + b_hh, the rows of these units in each gate block
    const out = at(hh, r * GH)
    const hr = at(cur, r * H)
    for (let g = 0; g < G; g++) {
      const o = g * H
      for (let q = u0; q < q1; q += PANEL)
        dotPanel(hr, at(wp, (g * HP + q) * k4), k4, at(w, (o + q) * H), H, H, bias ? at(bias, o + q) : 0, at(out, o + q))
      dotRows(hr, at(w, (o + q1) * H), H, u1 - q1, H, at(out, o + q1))
      if (bias) for (let j = o + q1; j < o + u1; j++) store<f32>(at(out, j), load<f32>(at(out, j)) + load<f32>(at(bias, j)))
    }
  }
  const zero = f32x4.splat(0)
  const one = f32x4.splat(1)
  // The gates, four units at a time; the last H % 4 units one lane each.
  for (let r = 0; r < B; r++) {
    const m: f32 = mask ? load<f32>(at(mask, t * B + r)) : 1
    const mv = f32x4.splat(m)
    const X = at(xp, sG + r * GH)
    const A = at(hh, r * GH)
    const hr = at(cur, r * H)
    const hw = at(next, r * H)
    const cr = c ? at(c, r * H) : 0
    for (let j = u0; j < u1; j += 4) {
      const full = j + 4 <= u1
      // Loads of four units, or of one (the tail) splat across the lanes.
      let hn: v128
      const hp = ld(hr, j, full)
      if (mode <= 1) {
        const pre = f32x4.add(ld(X, j, full), ld(A, j, full))
        hn = mode == 0 ? tanh4(pre) : f32x4.max(pre, zero)
      } else if (mode == 2) {
        const rg = sigmoid4(f32x4.add(ld(X, j, full), ld(A, j, full)))
        const z = sigmoid4(f32x4.add(ld(X, H + j, full), ld(A, H + j, full)))
        const n = tanh4(f32x4.add(ld(X, 2 * H + j, full), f32x4.mul(rg, ld(A, 2 * H + j, full))))
        hn = f32x4.add(f32x4.mul(f32x4.sub(one, z), n), f32x4.mul(z, hp))
      } else {
        const ig = sigmoid4(f32x4.add(ld(X, j, full), ld(A, j, full)))
        const f = sigmoid4(f32x4.add(ld(X, H + j, full), ld(A, H + j, full)))
        const g = tanh4(f32x4.add(ld(X, 2 * H + j, full), ld(A, 2 * H + j, full)))
        const og = sigmoid4(f32x4.add(ld(X, 3 * H + j, full), ld(A, 3 * H + j, full)))
        const cp = ld(cr, j, full)
        const cn = f32x4.add(f32x4.mul(f, cp), f32x4.mul(ig, g))
        hn = f32x4.mul(og, tanh4(cn))
        const cm = m == 1 ? cn : m == 0 ? cp : f32x4.add(cp, f32x4.mul(mv, f32x4.sub(cn, cp)))
        if (full) {
          if (sCNew) v128.store(at(sCNew, sH + r * H + j), cn)
          v128.store(at(cr, j), cm)
        } else {
          if (sCNew) store<f32>(at(sCNew, sH + r * H + j), f32x4.extract_lane(cn, 0))
          store<f32>(at(cr, j), f32x4.extract_lane(cm, 0))
        }
      }
      const hm = m == 1 ? hn : m == 0 ? hp : f32x4.add(hp, f32x4.mul(mv, f32x4.sub(hn, hp)))
      const yv = f32x4.mul(hn, mv)
      if (full) {
        if (sHNew) v128.store(at(sHNew, sH + r * H + j), hn)
        v128.store(at(y, sH + r * H + j), yv)
        v128.store(at(hw, j), hm)
      } else {
        // One unit at a time for the tail: j advances by 4 but only unit j is done; the others follow.
        if (sHNew) store<f32>(at(sHNew, sH + r * H + j), f32x4.extract_lane(hn, 0))
        store<f32>(at(y, sH + r * H + j), f32x4.extract_lane(yv, 0))
        store<f32>(at(hw, j), f32x4.extract_lane(hm, 0))
        j -= 3
      }
    }
  }
}

/** The pieces of a step that threads claim are whole multiples of this many hidden units. */
const SCAN_CHUNK = 12
/** Pieces a thread owns in each step when the steps are shared (it may take others' when it is done). */
const SCAN_CHUNKS_PER_THREAD = 4

/**
 * The first hidden unit of chunk `c` of `chunks` over H units: c * H / chunks rounded to the nearest multiple of
 * SCAN_CHUNK, and H for c = chunks. Chunks may be empty when H is small; their units then belong to a neighbour.
 */
@inline function chunkStart(H: i32, chunks: i32, c: i32): i32 {
  if (c >= chunks) return H
  return imin(H, (c * H + chunks * (SCAN_CHUNK >> 1)) / (chunks * SCAN_CHUNK) * SCAN_CHUNK)
}
/** Reads of an owner's claim counter a thread waits through before it takes the owner's chunks (a few us). */
const STEAL_SPINS = 2000

/**
 * The time loop of a recurrent layer, the whole sequence in one call (js/recurrent.ts is the reference and
 * documents the arguments; RecurrentScanArgs in kernel-table.ts). mode 0 tanh RNN, 1 ReLU RNN, 2 GRU, 3 LSTM.
 * Per step and sequence: hh = W_hh h + b_hh as G*H dot products of length H, into `hh` (B * G*H floats of
 * scratch unless saved); then the gates four units at a time (scanUnits). W_hh is first packed into panels of
 * PANEL rows (`wp`, G * (H - H % PANEL) * (H & ~3) floats; dotPanel), read once a step, unless the caller passes
 * panels packed by an earlier call (R_PACK 0; the layout does not depend on the thread count); the H % PANEL last
 * rows of each gate use dotRows.
 *
 * Threads share each step by hidden units, in chunks (about four a thread): each thread owns an even share of them
 * (it packs their panels, and on a quiet machine computes them every step, so its share of W_hh stays in its own
 * cache) and claims them one at a time from its share's counter; a thread done with its own share claims what
 * is left of the others', so a thread that the machine runs slowly or not at all for a while does not hold the
 * step up (with a fixed split and a barrier, one descheduled thread made the two-thread scan 8x slower). A
 * step's new h goes to the other state buffer, and no thread starts the next step before every chunk of this
 * one is done (R_CTRS[0] counts them). Every value is computed by one thread in the same order as on one
 * thread, so the result does not depend on the thread count or on who computed what.
 */
export function recurrentScan(p: usize, tid: i32, nt: i32): void {
  const mode = pi(p, R_MODE), T = pi(p, R_T), B = pi(p, R_B), H = pi(p, R_H), reverse = pi(p, R_REVERSE) !== 0
  const w = <usize>pi(p, R_W), wp = <usize>pi(p, R_WP)
  // Workers may block; the calling thread (tid 0) where the block says so.
  const canWait = tid != 0 || pi(p, R_CAN_WAIT) !== 0
  // [done, claimed of owner 0, ..., claimed of owner nt - 1], each on a 64-byte line of its own (a claim then
  // stays in its owner's cache unless another thread steals), zeroed by the caller
  const ctrs = <usize>pi(p, R_CTRS)
  const G: i32 = mode <= 1 ? 1 : mode == 2 ? 3 : 4
  // Four chunks a thread (one of all units on one thread), each about H / chunks units rounded to whole twelves
  // (whole panels, whole vectors), so that each reads its rows of W_hh in runs of several panels a gate (a chunk
  // of 12 units, two panels a gate, made one thread ~10% slower: the reads jumped between the gate blocks every
  // 12 KB). Rounding each boundary, not the chunk size, keeps the threads' shares within 12 units of each other
  // (256 units on two threads: 132 and 124, where chunks of a common size, 36, gave 144 and 112).
  const per = nt == 1 ? 1 : SCAN_CHUNKS_PER_THREAD, chunks = per * nt
  // This thread's own units [u0, u1), whose panels it packs here unless the caller kept them from an earlier
  // call (a pinned W_hh: R_PACK 0); then every panel must be packed before any thread reads another's.
  const u0 = chunkStart(H, chunks, tid * per), u1 = chunkStart(H, chunks, (tid + 1) * per)
  const HP = H - H % PANEL, k4 = H & ~3
  if (pi(p, R_PACK) != 0 && wp != 0) {
    const q1 = u0 > HP ? u0 : u0 + (imin(u1, HP) - u0) / PANEL * PANEL
    for (let g = 0; g < G; g++)
      for (let q = u0; q < q1; q += PANEL) packPanel(at(w, (g * H + q) * H), H, k4, at(wp, (g * HP + q) * k4))
    if (nt > 1) barrier(p + (<usize>R_SYNC << 2), 1, nt, canWait)
  }
  let cur = <usize>pi(p, R_STATE), next = <usize>pi(p, R_HALT)
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k
    // Own chunks first, then the others' in turn: claim number k * per + i of an owner's counter is its i-th
    // chunk of step k (a claim only succeeds below (k + 1) * per, so each step hands out exactly per).
    let mine = 0
    for (let d = 0; d < nt; d++) {
      const o = (tid + d) % nt
      const ctr = ctrs + (<usize>(1 + o) << 6)
      const end = (k + 1) * per
      // Another's chunks only once it has been slow to claim them for a while: on a quiet machine the owner
      // finishes within a chunk or two of the others, and a stolen chunk is read from the owner's cache, not the
      // thief's (taking an owner's last chunk as it was about to can make the step longer, not shorter).
      if (d > 0) for (let s = 0; s < STEAL_SPINS && atomic.load<i32>(ctr) < end; s++) {}
      for (let v = atomic.load<i32>(ctr); v < end; v = atomic.load<i32>(ctr)) {
        if (atomic.cmpxchg<i32>(ctr, v, v + 1) != v) continue
        const c = o * per + v - k * per
        scanUnits(p, t, cur, next, chunkStart(H, chunks, c), chunkStart(H, chunks, c + 1))
        mine++
      }
    }
    if (nt > 1) {
      // The thread that completes the step wakes any thread asleep waiting for it.
      const target = (k + 1) * chunks
      if (atomic.add<i32>(ctrs, mine) + mine == target) atomic.notify(ctrs, nt)
      else waitAtLeast(ctrs, target, canWait)
    }
    const swap = cur
    cur = next
    next = swap
  }
  // After an odd number of steps the final state lies in the other buffer (every step is done: all have waited).
  const h = <usize>pi(p, R_STATE)
  if (cur != h && tid == 0) memory.copy(h, cur, <usize>(B * H) << 2)
}

/** Wait until the counter at `ctr` reaches `target`: spin, then (if allowed) sleep until a notify. */
function waitAtLeast(ctr: usize, target: i32, canWait: bool): void {
  let spins = 0
  for (let v = atomic.load<i32>(ctr); v < target; v = atomic.load<i32>(ctr))
    if (canWait && ++spins > BARRIER_SPINS) atomic.wait<i32>(ctr, v, 1000000)
}

// ---- calibration -----------------------------------------------------------------------------------
/**
 * The machine's SIMD peak: `iters` steps of 12 independent multiply-add chains on registers only
 * (24 flop per chain per step, 4 lanes x 2). Returns a value so the work is not optimised away.
 */
export function peak(iters: i32): f32 {
  const m = f32x4.splat(0.999999)
  const a = f32x4.splat(1e-7)
  let c0 = f32x4.splat(1), c1 = f32x4.splat(2), c2 = f32x4.splat(3), c3 = f32x4.splat(4)
  let c4 = f32x4.splat(5), c5 = f32x4.splat(6), c6 = f32x4.splat(7), c7 = f32x4.splat(8)
  let c8 = f32x4.splat(9), c9 = f32x4.splat(10), c10 = f32x4.splat(11), c11 = f32x4.splat(12)
  for (let i = 0; i < iters; i++) {
    c0 = madd(c0, m, a); c1 = madd(c1, m, a); c2 = madd(c2, m, a); c3 = madd(c3, m, a)
    c4 = madd(c4, m, a); c5 = madd(c5, m, a); c6 = madd(c6, m, a); c7 = madd(c7, m, a)
    c8 = madd(c8, m, a); c9 = madd(c9, m, a); c10 = madd(c10, m, a); c11 = madd(c11, m, a)
  }
  const s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)))
  const t = f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11)))
  return f32x4.extract_lane(t, 0)
}

/** The first byte that the JS side may use (after this module's own static data). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15
}

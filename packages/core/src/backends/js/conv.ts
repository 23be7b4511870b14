/**
 * Convolution and pooling kernels of the `js` backend (NCHW, row-major).
 *
 * Convolution is im2col + GEMM: for each sample and group, the input patches are unrolled into a
 * matrix `cols` of (inC/groups * kH * kW) rows by (outH * outW) columns, so the convolution is one
 * matrix product W_g (outC/groups x K) @ cols (K x outH*outW), written straight into the output.
 * The data gradient is the transposed product W_g^T @ dy_g followed by col2im (scatter-add of the
 * patches back into the image); the weight gradient is dy_g @ cols^T summed over the batch. All
 * three reuse the blocked GEMM of matmul.ts, over tiles of output rows so the unrolled patches stay
 * in cache (see `plan`).
 *
 * Inner loops walk one output row at a time over the range of columns that lands inside the input
 * (computed once per kernel tap), so they carry no bounds checks or function calls.
 */
import type { Conv2dGeometry, ConvKernels, FloatArray, Pool2dGeometry } from '../../kernel-table.js'
import { matmul } from './matmul.js'

/** A zeroed scratch array of the same element type as `like`. */
const scratch = (like: FloatArray, n: number): FloatArray =>
  like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)

/**
 * For kernel column offset `off` (= j * dilation - pad), the output columns [lo, hi) whose input
 * column o * stride + off lies inside [0, n).
 */
function validRange(off: number, stride: number, n: number, outN: number): [number, number] {
  const lo = off >= 0 ? 0 : Math.min(outN, Math.ceil(-off / stride))
  const last = n - 1 - off
  const hi = last < 0 ? 0 : Math.min(outN, Math.floor(last / stride) + 1)
  return [lo, Math.max(lo, hi)]
}

/**
 * Unroll the `c` channels of x starting at `xOff`, for output rows [oh0, oh1), into cols:
 * c*kH*kW rows by (oh1 - oh0)*outW columns.
 */
function im2col(
  x: FloatArray,
  xOff: number,
  c: number,
  cols: FloatArray,
  g: Conv2dGeometry,
  oh0: number,
  oh1: number,
): void {
  const { inH, inW, outW, kH, kW, strideH, strideW, padTop, padLeft, dilationH, dilationW } = g
  const T = (oh1 - oh0) * outW
  const plane = inH * inW
  for (let j = 0; j < kW; j++) {
    const off = j * dilationW - padLeft
    const [lo, hi] = validRange(off, strideW, inW, outW)
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < kH; i++) {
        const row = ((ci * kH + i) * kW + j) * T - oh0 * outW
        const xc = xOff + ci * plane
        for (let oh = oh0; oh < oh1; oh++) {
          const r = row + oh * outW
          const iy = oh * strideH - padTop + i * dilationH
          if (iy < 0 || iy >= inH) {
            cols.fill(0, r, r + outW)
            continue
          }
          const src = xc + iy * inW + off
          for (let ow = 0; ow < lo; ow++) cols[r + ow] = 0
          if (strideW === 1) for (let ow = lo; ow < hi; ow++) cols[r + ow] = x[src + ow]!
          else for (let ow = lo; ow < hi; ow++) cols[r + ow] = x[src + ow * strideW]!
          for (let ow = hi; ow < outW; ow++) cols[r + ow] = 0
        }
      }
  }
}

/** The adjoint of im2col: add each entry of cols back into its input position (dx += col2im(cols)). */
function col2im(
  cols: FloatArray,
  dx: FloatArray,
  xOff: number,
  c: number,
  g: Conv2dGeometry,
  oh0: number,
  oh1: number,
): void {
  const { inH, inW, outW, kH, kW, strideH, strideW, padTop, padLeft, dilationH, dilationW } = g
  const T = (oh1 - oh0) * outW
  const plane = inH * inW
  for (let j = 0; j < kW; j++) {
    const off = j * dilationW - padLeft
    const [lo, hi] = validRange(off, strideW, inW, outW)
    if (lo === hi) continue
    for (let ci = 0; ci < c; ci++)
      for (let i = 0; i < kH; i++) {
        const row = ((ci * kH + i) * kW + j) * T - oh0 * outW
        const xc = xOff + ci * plane
        for (let oh = oh0; oh < oh1; oh++) {
          const iy = oh * strideH - padTop + i * dilationH
          if (iy < 0 || iy >= inH) continue
          const r = row + oh * outW
          const dst = xc + iy * inW + off
          if (strideW === 1) for (let ow = lo; ow < hi; ow++) dx[dst + ow]! += cols[r + ow]!
          else for (let ow = lo; ow < hi; ow++) dx[dst + ow * strideW]! += cols[r + ow]!
        }
      }
  }
}

/** dst (cols x rows) = src (rows x cols)^T, in 32 x 32 blocks so both sides stay in cache. */
function transposeInto(src: FloatArray, rows: number, cols: number, dst: FloatArray): void {
  const B = 32
  for (let r0 = 0; r0 < rows; r0 += B)
    for (let c0 = 0; c0 < cols; c0 += B) {
      const r1 = Math.min(rows, r0 + B)
      const c1 = Math.min(cols, c0 + B)
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c]!
    }
}

/** Copy columns [c0, c0 + T) of each of `rows` rows (row stride `stride`, from `off`) into dst (rows x T). */
function copyColumns(
  src: FloatArray,
  off: number,
  rows: number,
  stride: number,
  c0: number,
  T: number,
  dst: FloatArray,
): void {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(off + r * stride + c0, off + r * stride + c0 + T), r * T)
}

/**
 * The sizes shared by the three conv kernels. The output rows are processed in tiles of `rows`
 * rows, so that a tile of `cols` (K x rows*outW) stays near 512 KB (in float32) and the GEMM reads
 * it from cache for every output channel; one tile over the whole image (1.5x slower for a
 * ResNet 64-channel 3x3 layer on 56 x 56) would stream it from memory once per 4 output channels.
 */
function plan(g: Conv2dGeometry) {
  const cg = g.inC / g.groups
  const og = g.outC / g.groups
  const K = cg * g.kH * g.kW
  const rows = Math.min(g.outH, Math.max(1, Math.floor(131072 / K / g.outW)))
  // A 1x1, stride-1, unpadded conv in one tile needs no im2col: the input plane already is cols.
  const pointwise =
    rows === g.outH &&
    g.kH === 1 &&
    g.kW === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outH === g.inH &&
    g.outW === g.inW
  return { cg, og, K, rows, T: rows * g.outW, ohw: g.outH * g.outW, plane: g.inH * g.inW, pointwise }
}

function conv2d(x: FloatArray, w: FloatArray, bias: FloatArray | null, y: FloatArray, g: Conv2dGeometry): void {
  const { cg, og, K, rows, T, ohw, plane, pointwise } = plan(g)
  const cols = pointwise ? null : scratch(y, K * T)
  const tile = rows < g.outH ? scratch(y, og * T) : null
  for (let n = 0; n < g.batch; n++)
    for (let grp = 0; grp < g.groups; grp++) {
      const xOff = (n * g.inC + grp * cg) * plane
      const yOff = (n * g.outC + grp * og) * ohw
      const A = w.subarray(grp * og * K, (grp + 1) * og * K)
      if (!cols) {
        matmul(A, x.subarray(xOff, xOff + K * ohw), y.subarray(yOff, yOff + og * ohw), og, K, ohw, 1, 0, 0)
        continue
      }
      for (let oh0 = 0; oh0 < g.outH; oh0 += rows) {
        const oh1 = Math.min(g.outH, oh0 + rows)
        const t = (oh1 - oh0) * g.outW
        im2col(x, xOff, cg, cols, g, oh0, oh1)
        if (!tile) {
          matmul(A, cols, y.subarray(yOff, yOff + og * ohw), og, K, ohw, 1, 0, 0)
          continue
        }
        matmul(A, cols, tile, og, K, t, 1, 0, 0)
        for (let o = 0; o < og; o++) y.set(tile.subarray(o * t, o * t + t), yOff + o * ohw + oh0 * g.outW)
      }
    }
  if (bias)
    for (let n = 0; n < g.batch; n++)
      for (let o = 0; o < g.outC; o++) {
        const b = bias[o]!
        const r = (n * g.outC + o) * ohw
        for (let p = 0; p < ohw; p++) y[r + p]! += b
      }
}

function conv2dBackwardInput(
  dy: FloatArray,
  w: FloatArray,
  bias: FloatArray | null,
  dx: FloatArray,
  g: Conv2dGeometry,
): void {
  const { cg, og, K, rows, T, ohw, plane, pointwise } = plan(g)
  // W_g^T for every group: (K x og), so the GEMM reads it row by row.
  const wt = scratch(w, w.length)
  for (let grp = 0; grp < g.groups; grp++)
    transposeInto(w.subarray(grp * og * K, (grp + 1) * og * K), og, K, wt.subarray(grp * og * K, (grp + 1) * og * K))
  const cols = pointwise ? null : scratch(dx, K * T)
  const tile = rows < g.outH ? scratch(dx, og * T) : null
  if (cols) dx.fill(0)
  for (let n = 0; n < g.batch; n++)
    for (let grp = 0; grp < g.groups; grp++) {
      const xOff = (n * g.inC + grp * cg) * plane
      const yOff = (n * g.outC + grp * og) * ohw
      const A = wt.subarray(grp * og * K, (grp + 1) * og * K)
      if (!cols) {
        matmul(A, dy.subarray(yOff, yOff + og * ohw), dx.subarray(xOff, xOff + K * ohw), K, og, ohw, 1, 0, 0)
        continue
      }
      for (let oh0 = 0; oh0 < g.outH; oh0 += rows) {
        const oh1 = Math.min(g.outH, oh0 + rows)
        const t = (oh1 - oh0) * g.outW
        let B = dy.subarray(yOff, yOff + og * ohw)
        if (tile) {
          copyColumns(dy, yOff, og, ohw, oh0 * g.outW, t, tile)
          B = tile
        }
        matmul(A, B, cols, K, og, t, 1, 0, 0)
        col2im(cols, dx, xOff, cg, g, oh0, oh1)
      }
    }
  if (bias)
    for (let n = 0; n < g.batch; n++)
      for (let c = 0; c < g.inC; c++) {
        const b = bias[c]!
        const r = (n * g.inC + c) * plane
        for (let p = 0; p < plane; p++) dx[r + p]! += b
      }
}

function conv2dBackwardWeight(x: FloatArray, dy: FloatArray, dw: FloatArray, g: Conv2dGeometry): void {
  const { cg, og, K, rows, T, ohw, plane, pointwise } = plan(g)
  const cols = pointwise ? null : scratch(dw, K * T)
  const colsT = scratch(dw, K * T)
  const tile = rows < g.outH ? scratch(dw, og * T) : null
  const part = scratch(dw, og * K)
  dw.fill(0)
  for (let n = 0; n < g.batch; n++)
    for (let grp = 0; grp < g.groups; grp++) {
      const xOff = (n * g.inC + grp * cg) * plane
      const yOff = (n * g.outC + grp * og) * ohw
      for (let oh0 = 0; oh0 < g.outH; oh0 += rows) {
        const oh1 = Math.min(g.outH, oh0 + rows)
        const t = (oh1 - oh0) * g.outW
        if (cols) {
          im2col(x, xOff, cg, cols, g, oh0, oh1)
          transposeInto(cols, K, t, colsT)
        } else transposeInto(x.subarray(xOff, xOff + K * ohw), K, ohw, colsT)
        let A = dy.subarray(yOff, yOff + og * ohw)
        if (tile) {
          copyColumns(dy, yOff, og, ohw, oh0 * g.outW, t, tile)
          A = tile
        }
        // dW_g += dy_tile (og x t) @ cols_tile^T (t x K)
        matmul(A, colsT, part, og, t, K, 1, 0, 0)
        const wOff = grp * og * K
        for (let i = 0; i < og * K; i++) dw[wOff + i]! += part[i]!
      }
    }
}

/** The first and one-past-last window taps i (of k) whose position start + i * d lies in [0, n). */
function tapRange(start: number, k: number, d: number, n: number): [number, number] {
  const lo = start >= 0 ? 0 : Math.ceil(-start / d)
  const last = n - 1 - start
  const hi = last < 0 ? 0 : Math.min(k, Math.floor(last / d) + 1)
  return [lo, Math.max(lo, hi)]
}

/** The window taps inside the input, [lo, hi), per output row (i) and per output column (j). */
export function poolTaps(g: Pool2dGeometry): { iLo: Int32Array; iHi: Int32Array; jLo: Int32Array; jHi: Int32Array } {
  const [jLo, jHi] = [new Int32Array(g.outW), new Int32Array(g.outW)]
  for (let ow = 0; ow < g.outW; ow++)
    [jLo[ow], jHi[ow]] = tapRange(ow * g.strideW - g.padLeft, g.kW, g.dilationW, g.inW)
  const [iLo, iHi] = [new Int32Array(g.outH), new Int32Array(g.outH)]
  for (let oh = 0; oh < g.outH; oh++) [iLo[oh], iHi[oh]] = tapRange(oh * g.strideH - g.padTop, g.kH, g.dilationH, g.inH)
  return { iLo, iHi, jLo, jHi }
}

function maxPool2d(x: FloatArray, y: FloatArray, indices: Int32Array | null, g: Pool2dGeometry): void {
  const { planes, inH, inW, outH, outW, strideH, strideW, padTop, padLeft, dilationH, dilationW } = g
  const plane = inH * inW
  const { iLo, iHi, jLo, jHi } = poolTaps(g)
  for (let p = 0; p < planes; p++) {
    const xo = p * plane
    const yo = p * outH * outW
    for (let oh = 0; oh < outH; oh++) {
      const hs = oh * strideH - padTop
      const i0 = iLo[oh]!
      const i1 = iHi[oh]!
      for (let ow = 0; ow < outW; ow++) {
        const ws = ow * strideW - padLeft
        const j0 = jLo[ow]!
        const j1 = jHi[ow]!
        // NOTE: as PyTorch: start at -inf with the first tap inside the input as the index, take a
        // strictly greater value (the first of equal maxima wins), and let NaN propagate.
        // A window wholly in the padding (possible only with a large dilation) gets -inf and index -1.
        let best = -Infinity
        let bi = i0 < i1 && j0 < j1 ? (hs + i0 * dilationH) * inW + ws + j0 * dilationW : -1
        for (let i = i0; i < i1; i++) {
          const r = (hs + i * dilationH) * inW + ws
          for (let j = j0; j < j1; j++) {
            const v = x[xo + r + j * dilationW]!
            if (v > best || Number.isNaN(v)) {
              best = v
              bi = r + j * dilationW
            }
          }
        }
        y[yo + oh * outW + ow] = best
        if (indices) indices[yo + oh * outW + ow] = bi
      }
    }
  }
}

function maxPool2dBackward(dy: FloatArray, indices: Int32Array, dx: FloatArray, g: Pool2dGeometry): void {
  const plane = g.inH * g.inW
  const ohw = g.outH * g.outW
  dx.fill(0)
  for (let p = 0; p < g.planes; p++) {
    const xo = p * plane
    const yo = p * ohw
    for (let o = 0; o < ohw; o++) {
      const i = indices[yo + o]!
      if (i >= 0) dx[xo + i]! += dy[yo + o]!
    }
  }
}

/**
 * The windows of average pooling as PyTorch computes them, generalised to dilated windows as in
 * ONNX AveragePool (opset 19): for each output, the row start hs, the taps [i0, i1) of the kH whose
 * rows hs + i * dilationH lie inside the input (likewise for columns), and the divisor. Without
 * count_include_pad the divisor is the number of taps inside the input; with it, the taps inside the
 * padded input, so the part of a ceil-mode window that runs past the padding is never counted
 * (undilated: (min(hs + kH, inH + padBottom) - hs) * (same for w)).
 * Each window is pushed as 8 numbers: o, hs, i0, i1, ws, j0, j1, count.
 */
function avgWindows(g: Pool2dGeometry, countIncludePad: boolean): number[] {
  const { inH, inW, outH, outW, kH, kW, strideH, strideW, padTop, padLeft, padBottom, padRight, dilationH, dilationW } =
    g
  const win: number[] = []
  for (let oh = 0; oh < outH; oh++) {
    const hs = oh * strideH - padTop
    const [i0, i1] = tapRange(hs, kH, dilationH, inH)
    const padRows = Math.min(kH, Math.floor((inH + padBottom - 1 - hs) / dilationH) + 1)
    for (let ow = 0; ow < outW; ow++) {
      const ws = ow * strideW - padLeft
      const [j0, j1] = tapRange(ws, kW, dilationW, inW)
      const padCols = Math.min(kW, Math.floor((inW + padRight - 1 - ws) / dilationW) + 1)
      const inside = (i1 - i0) * (j1 - j0)
      win.push(oh * outW + ow, hs, i0, i1, ws, j0, j1, inside === 0 ? 0 : countIncludePad ? padRows * padCols : inside)
    }
  }
  return win
}

function avgPool2d(x: FloatArray, y: FloatArray, g: Pool2dGeometry, countIncludePad: boolean): void {
  const { planes, inH, inW, outH, outW, dilationH, dilationW } = g
  const plane = inH * inW
  const ohw = outH * outW
  // The windows are the same for every plane: list them once, then sweep the planes.
  const win = avgWindows(g, countIncludePad)
  for (let p = 0; p < planes; p++) {
    const xo = p * plane
    const yo = p * ohw
    for (let t = 0; t < win.length; t += 8) {
      const hs = win[t + 1]!,
        i1 = win[t + 3]!,
        ws = win[t + 4]!,
        j0 = win[t + 5]!,
        j1 = win[t + 6]!
      let s = 0
      for (let i = win[t + 2]!; i < i1; i++) {
        const r = xo + (hs + i * dilationH) * inW + ws
        for (let j = j0; j < j1; j++) s += x[r + j * dilationW]!
      }
      // An empty window (possible only with odd paddings or large dilations) gives 0, as in PyTorch.
      y[yo + win[t]!] = win[t + 7] === 0 ? 0 : s / win[t + 7]!
    }
  }
}

function avgPool2dBackward(dy: FloatArray, dx: FloatArray, g: Pool2dGeometry, countIncludePad: boolean): void {
  const { planes, inH, inW, outH, outW, dilationH, dilationW } = g
  const plane = inH * inW
  const ohw = outH * outW
  const win = avgWindows(g, countIncludePad)
  dx.fill(0)
  for (let p = 0; p < planes; p++) {
    const xo = p * plane
    const yo = p * ohw
    for (let t = 0; t < win.length; t += 8) {
      const hs = win[t + 1]!,
        i1 = win[t + 3]!,
        ws = win[t + 4]!,
        j0 = win[t + 5]!,
        j1 = win[t + 6]!
      const count = win[t + 7]!
      if (count === 0) continue
      const v = dy[yo + win[t]!]! / count
      for (let i = win[t + 2]!; i < i1; i++) {
        const r = xo + (hs + i * dilationH) * inW + ws
        for (let j = j0; j < j1; j++) dx[r + j * dilationW]! += v
      }
    }
  }
}

export const convKernels: ConvKernels = {
  Conv: conv2d,
  ConvTranspose: conv2dBackwardInput,
  ConvWeightGrad: conv2dBackwardWeight,
  MaxPool: maxPool2d,
  MaxPoolGrad: maxPool2dBackward,
  AveragePool: avgPool2d,
  AveragePoolGrad: avgPool2dBackward,
}

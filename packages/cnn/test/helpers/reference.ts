/**
 * Direct-loop reference convolutions for the layer tests: the textbook definitions, one output (or
 * one input, for the transposed conv) at a time, in float64. Slow and obviously right, so the
 * layers (im2col + GEMM kernels in core) can be compared with them. The forward convolution is
 * core's test helper, shared with core's own conv tests.
 */
import { type Tensor, fromArray } from '@refnets/core'
import { type DirectConvOptions, directConv2d } from '../../../core/test/helpers/direct-conv.js'

/** The direct-loop convolution shared with core's conv tests (core/test/helpers/direct-conv.ts), as a Tensor. */
export function conv2dRef(x: Tensor, w: Tensor, b: Tensor | null, opts: DirectConvOptions = {}): Tensor {
  const { data, shape } = directConv2d(x, w, b, opts)
  return fromArray(data, shape)
}

export interface RefConvTransposeOptions {
  stride?: [number, number]
  padding?: [number, number]
  outputPadding?: [number, number]
  groups?: number
}

/**
 * The transposed convolution as a scatter: every input x[n, c, i, j] adds x * w[c, o', u, v] at
 * output (i s + u - p, j s + v - p) of each output channel o in c's group; weight (C_in, C_out / g, kh, kw).
 */
export function convTranspose2dRef(
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
  { stride = [1, 1], padding = [0, 0], outputPadding = [0, 0], groups = 1 }: RefConvTransposeOptions = {},
): Tensor {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [, og, kh, kw] = w.shape as [number, number, number, number]
  const o = og * groups
  const oh = (h - 1) * stride[0] - 2 * padding[0] + kh + outputPadding[0]
  const ow = (wd - 1) * stride[1] - 2 * padding[1] + kw + outputPadding[1]
  const X = x.data
  const W = w.data
  const y = new Float64Array(n * o * oh * ow)
  const cg = c / groups
  for (let bi = 0; bi < n; bi++)
    for (let ci = 0; ci < c; ci++) {
      const g = Math.floor(ci / cg)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < wd; j++) {
          const xv = Number(X[((bi * c + ci) * h + i) * wd + j])
          for (let oc = 0; oc < og; oc++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const r = i * stride[0] + u - padding[0]
                const q = j * stride[1] + v - padding[1]
                if (r < 0 || r >= oh || q < 0 || q >= ow) continue
                y[((bi * o + g * og + oc) * oh + r) * ow + q]! += xv * Number(W[((ci * og + oc) * kh + u) * kw + v])
              }
        }
    }
  if (b)
    for (let bi = 0; bi < n; bi++)
      for (let oc = 0; oc < o; oc++)
        for (let k = 0; k < oh * ow; k++) y[(bi * o + oc) * oh * ow + k]! += Number(b.data[oc])
  return fromArray(y, [n, o, oh, ow])
}

/** max |a - b| over all elements (shapes must match). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join())
    throw new Error(`shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`)
  const x = a.data
  const y = b.data
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])))
  return m
}

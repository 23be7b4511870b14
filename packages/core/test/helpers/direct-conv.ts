/**
 * The direct-loop 2-D convolution (cross-correlation, as in PyTorch and ONNX Conv), one output at a time in
 * float64: the textbook definition the im2col + GEMM kernels must match. Slow and obviously right. It reads
 * plain arrays (anything with `data` and `shape`, a Tensor included) and imports nothing, so the layer tests of
 * the model packages use it too.
 */

export interface DirectConvOptions {
  stride?: [number, number]
  /** [top, left, bottom, right] */
  pads?: [number, number, number, number]
  dilation?: [number, number]
  groups?: number
}

interface Values {
  data: ArrayLike<number>
  shape: readonly number[]
}

/**
 * y[n, o, i, j] = b[o] + sum over c' < C/g, u, v of x[n, g C/g + c', i s - pt + u d, j s - pl + v d] w[o, c', u, v],
 * with g = o's group; x is (N, C, H, W), w is (O, C / groups, kH, kW), positions outside x count as 0.
 */
export function directConv2d(
  x: Values,
  w: Values,
  b: Values | null = null,
  { stride = [1, 1], pads = [0, 0, 0, 0], dilation = [1, 1], groups = 1 }: DirectConvOptions = {},
): { data: Float64Array; shape: [number, number, number, number] } {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [o, cg, kh, kw] = w.shape as [number, number, number, number]
  const oh = Math.floor((h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1
  const ow = Math.floor((wd + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1
  const X = x.data
  const W = w.data
  const B = b?.data
  const y = new Float64Array(n * o * oh * ow)
  const og = o / groups
  for (let bi = 0; bi < n; bi++)
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = B ? Number(B[oc]) : 0
          for (let ci = 0; ci < cg; ci++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const r = i * stride[0] - pads[0] + u * dilation[0]
                const q = j * stride[1] - pads[1] + v * dilation[1]
                if (r < 0 || r >= h || q < 0 || q >= wd) continue
                s +=
                  Number(X[((bi * c + g * cg + ci) * h + r) * wd + q]) * Number(W[((oc * cg + ci) * kh + u) * kw + v])
              }
          y[((bi * o + oc) * oh + i) * ow + j] = s
        }
    }
  return { data: y, shape: [n, o, oh, ow] }
}

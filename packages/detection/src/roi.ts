/**
 * Region-of-interest feature extraction for two-stage detectors (d2l.ai, "Region-based CNNs",
 * https://d2l.ai/chapter_computer-vision/rcnn.html):
 * - RoI pooling (Fast R-CNN, Girshick 2015, https://arxiv.org/abs/1504.08083): snap the box to the
 *   feature grid, split it into output-size bins (rounded outwards) and max-pool each bin;
 * - RoI align (Mask R-CNN, He et al. 2017, https://arxiv.org/abs/1703.06870): no snapping; each bin
 *   averages `samplingRatio²` bilinear samples (adaptive: ceil(bin size) per side). `aligned` shifts
 *   by half a pixel so that a box's continuous coordinates line up with pixel centres.
 * Semantics, including the edge cases, follow torchvision.ops.roi_align / roi_pool (and ONNX
 * RoiAlign / MaxRoiPool, which they export as). Both are primitive ops: the backward pass scatters
 * the output gradient back with the same interpolation weights (or to each bin's argmax).
 * Boxes are (K, 5) rows [batchIndex, x1, y1, x2, y2] in image coordinates; `spatialScale` maps them
 * onto the feature map (1/16 for a stride-16 backbone).
 */
import {
  ArgumentError,
  type OpDef,
  ShapeError,
  type Tensor,
  Tensor as T,
  allocate,
  apply,
  concat,
  defineOp,
} from '@refnets/core'

export interface RoiAlignOptions {
  /** Output (height, width) per box, or one number for a square. */
  outputSize: number | readonly [number, number]
  /** Image-to-feature-map scale (default 1). */
  spatialScale?: number
  /** Samples per bin side; <= 0 adapts to the bin size, ceil(roi / output) (default -1). */
  samplingRatio?: number
  /** Shift by -0.5 pixel (pixel-centre model; default false, the original Mask R-CNN). */
  aligned?: boolean
}

interface AlignAttrs {
  oh: number
  ow: number
  scale: number
  ratio: number
  aligned: boolean
  inShape: number[]
}

/** The bilinear taps of one sample: up to 4 (offset, weight) pairs; none when the sample is outside. */
function taps(y: number, x: number, h: number, w: number, out: number[]): number {
  // NOTE: a sample more than one pixel outside contributes 0; between -1 and 0 it is clamped to the
  // border, as torchvision's bilinear_interpolate (and ONNX RoiAlign) do.
  if (y < -1 || y > h || x < -1 || x > w) return 0
  if (y <= 0) y = 0
  if (x <= 0) x = 0
  let yl = Math.floor(y)
  let xl = Math.floor(x)
  let yh: number
  let xh: number
  if (yl >= h - 1) {
    yh = yl = h - 1
    y = yl
  } else yh = yl + 1
  if (xl >= w - 1) {
    xh = xl = w - 1
    x = xl
  } else xh = xl + 1
  const ly = y - yl
  const lx = x - xl
  const hy = 1 - ly
  const hx = 1 - lx
  out[0] = yl * w + xl
  out[1] = hy * hx
  out[2] = yl * w + xh
  out[3] = hy * lx
  out[4] = yh * w + xl
  out[5] = ly * hx
  out[6] = yh * w + xh
  out[7] = ly * lx
  return 4
}

/** One RoI's bilinear taps, as offsets in a channel: output o[j] (bin), input i[j] (pixel), weight w[j]. */
interface RoiTaps {
  o: Int32Array
  i: Int32Array
  w: Float64Array
  n: number
}

/**
 * Walk RoI align's bilinear taps one RoI at a time: `visit(r, b, taps)` gets RoI r, its image b and its taps,
 * which are the same in every channel, so the visitor loops over channels outside and taps inside, reading and
 * writing within one channel plane (in order: bins, samples, taps). The adjoint uses the same walk.
 */
function alignWalk(
  rois: ArrayLike<number>,
  k: number,
  a: AlignAttrs,
  visit: (r: number, b: number, taps: RoiTaps) => void,
): void {
  const [, , h, w] = a.inShape as [number, number, number, number]
  const off = a.aligned ? 0.5 : 0
  const tp: number[] = new Array(8).fill(0)
  let t: RoiTaps = { o: new Int32Array(0), i: new Int32Array(0), w: new Float64Array(0), n: 0 }
  for (let r = 0; r < k; r++) {
    const b = rois[5 * r]!
    const x1 = rois[5 * r + 1]! * a.scale - off
    const y1 = rois[5 * r + 2]! * a.scale - off
    let rw = rois[5 * r + 3]! * a.scale - off - x1
    let rh = rois[5 * r + 4]! * a.scale - off - y1
    if (!a.aligned) {
      rw = Math.max(rw, 1)
      rh = Math.max(rh, 1)
    }
    const bh = rh / a.oh
    const bw = rw / a.ow
    const gh = a.ratio > 0 ? a.ratio : Math.ceil(rh / a.oh)
    const gw = a.ratio > 0 ? a.ratio : Math.ceil(rw / a.ow)
    const count = Math.max(gh * gw, 1)
    const most = 4 * a.oh * a.ow * gh * gw
    if (t.o.length < most) t = { o: new Int32Array(most), i: new Int32Array(most), w: new Float64Array(most), n: 0 }
    t.n = 0
    for (let ph = 0; ph < a.oh; ph++)
      for (let pw = 0; pw < a.ow; pw++)
        for (let iy = 0; iy < gh; iy++) {
          const y = y1 + ph * bh + ((iy + 0.5) * bh) / gh
          for (let ix = 0; ix < gw; ix++) {
            const x = x1 + pw * bw + ((ix + 0.5) * bw) / gw
            if (!taps(y, x, h, w, tp)) continue
            for (let q = 0; q < 4; q++) {
              t.o[t.n] = ph * a.ow + pw
              t.i[t.n] = tp[2 * q]!
              t.w[t.n++] = tp[2 * q + 1]! / count
            }
          }
        }
    visit(r, b, t)
  }
}

const RoiAlignGrad: OpDef<AlignAttrs> = defineOp<AlignAttrs>({
  name: 'RoiAlignGrad',
  forward: ([dy, rois], a) => {
    const g = allocate(
      dy!.dtype as 'float64',
      a.inShape.reduce((p, q) => p * q, 1),
    )
    const d = dy!.data
    const [c, os, is] = [a.inShape[1]!, a.oh * a.ow, a.inShape[2]! * a.inShape[3]!]
    alignWalk(rois!.data, rois!.shape[0]!, a, (r, b, { o, i, w, n }) => {
      for (let ch = 0; ch < c; ch++) {
        const yo = (r * c + ch) * os
        const xo = (b * c + ch) * is
        for (let j = 0; j < n; j++) g[xo + i[j]!] += w[j]! * d[yo + o[j]!]!
      }
    })
    return new T(g, a.inShape)
  },
  backward: (ddx, { inputs: [, rois], attrs }) => [apply(RoiAlignOp, [ddx, rois!], attrs), null],
})

const RoiAlignOp: OpDef<AlignAttrs> = defineOp<AlignAttrs>({
  name: 'RoiAlign',
  forward: ([x, rois], a) => {
    const k = rois!.shape[0]!
    const c = a.inShape[1]!
    const y = allocate(x!.dtype as 'float64', k * c * a.oh * a.ow)
    const d = x!.data
    const [os, is] = [a.oh * a.ow, a.inShape[2]! * a.inShape[3]!]
    alignWalk(rois!.data, k, a, (r, b, { o, i, w, n }) => {
      for (let ch = 0; ch < c; ch++) {
        const yo = (r * c + ch) * os
        const xo = (b * c + ch) * is
        // A bin's taps are consecutive: sum them in a local and store once (a store per tap made every add wait
        // for the previous one's store; same sums in the same order, one rounding to the output's type).
        for (let j = 0; j < n; ) {
          const bin = o[j]!
          let acc = 0
          for (; j < n && o[j] === bin; j++) acc += w[j]! * d[xo + i[j]!]!
          y[yo + bin] += acc
        }
      }
    })
    return new T(y, [k, c, a.oh, a.ow])
  },
  backward: (dy, { inputs: [, rois], attrs }) => [apply(RoiAlignGrad, [dy, rois!], attrs), null],
  // ONNX RoiAlign takes (K, 4) boxes and int64 batch indices; torchvision's -1 (adaptive) is ONNX's 0.
  onnx: (ctx, [x, rois], { attrs: a }) => {
    ctx.requireOpset(16)
    const idx = ctx.constant([0], 'int64', [1])
    const one = ctx.constant([1], 'int64', [1])
    const five = ctx.constant([5], 'int64', [1])
    const axis = ctx.constant([1], 'int64', [1])
    const boxes = ctx.node('Slice', [rois!, one, five, axis])[0]!
    const col = ctx.node('Slice', [rois!, idx, one, axis])[0]!
    const flat = ctx.node('Squeeze', [col, axis])[0]!
    const batch = ctx.node('Cast', [flat], { to: 7 })[0]!
    return ctx.node('RoiAlign', [x!, boxes, batch], {
      mode: 'avg',
      output_height: a.oh,
      output_width: a.ow,
      sampling_ratio: Math.max(a.ratio, 0),
      spatial_scale: a.scale,
      coordinate_transformation_mode: a.aligned ? 'half_pixel' : 'output_half_pixel',
    })
  },
})

/** Check x (N, C, H, W) and boxes (K, 5) [batch, x1, y1, x2, y2]; returns [outH, outW]. */
function checkRoiInputs(
  what: string,
  x: Tensor,
  rois: Tensor,
  outputSize: number | readonly [number, number],
): [number, number] {
  if (x.rank !== 4) throw new ShapeError(`${what}: input must be (N, C, H, W), got shape [${x.shape.join(', ')}]`)
  if (rois.rank !== 2 || rois.shape[1] !== 5)
    throw new ShapeError(
      `${what}: boxes must be (K, 5) rows [batchIndex, x1, y1, x2, y2], got shape [${rois.shape.join(', ')}]`,
    )
  if (rois.dtype !== x.dtype)
    throw new ArgumentError(`${what}: boxes (${rois.dtype}) must have the input's dtype (${x.dtype})`)
  const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize
  if (!(Number.isInteger(oh) && Number.isInteger(ow) && oh > 0 && ow > 0))
    throw new ArgumentError(`${what}: outputSize must be positive integers, got [${oh}, ${ow}]`)
  const d = rois.data
  for (let r = 0; r < rois.shape[0]!; r++) {
    const b = d[5 * r]!
    if (!Number.isInteger(b) || b < 0 || b >= x.shape[0]!)
      throw new ArgumentError(`${what}: box ${r} has batch index ${b}; expected an integer in [0, ${x.shape[0]})`)
    for (let j = 1; j < 5; j++)
      if (!Number.isFinite(d[5 * r + j]!)) throw new ArgumentError(`${what}: box ${r} has a non-finite coordinate`)
  }
  return [oh, ow]
}

/** Boxes given per image ((K_i, 4) each) as one (K, 5) tensor with the image index in column 0. */
export function boxesToRois(boxes: Tensor[]): Tensor {
  if (boxes.length === 0) throw new ArgumentError('boxesToRois: expected one (K_i, 4) box tensor per image, got none')
  return concat(
    boxes.map((b, i) => {
      if (b.rank !== 2 || b.shape[1] !== 4)
        throw new ShapeError(`boxesToRois: boxes of image ${i} must be (K, 4), got [${b.shape.join(', ')}]`)
      const col = new T(allocate(b.dtype as 'float64', b.shape[0]!).fill(i), [b.shape[0]!, 1])
      return concat([col, b], 1)
    }),
    0,
  )
}

/**
 * RoI align: (N, C, H, W) features and (K, 5) boxes -> (K, C, outH, outW), as
 * torchvision.ops.roi_align(input, boxes, output_size, spatial_scale, sampling_ratio, aligned).
 */
export function roiAlign(
  x: Tensor,
  rois: Tensor,
  { outputSize, spatialScale = 1, samplingRatio = -1, aligned = false }: RoiAlignOptions,
): Tensor {
  const [oh, ow] = checkRoiInputs('roiAlign', x, rois, outputSize)
  return apply(RoiAlignOp, [x, rois], {
    oh,
    ow,
    scale: spatialScale,
    ratio: samplingRatio,
    aligned,
    inShape: [...x.shape],
  })
}

// ---- RoI pooling ------------------------------------------------------------------------------

interface PoolAttrs {
  oh: number
  ow: number
  scale: number
  inShape: number[]
}

/** C's round(): halves away from zero (Math.round sends -2.5 to -2). */
const roundC = (v: number): number => Math.sign(v) * Math.round(Math.abs(v))

/** For each output element, the input index of its maximum (-1 for an empty bin). */
function poolArgmax(x: ArrayLike<number>, rois: ArrayLike<number>, k: number, a: PoolAttrs): Int32Array {
  const [, c, h, w] = a.inShape as [number, number, number, number]
  const arg = new Int32Array(k * c * a.oh * a.ow).fill(-1)
  for (let r = 0; r < k; r++) {
    const b = rois[5 * r]!
    const sw = roundC(rois[5 * r + 1]! * a.scale)
    const sh = roundC(rois[5 * r + 2]! * a.scale)
    const ew = roundC(rois[5 * r + 3]! * a.scale)
    const eh = roundC(rois[5 * r + 4]! * a.scale)
    const bh = Math.max(eh - sh + 1, 1) / a.oh
    const bw = Math.max(ew - sw + 1, 1) / a.ow
    for (let ph = 0; ph < a.oh; ph++)
      for (let pw = 0; pw < a.ow; pw++) {
        const hs = Math.min(Math.max(Math.floor(ph * bh) + sh, 0), h)
        const he = Math.min(Math.max(Math.ceil((ph + 1) * bh) + sh, 0), h)
        const ws = Math.min(Math.max(Math.floor(pw * bw) + sw, 0), w)
        const we = Math.min(Math.max(Math.ceil((pw + 1) * bw) + sw, 0), w)
        for (let ch = 0; ch < c; ch++) {
          const base = (b * c + ch) * h * w
          let best = -1
          for (let i = hs; i < he; i++)
            for (let j = ws; j < we; j++) if (best < 0 || x[base + i * w + j]! > x[best]!) best = base + i * w + j
          arg[((r * c + ch) * a.oh + ph) * a.ow + pw] = best
        }
      }
  }
  return arg
}

const RoiPoolGrad = defineOp<PoolAttrs>({
  name: 'MaxRoiPoolGrad',
  forward: ([dy, x, rois], a) => {
    const arg = poolArgmax(x!.data, rois!.data, rois!.shape[0]!, a)
    const g = allocate(dy!.dtype as 'float64', x!.size)
    const d = dy!.data
    for (let o = 0; o < arg.length; o++) if (arg[o]! >= 0) g[arg[o]!] += d[o]!
    return new T(g, a.inShape)
  },
})

const RoiPoolOp = defineOp<PoolAttrs>({
  name: 'MaxRoiPool',
  forward: ([x, rois], a) => {
    const arg = poolArgmax(x!.data, rois!.data, rois!.shape[0]!, a)
    const y = allocate(x!.dtype as 'float64', arg.length)
    const d = x!.data
    // NOTE: an empty bin (a box entirely outside the map) gives 0, as torchvision.
    for (let o = 0; o < arg.length; o++) y[o] = arg[o]! >= 0 ? d[arg[o]!]! : 0
    return new T(y, [rois!.shape[0]!, a.inShape[1]!, a.oh, a.ow])
  },
  backward: (dy, { inputs: [x, rois], attrs }) => [apply(RoiPoolGrad, [dy, x!.detach(), rois!], attrs), null],
  onnx: (ctx, [x, rois], { attrs: a }) =>
    ctx.node('MaxRoiPool', [x!, rois!], { pooled_shape: [a.oh, a.ow], spatial_scale: a.scale }),
})

/** RoI max pooling: (N, C, H, W) and (K, 5) boxes -> (K, C, outH, outW), as torchvision.ops.roi_pool. */
export function roiPool(
  x: Tensor,
  rois: Tensor,
  { outputSize, spatialScale = 1 }: Pick<RoiAlignOptions, 'outputSize' | 'spatialScale'>,
): Tensor {
  const [oh, ow] = checkRoiInputs('roiPool', x, rois, outputSize)
  return apply(RoiPoolOp, [x, rois], { oh, ow, scale: spatialScale, inShape: [...x.shape] })
}

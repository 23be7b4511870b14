/**
 * ONNX Resize (opset 19): nearest / linear / cubic, every coordinate transformation mode, nearest
 * rounding modes, antialiasing, exclude_outside, tf_crop_and_resize with extrapolation, axes and
 * keep_aspect_ratio_policy. Resizing is separable: each axis is resampled in turn by a sparse
 * (output index -> input indices, weights) table, innermost axis first.
 */
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrFloat, attrInt, attrInts, attrString, input, ints, optional } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'

interface Axis1D {
  nIn: number
  nOut: number
  scale: number
  roiStart: number
  roiEnd: number
}

/** Keys cubic convolution kernel (Keys 1981) with parameter A (ONNX default -0.75). */
function cubic(x: number, A: number): number {
  const t = Math.abs(x)
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
  return 0
}

/** Where output coordinate `o` falls in input coordinates. */
function sourceCoordinate(mode: string, o: number, a: Axis1D): number {
  const { nIn, nOut, scale } = a
  switch (mode) {
    case 'half_pixel':
      return (o + 0.5) / scale - 0.5
    case 'half_pixel_symmetric': {
      const adjustment = nOut / (scale * nIn)
      const center = nIn / 2
      return center * (1 - adjustment) + (o + 0.5) / scale - 0.5
    }
    case 'pytorch_half_pixel':
      return nOut > 1 ? (o + 0.5) / scale - 0.5 : 0
    // NOTE: uses the real-valued output length scale * nIn (not the rounded one), as the ONNX reference.
    case 'align_corners':
      return nOut === 1 ? 0 : (o * (nIn - 1)) / (scale * nIn - 1)
    case 'asymmetric':
      return o / scale
    case 'tf_crop_and_resize':
      return nOut > 1
        ? a.roiStart * (nIn - 1) + (o * (a.roiEnd - a.roiStart) * (nIn - 1)) / (nOut - 1)
        : 0.5 * (a.roiStart + a.roiEnd) * (nIn - 1)
    default:
      throw new OnnxImportError(`Resize: unknown coordinate_transformation_mode '${mode}'`)
  }
}

/** Interpolation weights for the points around x (ratio = x - floor(x), with 0 read as 1). */
function coefficients(ctx: NodeContext, ratio: number, scale: number): number[] {
  const mode = attrString(ctx, 'mode', 'nearest')
  const antialias = attrInt(ctx, 'antialias', 0) === 1 && scale < 1
  if (mode === 'nearest') {
    if (ratio === 1) return [0, 1]
    switch (attrString(ctx, 'nearest_mode', 'round_prefer_floor')) {
      case 'round_prefer_ceil':
        return ratio < 0.5 ? [1, 0] : [0, 1]
      case 'floor':
        return [1, 0]
      case 'ceil':
        return [0, 1]
      default:
        return ratio <= 0.5 ? [1, 0] : [0, 1]
    }
  }
  if (mode === 'linear') {
    if (!antialias) return [1 - ratio, ratio]
    // The triangle kernel stretched by 1/scale, so each output averages its whole footprint.
    const start = Math.floor(-1 / scale) + 1
    const w = Array.from({ length: 2 - 2 * start }, (_, i) => Math.max(0, 1 - Math.abs((start + i - ratio) * scale)))
    const s = w.reduce((p, q) => p + q, 0)
    return w.map((x) => x / s)
  }
  if (mode === 'cubic') {
    const A = attrFloat(ctx, 'cubic_coeff_a', -0.75)
    if (!antialias) return [cubic(ratio + 1, A), cubic(ratio, A), cubic(1 - ratio, A), cubic(2 - ratio, A)]
    const start = Math.floor(-2 / scale) + 1
    const w = Array.from({ length: 2 - 2 * start + 1 }, (_, i) => cubic((start + i - ratio) * scale, A)).slice(
      0,
      2 - 2 * start,
    )
    const s = w.reduce((p, q) => p + q, 0)
    return w.map((x) => x / s)
  }
  throw new OnnxImportError(`Resize: unknown mode '${mode}'`)
}

/** For each output index: input indices and weights, or null for "extrapolation value". */
function table(ctx: NodeContext, a: Axis1D): ({ idx: number[]; w: number[] } | null)[] {
  const ctm = attrString(ctx, 'coordinate_transformation_mode', 'half_pixel')
  const exclude = attrInt(ctx, 'exclude_outside', 0) === 1
  return Array.from({ length: a.nOut }, (_, o) => {
    const x = sourceCoordinate(ctm, o, a)
    if (ctm === 'tf_crop_and_resize' && (x < 0 || x > a.nIn - 1)) return null
    let ratio = x - Math.floor(x)
    if (ratio === 0) ratio = 1
    const w = coefficients(ctx, ratio, a.scale)
    const n = w.length
    // The n integer positions nearest x (ties to the lower one), read with edge padding.
    const first = ratio === 1 ? Math.round(x) - Math.floor(n / 2) : Math.floor(x) - Math.ceil(n / 2) + 1
    const pos = Array.from({ length: n }, (_, i) => first + i)
    if (exclude) {
      pos.forEach((p, i) => {
        if (p < 0 || p >= a.nIn) w[i] = 0
      })
      const s = w.reduce((p, q) => p + q, 0)
      if (s !== 0)
        w.forEach((_, i) => {
          w[i]! /= s
        })
    }
    return { idx: pos.map((p) => Math.min(Math.max(p, 0), a.nIn - 1)), w }
  })
}

function resampleAxis(
  data: Float64Array,
  shape: number[],
  axis: number,
  tab: ReturnType<typeof table>,
  extrapolation: number,
): [Float64Array, number[]] {
  const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1)
  const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1)
  const nIn = shape[axis]!
  const nOut = tab.length
  const out = new Float64Array(outer * nOut * inner)
  for (let b = 0; b < outer; b++)
    for (let o = 0; o < nOut; o++) {
      const t = tab[o]!
      const dst = (b * nOut + o) * inner
      if (!t) {
        out.fill(extrapolation, dst, dst + inner)
        continue
      }
      for (let k = 0; k < t.idx.length; k++) {
        const w = t.w[k]!
        if (w === 0) continue
        const src = (b * nIn + t.idx[k]!) * inner
        for (let j = 0; j < inner; j++) out[dst + j]! += w * data[src + j]!
      }
    }
  const s = [...shape]
  s[axis] = nOut
  return [out, s]
}

function resize(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const roi = optional(ctx, 1)
  const scalesIn = optional(ctx, 2)
  const sizesIn = ints(optional(ctx, 3))
  const axes = (attrInts(ctx, 'axes') ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + x.rank : a))
  const roiVals = roi?.size ? Array.from(roi.data, Number) : undefined
  const scales = new Array<number>(x.rank).fill(1)
  const sizes = [...x.shape]
  if (scalesIn && scalesIn.size > 0) {
    const sc = Array.from(scalesIn.data, Number)
    axes.forEach((a, i) => {
      scales[a] = sc[i]!
      const span =
        roiVals && attrString(ctx, 'coordinate_transformation_mode', '') === 'tf_crop_and_resize'
          ? roiVals[i + axes.length]! - roiVals[i]!
          : 1
      sizes[a] = Math.floor(x.shape[a]! * span * sc[i]!)
    })
  } else if (sizesIn) {
    const policy = attrString(ctx, 'keep_aspect_ratio_policy', 'stretch')
    if (policy === 'stretch')
      axes.forEach((a, i) => {
        sizes[a] = sizesIn[i]!
        scales[a] = sizesIn[i]! / x.shape[a]!
      })
    else {
      const r = axes.map((a, i) => sizesIn[i]! / x.shape[a]!)
      const s = policy === 'not_larger' ? Math.min(...r) : Math.max(...r)
      // NOTE: the kept-ratio size rounds half up: floor(s * n + 0.5), as the ONNX reference.
      axes.forEach((a) => {
        scales[a] = s
        sizes[a] = Math.floor(s * x.shape[a]! + 0.5)
      })
    }
  } else throw new OnnxImportError('Resize: needs scales or sizes')
  let data: Float64Array = Float64Array.from(x.data, Number)
  let shape = [...x.shape]
  const extrapolation = attrFloat(ctx, 'extrapolation_value', 0)
  for (let a = x.rank - 1; a >= 0; a--) {
    if (sizes[a] === x.shape[a] && scales[a] === 1 && !roiVals) continue
    const i = axes.indexOf(a)
    const axis: Axis1D = {
      nIn: x.shape[a]!,
      nOut: sizes[a]!,
      scale: scales[a]!,
      roiStart: roiVals && i >= 0 ? roiVals[i]! : 0,
      roiEnd: roiVals && i >= 0 ? roiVals[i + axes.length]! : 1,
    }
    ;[data, shape] = resampleAxis(data, shape, a, table(ctx, axis), extrapolation)
  }
  return new Tensor(data, shape).to(x.dtype)
}

export const resizeOps: Record<string, OnnxOpImpl> = { Resize: resize }

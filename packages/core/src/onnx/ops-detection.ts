/**
 * ONNX detection operators for loadOnnx: NonMaxSuppression (opset 10/11) and RoiAlign (opset
 * 10/16), as the ONNX operator documents define them (https://onnx.ai/onnx/operators/). These are
 * the inference-time forms; @refnets/detection has the same computations with backward passes
 * (roiAlign) and more NMS variants, and exports to these operators.
 */
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrFloat, attrInt, attrString, input, ints, optional } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'

/** Corner box k of a flat (N * 4) array as [x1, y1, x2, y2], from [y1, x1, y2, x2] (any corner order) or [cx, cy, w, h]. */
function corners(b: ArrayLike<number>, k: number, centerPointBox: boolean): [number, number, number, number] {
  const [p, q, r, s] = [b[4 * k]!, b[4 * k + 1]!, b[4 * k + 2]!, b[4 * k + 3]!]
  if (centerPointBox) return [p - r / 2, q - s / 2, p + r / 2, q + s / 2]
  // NOTE: ONNX allows the two corners in either order ("any diagonal pair"), so take min / max.
  return [Math.min(q, s), Math.min(p, r), Math.max(q, s), Math.max(p, r)]
}

function iou(a: [number, number, number, number], b: [number, number, number, number]): number {
  const areaA = (a[2] - a[0]) * (a[3] - a[1])
  const areaB = (b[2] - b[0]) * (b[3] - b[1])
  if (areaA <= 0 || areaB <= 0) return 0
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0])
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1])
  if (w <= 0 || h <= 0) return 0
  return (w * h) / (areaA + areaB - w * h)
}

const scalarOf = (t: Tensor | undefined, def: number): number => (t && t.size > 0 ? Number(t.data[0]) : def)

/**
 * NonMaxSuppression: boxes (B, N, 4), scores (B, C, N) -> selected (K, 3) int64 rows
 * [batch, class, box], per batch and class in selection order. A box is dropped when its IoU with
 * a selected box is > iou_threshold, or when its score is not > score_threshold.
 */
function nonMaxSuppression(ctx: NodeContext): Tensor {
  const boxes = input(ctx, 0)
  const scores = input(ctx, 1)
  const maxOut = scalarOf(optional(ctx, 2), 0)
  const iouThr = scalarOf(optional(ctx, 3), 0)
  const scoreT = optional(ctx, 4)
  const centre = attrInt(ctx, 'center_point_box', 0) === 1
  if (
    boxes.rank !== 3 ||
    boxes.shape[2] !== 4 ||
    scores.rank !== 3 ||
    scores.shape[0] !== boxes.shape[0] ||
    scores.shape[2] !== boxes.shape[1]
  )
    throw new OnnxImportError(
      `NonMaxSuppression: expected boxes (B, N, 4) and scores (B, C, N), got [${boxes.shape}] and [${scores.shape}]`,
    )
  const [nb, n] = [boxes.shape[0]!, boxes.shape[1]!]
  const nc = scores.shape[1]!
  const b = boxes.data
  const s = scores.data
  const out: number[] = []
  for (let bi = 0; bi < nb; bi++) {
    const box = (k: number) => corners(b.subarray(bi * n * 4), k, centre)
    for (let c = 0; c < nc; c++) {
      const sc = (k: number) => s[(bi * nc + c) * n + k]!
      const cand = [...Array(n).keys()]
        .filter((k) => !scoreT || sc(k) > scalarOf(scoreT, 0))
        .sort((p, q) => sc(q) - sc(p) || p - q)
      const kept: number[] = []
      for (const k of cand) {
        if (kept.length >= maxOut) break
        if (kept.every((j) => iou(box(j), box(k)) <= iouThr)) kept.push(k)
      }
      for (const k of kept) out.push(bi, c, k)
    }
  }
  return new Tensor(Int32Array.from(out), [out.length / 3, 3])
}

/** Bilinear taps (offset, weight) of one sample of a (h, w) map; none when it lies outside. */
function taps(y: number, x: number, h: number, w: number): [number, number][] {
  if (y < -1 || y > h || x < -1 || x > w) return []
  y = Math.max(y, 0)
  x = Math.max(x, 0)
  let yl = Math.floor(y)
  let xl = Math.floor(x)
  let yh = yl + 1
  let xh = xl + 1
  if (yl >= h - 1) {
    yh = yl = h - 1
    y = yl
  }
  if (xl >= w - 1) {
    xh = xl = w - 1
    x = xl
  }
  const [ly, lx] = [y - yl, x - xl]
  return [
    [yl * w + xl, (1 - ly) * (1 - lx)],
    [yl * w + xh, (1 - ly) * lx],
    [yh * w + xl, ly * (1 - lx)],
    [yh * w + xh, ly * lx],
  ]
}

/** RoiAlign: X (N, C, H, W), rois (K, 4) [x1, y1, x2, y2], batch_indices (K) -> (K, C, oh, ow). */
function roiAlign(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const rois = input(ctx, 1)
  const batch = ints(input(ctx, 2))!
  const oh = attrInt(ctx, 'output_height', 1)
  const ow = attrInt(ctx, 'output_width', 1)
  const ratio = attrInt(ctx, 'sampling_ratio', 0)
  const scale = attrFloat(ctx, 'spatial_scale', 1)
  const mode = attrString(ctx, 'mode', 'avg')
  const ctm = attrString(ctx, 'coordinate_transformation_mode', ctx.opset >= 16 ? 'half_pixel' : 'output_half_pixel')
  if (mode !== 'avg' && mode !== 'max')
    throw new OnnxImportError(`RoiAlign: mode must be 'avg' or 'max', got '${mode}'`)
  if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel')
    throw new OnnxImportError(
      `RoiAlign: coordinate_transformation_mode must be half_pixel or output_half_pixel, got '${ctm}'`,
    )
  if (x.rank !== 4 || rois.rank !== 2 || rois.shape[1] !== 4 || batch.length !== rois.shape[0])
    throw new OnnxImportError(
      `RoiAlign: expected X (N, C, H, W), rois (K, 4), batch_indices (K); got [${x.shape}], [${rois.shape}], ${batch.length}`,
    )
  const [n, c, h, w] = x.shape as [number, number, number, number]
  const k = rois.shape[0]!
  const r = rois.data
  const X = x.data
  const y = new (x.dtype === 'float64' ? Float64Array : Float32Array)(k * c * oh * ow)
  const off = ctm === 'half_pixel' ? 0.5 : 0
  for (let i = 0; i < k; i++) {
    if (batch[i]! < 0 || batch[i]! >= n)
      throw new OnnxImportError(`RoiAlign: batch index ${batch[i]} of roi ${i} is outside [0, ${n})`)
    const x1 = r[4 * i]! * scale - off
    const y1 = r[4 * i + 1]! * scale - off
    let rw = r[4 * i + 2]! * scale - off - x1
    let rh = r[4 * i + 3]! * scale - off - y1
    if (ctm === 'output_half_pixel') {
      rw = Math.max(rw, 1)
      rh = Math.max(rh, 1)
    }
    const [bh, bw] = [rh / oh, rw / ow]
    const gh = ratio > 0 ? ratio : Math.ceil(rh / oh)
    const gw = ratio > 0 ? ratio : Math.ceil(rw / ow)
    const count = Math.max(gh * gw, 1)
    for (let ch = 0; ch < c; ch++) {
      const base = (batch[i]! * c + ch) * h * w
      for (let ph = 0; ph < oh; ph++)
        for (let pw = 0; pw < ow; pw++) {
          let acc = 0
          let first = true
          for (let iy = 0; iy < gh; iy++)
            for (let ix = 0; ix < gw; ix++) {
              const t = taps(y1 + ph * bh + ((iy + 0.5) * bh) / gh, x1 + pw * bw + ((ix + 0.5) * bw) / gw, h, w)
              if (mode === 'avg') for (const [o, wt] of t) acc += wt * X[base + o]!
              else {
                // NOTE: ONNX's max mode takes the max of the weighted taps (not of interpolated values).
                const v = t.length ? Math.max(...t.map(([o, wt]) => wt * X[base + o]!)) : 0
                acc = first ? v : Math.max(acc, v)
                first = false
              }
            }
          y[((i * c + ch) * oh + ph) * ow + pw] = mode === 'avg' ? acc / count : acc
        }
    }
  }
  return new Tensor(y, [k, c, oh, ow])
}

export const detectionOps: Record<string, OnnxOpImpl> = {
  NonMaxSuppression: nonMaxSuppression,
  RoiAlign: roiAlign,
}

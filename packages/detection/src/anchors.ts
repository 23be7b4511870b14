/**
 * Anchor boxes (d2l.ai, "Anchor Boxes", https://d2l.ai/chapter_computer-vision/anchor.html):
 * - `multiboxPrior`: d2l's anchors, n + m - 1 per pixel from sizes s_1..s_n and ratios r_1..r_m;
 * - `ssdDefaultBoxes`: SSD's default boxes (Liu et al. 2016, https://arxiv.org/abs/1512.02325) with
 *   torchvision's DefaultBoxGenerator semantics (scales, steps, clipping in (cx, cy, w, h));
 * - `yoloAnchors`: YOLO's per-level anchors in pixels (Redmon & Farhadi 2018, https://arxiv.org/abs/1804.02767);
 * - `assignAnchors`: each ground truth takes its best anchor, then every other anchor whose best IoU
 *   is >= a threshold takes that ground truth;
 * - `encodeBoxes` / `decodeBoxes`: offsets (dx, dy, dw, dh) = (wx (cx - cx_a) / w_a, ..., ww log(w / w_a), ...),
 *   the weights being 1 / variances ((10, 10, 5, 5) in d2l, SSD and Faster R-CNN);
 * - `kmeansAnchors`: YOLOv2's anchor sizes by k-means on (w, h) with distance 1 - IoU.
 * Box tensors are (A, 4) corner boxes unless said otherwise.
 */
import { ArgumentError, Generator, type Tensor, exp, log, tensor } from '@refnets/core'
import { boxConvert, checkBoxShape, stackBoxes, unbindBoxes } from './boxes.js'
import { boxIou } from './iou.js'

/**
 * d2l's multibox prior for an (h, w) feature map: (h * w * (n + m - 1), 4) corner boxes in [0, 1]
 * image coordinates, anchors of one pixel together. Widths are s √r · h / w so that the boxes are
 * square in pixels on a non-square image for r = 1.
 */
export function multiboxPrior(h: number, w: number, sizes: number[], ratios: number[]): Tensor {
  if (!sizes.length || !ratios.length)
    throw new ArgumentError('multiboxPrior: expected at least one size and one ratio')
  const ws = [
    ...sizes.map((s) => s * Math.sqrt(ratios[0]!)),
    ...ratios.slice(1).map((r) => sizes[0]! * Math.sqrt(r)),
  ].map((v) => (v * h) / w)
  const hs = [...sizes.map((s) => s / Math.sqrt(ratios[0]!)), ...ratios.slice(1).map((r) => sizes[0]! / Math.sqrt(r))]
  const out = new Float32Array(h * w * ws.length * 4)
  let o = 0
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const cy = (i + 0.5) / h
      const cx = (j + 0.5) / w
      for (let a = 0; a < ws.length; a++) {
        out[o++] = cx - ws[a]! / 2
        out[o++] = cy - hs[a]! / 2
        out[o++] = cx + ws[a]! / 2
        out[o++] = cy + hs[a]! / 2
      }
    }
  return tensor(out, { shape: [h * w * ws.length, 4] })
}

export interface SsdDefaultBoxOptions {
  /** Extra aspect ratios per level (each adds r and 1/r); SSD300: [[2], [2, 3], [2, 3], [2, 3], [2], [2]]. */
  aspectRatios: number[][]
  /** Scales per level plus one more (for the s'_k = sqrt(s_k s_{k+1}) box); default linear from minRatio to maxRatio. */
  scales?: number[]
  minRatio?: number
  maxRatio?: number
  /** Pixel stride per level (SSD300: [8, 16, 32, 64, 100, 300]); default the feature-map size. */
  steps?: number[]
  /** Clip the (w, h) of each default box to [0, 1] (default true). */
  clip?: boolean
}

/** The (w, h) pairs of each level, as torchvision's DefaultBoxGenerator._generate_wh_pairs (in float32). */
function ssdWhPairs(o: SsdDefaultBoxOptions): number[][][] {
  const { aspectRatios, minRatio = 0.15, maxRatio = 0.9, clip = true } = o
  const k = aspectRatios.length
  let scales = o.scales
  if (!scales) {
    scales =
      k > 1
        ? Array.from({ length: k }, (_, i) => minRatio + ((maxRatio - minRatio) * i) / (k - 1))
        : [minRatio, maxRatio]
    if (k > 1) scales.push(1)
  }
  if (scales.length < k + 1)
    throw new ArgumentError(`ssdDefaultBoxes: expected ${k + 1} scales for ${k} levels, got ${scales.length}`)
  const f = Math.fround
  return aspectRatios.map((ars, i) => {
    const s = scales![i]!
    const sp = Math.sqrt(s * scales![i + 1]!)
    const pairs = [
      [s, s],
      [sp, sp],
    ]
    for (const ar of ars) {
      const q = Math.sqrt(ar)
      pairs.push([s * q, s / q], [s / q, s * q])
    }
    return pairs.map((p) => p.map((v) => f(clip ? Math.min(Math.max(v, 0), 1) : v)))
  })
}

/** Default boxes per pixel of each level: 2 + 2 · (number of extra ratios). */
export const ssdBoxesPerLevel = (aspectRatios: number[][]): number[] => aspectRatios.map((r) => 2 + 2 * r.length)

/**
 * SSD default boxes for feature maps of the given (h, w) sizes on an image of (H, W) pixels:
 * (sum_k h_k w_k a_k, 4) corner boxes in pixels, level by level, pixel by pixel, as torchvision.
 */
export function ssdDefaultBoxes(
  gridSizes: [number, number][],
  imageSize: [number, number],
  o: SsdDefaultBoxOptions,
): Tensor {
  if (gridSizes.length !== o.aspectRatios.length)
    throw new ArgumentError(
      `ssdDefaultBoxes: ${gridSizes.length} feature maps but ${o.aspectRatios.length} levels of aspect ratios`,
    )
  const whs = ssdWhPairs(o)
  const f = Math.fround
  const rows: number[] = []
  gridSizes.forEach(([fh, fw], k) => {
    const xf = o.steps ? imageSize[1] / o.steps[k]! : fw
    const yf = o.steps ? imageSize[0] / o.steps[k]! : fh
    for (let i = 0; i < fh; i++)
      for (let j = 0; j < fw; j++)
        for (const [w, h] of whs[k]!) {
          // NOTE: float32 at each step, as torchvision computes the boxes in the model's dtype.
          const cx = f(f((j + 0.5) / xf) * imageSize[1])
          const cy = f(f((i + 0.5) / yf) * imageSize[0])
          const bw = f(w! * imageSize[1])
          const bh = f(h! * imageSize[0])
          rows.push(f(cx - f(0.5 * bw)), f(cy - f(0.5 * bh)), f(cx + f(0.5 * bw)), f(cy + f(0.5 * bh)))
        }
  })
  return tensor(Float32Array.from(rows), { shape: [rows.length / 4, 4] })
}

/** YOLOv3's anchors (w, h) in pixels at strides 8, 16 and 32 (COCO k-means). */
export const YOLOV3_ANCHORS: [number, number][][] = [
  [
    [10, 13],
    [16, 30],
    [33, 23],
  ],
  [
    [30, 61],
    [62, 45],
    [59, 119],
  ],
  [
    [116, 90],
    [156, 198],
    [373, 326],
  ],
]

/**
 * YOLO anchors of one level: for each cell (i, j) of an (h, w) grid with the given stride and each
 * (w, h) anchor, the corner box centred on the cell centre: (h * w * A, 4) in pixels.
 */
export function yoloAnchors(h: number, w: number, stride: number, anchors: [number, number][]): Tensor {
  const out = new Float32Array(h * w * anchors.length * 4)
  let o = 0
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (const [aw, ah] of anchors) {
        const cx = (j + 0.5) * stride
        const cy = (i + 0.5) * stride
        out.set([cx - aw / 2, cy - ah / 2, cx + aw / 2, cy + ah / 2], o)
        o += 4
      }
  return tensor(out, { shape: [h * w * anchors.length, 4] })
}

/**
 * Assign ground truth to anchors (d2l's assign_anchor_to_bbox): first every ground-truth box takes
 * the anchor with the largest IoU left (largest overall first); then each other anchor takes the
 * ground truth it overlaps most if that IoU is >= iouThreshold. Returns, per anchor, the index of
 * its ground-truth box or -1.
 */
export function assignAnchors(anchors: Tensor, groundTruth: Tensor, iouThreshold = 0.5): Int32Array {
  checkBoxShape(anchors, 'anchors')
  checkBoxShape(groundTruth, 'groundTruth')
  const na = anchors.shape[0]!
  const nb = groundTruth.shape[0]!
  const map = new Int32Array(na).fill(-1)
  if (nb === 0 || na === 0) return map
  const J = Float64Array.from(boxIou(anchors, groundTruth).data)
  for (let i = 0; i < na; i++) {
    let best = 0
    for (let j = 1; j < nb; j++) if (J[i * nb + j]! > J[i * nb + best]!) best = j
    if (J[i * nb + best]! >= iouThreshold) map[i] = best
  }
  for (let t = 0; t < Math.min(nb, na); t++) {
    let arg = 0
    for (let k = 1; k < J.length; k++) if (J[k]! > J[arg]!) arg = k
    const [ai, bj] = [Math.floor(arg / nb), arg % nb]
    map[ai] = bj
    for (let i = 0; i < na; i++) J[i * nb + bj] = -1
    for (let j = 0; j < nb; j++) J[ai * nb + j] = -1
  }
  return map
}

/** Offset weights (wx, wy, ww, wh) = 1 / variances; (10, 10, 5, 5) is variances (0.1, 0.1, 0.2, 0.2). */
export type BoxWeights = [number, number, number, number]

/**
 * Offsets of corner boxes relative to anchors (both (A, 4)): (A, 4). eps inside the log keeps an
 * empty box finite (d2l adds 1e-6).
 */
export function encodeBoxes(anchors: Tensor, boxes: Tensor, weights: BoxWeights = [10, 10, 5, 5], eps = 1e-6): Tensor {
  const [ax, ay, aw, ah] = unbindBoxes(boxConvert(anchors, 'xyxy', 'cxcywh'))
  const [bx, by, bw, bh] = unbindBoxes(boxConvert(boxes, 'xyxy', 'cxcywh'))
  return stackBoxes(
    bx.sub(ax).div(aw).mul(weights[0]),
    by.sub(ay).div(ah).mul(weights[1]),
    log(bw.div(aw).add(eps)).mul(weights[2]),
    log(bh.div(ah).add(eps)).mul(weights[3]),
  )
}

/**
 * Corner boxes from offsets relative to anchors: the inverse of `encodeBoxes`. NOTE: dw and dh are
 * clamped to log(1000 / 16) before exp, as torchvision's BoxCoder, so a wild prediction cannot overflow.
 */
export function decodeBoxes(anchors: Tensor, offsets: Tensor, weights: BoxWeights = [10, 10, 5, 5]): Tensor {
  checkBoxShape(offsets, 'offsets')
  const clip = Math.log(1000 / 16)
  const [ax, ay, aw, ah] = unbindBoxes(boxConvert(anchors, 'xyxy', 'cxcywh'))
  const [dx, dy, dw, dh] = unbindBoxes(offsets)
  const cx = dx.div(weights[0]).mul(aw).add(ax)
  const cy = dy.div(weights[1]).mul(ah).add(ay)
  const w = exp(dw.div(weights[2]).clamp(undefined, clip)).mul(aw)
  const h = exp(dh.div(weights[3]).clamp(undefined, clip)).mul(ah)
  return boxConvert(stackBoxes(cx, cy, w, h), 'cxcywh', 'xyxy')
}

export interface MultiboxTargets {
  /** (A, 4) offsets of the assigned ground truth (0 for background anchors). */
  offsets: Tensor
  /** (A, 4) 1 for anchors with an object, 0 for background. */
  mask: Tensor
  /** (A) class + 1 for object anchors, 0 for background. */
  labels: Int32Array
}

/**
 * d2l's multibox_target for one image: labels (K, 5) rows [class, x1, y1, x2, y2] -> the offset,
 * mask and class targets of every anchor. Classes must be integers >= 0.
 */
export function multiboxTarget(
  anchors: Tensor,
  labels: Tensor,
  iouThreshold = 0.5,
  weights: BoxWeights = [10, 10, 5, 5],
): MultiboxTargets {
  if (labels.rank !== 2 || labels.shape[1] !== 5)
    throw new ArgumentError(
      `multiboxTarget: labels must be (K, 5) rows [class, x1, y1, x2, y2], got shape [${labels.shape.join(', ')}]`,
    )
  const na = anchors.shape[0]!
  const L = labels.data
  for (let k = 0; k < labels.shape[0]!; k++)
    if (!Number.isInteger(L[5 * k]!) || L[5 * k]! < 0)
      throw new ArgumentError(`multiboxTarget: class of box ${k} is ${L[5 * k]}; expected an integer >= 0`)
  const gt = labels.slice(1, 1, 5)
  const map = assignAnchors(anchors, gt, iouThreshold)
  const cls = new Int32Array(na)
  const assigned = new Float64Array(na * 4)
  const mask = new Float64Array(na * 4)
  const A = anchors.data
  for (let i = 0; i < na; i++) {
    const j = map[i]!
    if (j < 0) {
      // Background: a copy of the anchor itself, so its offsets are exactly 0 before masking.
      for (let c = 0; c < 4; c++) assigned[4 * i + c] = A[4 * i + c]!
      continue
    }
    cls[i] = L[5 * j]! + 1
    for (let c = 0; c < 4; c++) {
      assigned[4 * i + c] = L[5 * j + 1 + c]!
      mask[4 * i + c] = 1
    }
  }
  const anc = anchors.to('float64')
  const m = tensor(mask, { shape: [na, 4] })
  const offsets = encodeBoxes(anc, tensor(assigned, { shape: [na, 4] }), weights).mul(m)
  return { offsets: offsets.to(anchors.dtype), mask: m.to(anchors.dtype), labels: cls }
}

/** IoU of two (w, h) sizes placed at the same corner. */
const whIou = (a: [number, number], b: [number, number]): number => {
  const inter = Math.min(a[0], b[0]) * Math.min(a[1], b[1])
  return inter / (a[0] * a[1] + b[0] * b[1] - inter)
}

export interface KmeansAnchors {
  /** k (w, h) anchors sorted by area. */
  anchors: [number, number][]
  /** Mean over boxes of the IoU with the nearest anchor. */
  meanIou: number
  /** Cluster of each box. */
  assignment: number[]
}

/**
 * YOLOv2's k-means anchors (Redmon & Farhadi 2017, https://arxiv.org/abs/1612.08242): cluster the
 * (w, h) of the training boxes with d(box, centroid) = 1 - IoU, centroids the mean (w, h) of their
 * cluster, seeded with k distinct random boxes; stops when no assignment changes.
 */
export function kmeansAnchors(sizes: [number, number][], k: number, { seed = 0, maxIter = 300 } = {}): KmeansAnchors {
  if (!Number.isInteger(k) || k < 1) throw new ArgumentError(`kmeansAnchors: k must be an integer >= 1, got ${k}`)
  if (sizes.length < k) throw new ArgumentError(`kmeansAnchors: need at least k = ${k} boxes, got ${sizes.length}`)
  for (const [w, h] of sizes)
    if (!(w > 0 && h > 0)) throw new ArgumentError(`kmeansAnchors: box sizes must be > 0, got (${w}, ${h})`)
  const gen = new Generator(seed)
  const order = [...sizes.keys()]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(gen.random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  let cents = order.slice(0, k).map((i) => [...sizes[i]!] as [number, number])
  let assignment = new Array<number>(sizes.length).fill(-1)
  for (let it = 0; it < maxIter; it++) {
    const next = sizes.map((s) => {
      let best = 0
      for (let c = 1; c < k; c++) if (whIou(s, cents[c]!) > whIou(s, cents[best]!)) best = c
      return best
    })
    const changed = next.some((c, i) => c !== assignment[i])
    assignment = next
    cents = cents.map((old, c) => {
      const members = sizes.filter((_, i) => assignment[i] === c)
      if (!members.length) return old
      return [
        members.reduce((a, m) => a + m[0], 0) / members.length,
        members.reduce((a, m) => a + m[1], 0) / members.length,
      ]
    })
    if (!changed) break
  }
  const meanIou = sizes.reduce((a, s, i) => a + whIou(s, cents[assignment[i]!]!), 0) / sizes.length
  const rank = [...cents.keys()].sort((p, q) => cents[p]![0] * cents[p]![1] - cents[q]![0] * cents[q]![1])
  const newIndex = new Array<number>(k)
  rank.forEach((c, i) => {
    newIndex[c] = i
  })
  return { anchors: rank.map((c) => cents[c]!), meanIou, assignment: assignment.map((c) => newIndex[c]!) }
}

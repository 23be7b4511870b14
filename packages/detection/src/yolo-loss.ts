/**
 * Decoding and training YOLO heads (YOLOv3, Redmon & Farhadi 2018, https://arxiv.org/abs/1804.02767;
 * YOLOv4's "bag of freebies", Bochkovskiy et al. 2020, https://arxiv.org/abs/2004.10934).
 *
 * A head map (N, A (5 + C), H, W) holds, per cell and anchor, (tx, ty, tw, th, objectness, classes).
 * - Decoding: centre = (s sigmoid(t_xy) - (s - 1)/2 + cell) * stride, size = anchor * exp(t_wh).
 *   s > 1 is YOLOv4's grid sensitivity: the sigmoid can then reach a cell's border, so an object
 *   centred on a border needs no infinite logit.
 * - Targets: each ground truth goes to the cell containing its centre, with the anchor (over all
 *   levels) whose shape fits it best by IoU of (w, h) at a common corner; with YOLOv4's multi-anchor
 *   assignment also every other anchor whose IoU is above `iouThreshold`.
 * - Loss: 1 - CIoU (or GIoU, DIoU, or MSE on t) for the box of each positive; BCE for objectness
 *   on every cell, where negatives whose predicted box overlaps a ground truth by more than
 *   `ignoreThreshold` are left out; BCE for classes with label smoothing (targets 1 - ε/2 and ε/2).
 */
import {
  ArgumentError,
  type Tensor,
  binaryCrossEntropyWithLogits,
  concat,
  exp,
  gather,
  noGrad,
  sigmoid,
  tensor,
} from '@refnets/core'
import { stackBoxes } from './boxes.js'
import { type Reduction, completeBoxIouLoss, distanceBoxIouLoss, generalizedBoxIouLoss } from './losses.js'
import { detect } from './nms.js'

export interface YoloLevel {
  /** Pixels per cell. */
  stride: number
  /** (w, h) of this level's anchors in pixels. */
  anchors: [number, number][]
}

export interface YoloTarget {
  /** (K, 4) corner boxes in pixels. */
  boxes: number[][]
  /** K class ids in [0, numClasses). */
  labels: number[]
}

export type YoloBoxLoss = 'ciou' | 'diou' | 'giou' | 'mse'

export interface YoloLossOptions {
  numClasses: number
  levels: YoloLevel[]
  /** Grid sensitivity s (1: YOLOv3; YOLOv4 uses 1.05 to 1.2). */
  gridScale?: number
  /** Extra anchors with shape IoU above this are positives too (YOLOv4: 0.213); >= 1 turns it off. */
  iouThreshold?: number
  /** Negatives whose prediction overlaps a ground truth above this are not penalised (YOLOv3: 0.7). */
  ignoreThreshold?: number
  /** Label smoothing ε for the class targets (0: off). */
  labelSmoothing?: number
  boxLoss?: YoloBoxLoss
  /** Weights of the box, objectness and class terms. */
  weights?: [number, number, number]
}

/** (N, A (5 + C), H, W) -> (N, A, H, W, 5 + C). */
export function splitHeadMap(map: Tensor, anchorsPerLevel: number, numClasses: number): Tensor {
  const [n, c, h, w] = map.shape as [number, number, number, number]
  if (c !== anchorsPerLevel * (5 + numClasses))
    throw new ArgumentError(
      `YOLO head map has ${c} channels; expected ${anchorsPerLevel} anchors x (5 + ${numClasses} classes) = ${anchorsPerLevel * (5 + numClasses)}`,
    )
  return map.reshape(n, anchorsPerLevel, 5 + numClasses, h, w).permute(0, 1, 3, 4, 2)
}

/** Box centres and sizes from raw t-values (any shape (...)) given cell indices and anchors of the same shape. */
function decodeT(
  tx: Tensor,
  ty: Tensor,
  tw: Tensor,
  th: Tensor,
  gx: Tensor,
  gy: Tensor,
  aw: Tensor,
  ah: Tensor,
  stride: number,
  s: number,
): Tensor {
  const off = (s - 1) / 2
  const cx = sigmoid(tx).mul(s).sub(off).add(gx).mul(stride)
  const cy = sigmoid(ty).mul(s).sub(off).add(gy).mul(stride)
  // NOTE: exp of a clamped logit (<= log(1000 / 16), as torchvision's BoxCoder), so a wild prediction stays finite.
  const clip = Math.log(1000 / 16)
  const w = exp(tw.clamp(undefined, clip)).mul(aw)
  const h = exp(th.clamp(undefined, clip)).mul(ah)
  return stackBoxes(cx.sub(w.div(2)), cy.sub(h.div(2)), cx.add(w.div(2)), cy.add(h.div(2)))
}

const whIou = (a: [number, number], b: [number, number]) => {
  const i = Math.min(a[0], b[0]) * Math.min(a[1], b[1])
  return i / (a[0] * a[1] + b[0] * b[1] - i)
}

interface Positive {
  level: number
  flat: number
  box: number[]
  label: number
  a: number
  gx: number
  gy: number
}

/** The positives of a batch: one entry per (level, image, anchor, cell) that has a target. */
export function assignYoloTargets(shapes: [number, number][], targets: YoloTarget[], o: YoloLossOptions): Positive[] {
  const all = o.levels.flatMap((l, li) => l.anchors.map((a, ai) => ({ li, ai, a })))
  const thr = o.iouThreshold ?? 1
  const byKey = new Map<string, Positive>()
  targets.forEach((t, b) => {
    if (t.boxes.length !== t.labels.length)
      throw new ArgumentError(`YOLO targets of image ${b}: ${t.boxes.length} boxes but ${t.labels.length} labels`)
    t.boxes.forEach((box, k) => {
      const label = t.labels[k]!
      if (!Number.isInteger(label) || label < 0 || label >= o.numClasses)
        throw new ArgumentError(
          `YOLO targets of image ${b}: label ${label} of box ${k} is not a class id in [0, ${o.numClasses})`,
        )
      const [x1, y1, x2, y2] = box as [number, number, number, number]
      if (![x1, y1, x2, y2].every(Number.isFinite) || x2 <= x1 || y2 <= y1)
        throw new ArgumentError(
          `YOLO targets of image ${b}: box ${k} = [${box}] must be finite with x2 > x1 and y2 > y1`,
        )
      const wh: [number, number] = [x2 - x1, y2 - y1]
      const ious = all.map((c) => whIou(wh, c.a))
      const best = ious.indexOf(Math.max(...ious))
      all.forEach((c, j) => {
        if (j !== best && !(ious[j]! > thr)) return
        const [h, w] = shapes[c.li]!
        const stride = o.levels[c.li]!.stride
        const gx = Math.min(Math.max(Math.floor((x1 + x2) / 2 / stride), 0), w - 1)
        const gy = Math.min(Math.max(Math.floor((y1 + y2) / 2 / stride), 0), h - 1)
        const A = o.levels[c.li]!.anchors.length
        const flat = ((b * A + c.ai) * h + gy) * w + gx
        byKey.set(`${c.li}:${flat}`, { level: c.li, flat, box, label, a: c.ai, gx, gy })
      })
    })
  })
  return [...byKey.values()]
}

export interface YoloLoss {
  box: Tensor
  objectness: Tensor
  classification: Tensor
  total: Tensor
  numPositives: number
}

/** The YOLO loss of the head maps (finest first) for one batch of targets (one per image). */
export function yoloLoss(maps: Tensor[], targets: YoloTarget[], o: YoloLossOptions): YoloLoss {
  const {
    numClasses: C,
    levels,
    gridScale = 1,
    ignoreThreshold = 0.7,
    labelSmoothing = 0,
    boxLoss = 'ciou',
    weights = [1, 1, 1],
  } = o
  if (maps.length !== levels.length)
    throw new ArgumentError(`yoloLoss: ${maps.length} head maps but ${levels.length} levels`)
  const n = maps[0]!.shape[0]!
  if (targets.length !== n) throw new ArgumentError(`yoloLoss: ${n} images but ${targets.length} targets`)
  if (!(labelSmoothing >= 0 && labelSmoothing < 1))
    throw new ArgumentError(`yoloLoss: labelSmoothing must be in [0, 1), got ${labelSmoothing}`)
  const dt = maps[0]!.dtype
  const preds = maps.map((m, l) => splitHeadMap(m, levels[l]!.anchors.length, C)) // (N, A, H, W, 5 + C)
  const shapes = preds.map((p) => [p.shape[2]!, p.shape[3]!] as [number, number])
  const pos = assignYoloTargets(shapes, targets, o)
  const objTerms: Tensor[] = []
  const posRows: Tensor[] = []
  const posMeta: Positive[] = []
  preds.forEach((p, l) => {
    const [, A, H, W] = p.shape as [number, number, number, number]
    const rows = p.reshape(-1, 5 + C) // (N A H W, 5 + C)
    const mine = pos.filter((q) => q.level === l)
    // objectness targets and the ignore mask (from the current predictions, no gradient)
    const target = new Float64Array(n * A * H * W)
    const weight = new Float64Array(n * A * H * W).fill(1)
    for (const q of mine) target[q.flat] = 1
    noGrad(() => {
      const gx = tensor(
        Array.from({ length: n * A * H * W }, (_, i) => i % W),
        { dtype: dt },
      )
      const gy = tensor(
        Array.from({ length: n * A * H * W }, (_, i) => Math.floor(i / W) % H),
        { dtype: dt },
      )
      const anc = (k: 0 | 1) =>
        tensor(
          Array.from({ length: n * A * H * W }, (_, i) => levels[l]!.anchors[Math.floor(i / (H * W)) % A]![k]),
          { dtype: dt },
        )
      const col = (k: number) => rows.slice(1, k, k + 1).reshape(-1)
      const boxes = decodeT(col(0), col(1), col(2), col(3), gx, gy, anc(0), anc(1), levels[l]!.stride, gridScale).data
      for (let i = 0; i < n * A * H * W; i++) {
        if (target[i]) continue
        const b = Math.floor(i / (A * H * W))
        for (const g of targets[b]!.boxes) {
          const iw = Math.min(boxes[4 * i + 2]!, g[2]!) - Math.max(boxes[4 * i]!, g[0]!)
          const ih = Math.min(boxes[4 * i + 3]!, g[3]!) - Math.max(boxes[4 * i + 1]!, g[1]!)
          if (iw <= 0 || ih <= 0) continue
          const inter = iw * ih
          const u =
            (boxes[4 * i + 2]! - boxes[4 * i]!) * (boxes[4 * i + 3]! - boxes[4 * i + 1]!) +
            (g[2]! - g[0]!) * (g[3]! - g[1]!) -
            inter
          if (inter / u > ignoreThreshold) {
            weight[i] = 0
            break
          }
        }
      }
    })
    const objLogits = rows.slice(1, 4, 5).reshape(-1)
    objTerms.push(
      binaryCrossEntropyWithLogits(objLogits, tensor(target, { dtype: dt }), {
        weight: tensor(weight, { dtype: dt }),
        reduction: 'sum',
      }),
    )
    if (mine.length) {
      posRows.push(
        gather(
          rows,
          0,
          tensor(
            mine.map((q) => q.flat),
            { dtype: 'int32' },
          ),
        ),
      )
      posMeta.push(...mine)
    }
  })
  const numCells = maps.reduce((s, m) => s + m.size / (5 + C), 0)
  const objectness = objTerms.reduce((a, b) => a.add(b)).div(numCells)
  let box = tensor([0], { dtype: dt }).sum()
  let classification = box
  if (posMeta.length) {
    const P = concat(posRows, 0) // (P, 5 + C)
    const col = (k: number) => P.slice(1, k, k + 1).reshape(-1)
    const v = (f: (q: Positive) => number) => tensor(posMeta.map(f), { dtype: dt })
    const stride = v((q) => levels[q.level]!.stride)
    const aw = v((q) => levels[q.level]!.anchors[q.a]![0])
    const ah = v((q) => levels[q.level]!.anchors[q.a]![1])
    const gtBoxes = tensor(
      posMeta.map((q) => q.box),
      { dtype: dt },
    )
    const red: Reduction = 'mean'
    if (boxLoss === 'mse') {
      // YOLOv3's original box loss: squared error of the raw (sigmoid(tx), sigmoid(ty), tw, th).
      const s = gridScale
      const cx = v((q) => (q.box[0]! + q.box[2]!) / 2 / levels[q.level]!.stride - q.gx)
      const cy = v((q) => (q.box[1]! + q.box[3]!) / 2 / levels[q.level]!.stride - q.gy)
      const tw = v((q) => Math.log((q.box[2]! - q.box[0]!) / levels[q.level]!.anchors[q.a]![0]))
      const th = v((q) => Math.log((q.box[3]! - q.box[1]!) / levels[q.level]!.anchors[q.a]![1]))
      const dx = sigmoid(col(0))
        .mul(s)
        .sub((s - 1) / 2)
        .sub(cx)
      const dy = sigmoid(col(1))
        .mul(s)
        .sub((s - 1) / 2)
        .sub(cy)
      box = dx.square().add(dy.square()).add(col(2).sub(tw).square()).add(col(3).sub(th).square()).mean()
    } else {
      // stride-scaled decode with per-positive strides: decodeT multiplies by one stride, so pass 1 and scale here.
      const gx = v((q) => q.gx)
      const gy = v((q) => q.gy)
      const unit = decodeT(col(0), col(1), col(2), col(3), gx, gy, aw.div(stride), ah.div(stride), 1, gridScale)
      const pred = unit.mul(stride.reshape(-1, 1))
      const f =
        boxLoss === 'ciou' ? completeBoxIouLoss : boxLoss === 'diou' ? distanceBoxIouLoss : generalizedBoxIouLoss
      box = f(pred, gtBoxes, red)
    }
    const onehot = new Float64Array(posMeta.length * C).fill(labelSmoothing / 2)
    posMeta.forEach((q, i) => {
      onehot[i * C + q.label] = 1 - labelSmoothing / 2
    })
    classification = binaryCrossEntropyWithLogits(
      P.slice(1, 5, 5 + C),
      tensor(onehot, { dtype: dt, shape: [posMeta.length, C] }),
      { reduction: 'mean' },
    )
  }
  const total = box.mul(weights[0]).add(objectness.mul(weights[1])).add(classification.mul(weights[2]))
  return { box, objectness, classification, total, numPositives: posMeta.length }
}

export interface YoloDetectOptions {
  numClasses: number
  levels: YoloLevel[]
  gridScale?: number
  scoreThreshold?: number
  iouThreshold?: number
  maxDetections?: number
}

/** Detections of every image from the head maps: score = sigmoid(objectness) sigmoid(class), NMS per class. */
export function yoloDetect(
  maps: Tensor[],
  o: YoloDetectOptions,
): { boxes: number[][]; scores: number[]; labels: number[] }[] {
  const { numClasses: C, levels, gridScale = 1, scoreThreshold = 0.25, iouThreshold = 0.45, maxDetections = 100 } = o
  return noGrad(() => {
    const n = maps[0]!.shape[0]!
    const out = Array.from({ length: n }, () => ({
      boxes: [] as number[],
      scores: [] as number[],
      labels: [] as number[],
    }))
    maps.forEach((m, l) => {
      const p = splitHeadMap(m, levels[l]!.anchors.length, C)
      const [, A, H, W] = p.shape as [number, number, number, number]
      const rows = p.reshape(-1, 5 + C)
      const total = n * A * H * W
      const dt = m.dtype
      const gx = tensor(
        Array.from({ length: total }, (_, i) => i % W),
        { dtype: dt },
      )
      const gy = tensor(
        Array.from({ length: total }, (_, i) => Math.floor(i / W) % H),
        { dtype: dt },
      )
      const anc = (k: 0 | 1) =>
        tensor(
          Array.from({ length: total }, (_, i) => levels[l]!.anchors[Math.floor(i / (H * W)) % A]![k]),
          { dtype: dt },
        )
      const col = (k: number) => rows.slice(1, k, k + 1).reshape(-1)
      const boxes = decodeT(col(0), col(1), col(2), col(3), gx, gy, anc(0), anc(1), levels[l]!.stride, gridScale).data
      const prob = sigmoid(rows.slice(1, 4, 5 + C)).data
      for (let i = 0; i < total; i++) {
        const b = Math.floor(i / (A * H * W))
        for (let k = 0; k < C; k++) {
          const s = prob[i * (C + 1)]! * prob[i * (C + 1) + 1 + k]!
          if (s > scoreThreshold) {
            out[b]!.boxes.push(boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!)
            out[b]!.scores.push(s)
            out[b]!.labels.push(k)
          }
        }
      }
    })
    return out.map((r) => {
      const k = r.scores.length
      const d = detect(tensor(Float64Array.from(r.boxes), { shape: [k, 4] }), tensor(Float64Array.from(r.scores)), {
        iouThreshold,
        maxDetections,
        classes: r.labels,
      })
      return {
        boxes: d.indices.map((i) => r.boxes.slice(4 * i, 4 * i + 4)),
        scores: d.scores,
        labels: d.indices.map((i) => r.labels[i]!),
      }
    })
  })
}

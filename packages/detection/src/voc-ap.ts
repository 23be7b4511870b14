/**
 * Precision/recall curves and PASCAL VOC average precision (Everingham et al. 2010,
 * https://doi.org/10.1007/s11263-009-0275-4; d2l.ai, "Object Detection and Bounding Boxes"):
 * - detections of one class, sorted by confidence, are matched greedily to ground truth of the same
 *   image: each takes the ground truth it overlaps most; it is a true positive if that IoU is >= the
 *   threshold and the ground truth is still free, otherwise a false positive (no fallback to the
 *   second-best ground truth);
 * - 11-point AP (VOC 2007): the mean over recall levels 0, 0.1, ..., 1 of the best precision at
 *   recall >= the level; all-point AP (VOC 2010+): the area under the precision envelope.
 * The optional "+1 pixel" rule of the original VOC devkit (inclusive integer pixel boxes) is
 * available as `plusOne`.
 */
import { ArgumentError } from '@refnets/core'

/** A box as [x1, y1, x2, y2]. */
export type Box = [number, number, number, number]

export interface GroundTruthBox {
  image: string | number
  cls: string | number
  box: Box
  difficult?: boolean
}
export interface DetectionBox extends GroundTruthBox {
  score: number
}

export interface PrCurve {
  /** Precision and recall after each detection, in confidence order. */
  precision: number[]
  recall: number[]
  /** Confidence of each detection (the threshold at which that point is reached). */
  scores: number[]
  tp: number
  fp: number
  numGroundTruth: number
}

/** IoU of two corner boxes; with plusOne, pixels are inclusive (w = x2 - x1 + 1) and disjoint boxes give 0. */
export function iouOf(a: Box, b: Box, plusOne = false): number {
  const e = plusOne ? 1 : 0
  if (plusOne && (a[0] > b[2] || b[0] > a[2] || a[3] < b[1] || a[1] > b[3])) return 0
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + e
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + e
  if (iw <= 0 || ih <= 0) return 0
  const inter = iw * ih
  const area = (x: Box) => (x[2] - x[0] + e) * (x[3] - x[1] + e)
  return inter / (area(a) + area(b) - inter)
}

/** Validate boxes and scores of an evaluation input. */
function check(what: string, items: GroundTruthBox[]): void {
  items.forEach((d, i) => {
    const [x1, y1, x2, y2] = d.box
    if (![x1, y1, x2, y2].every(Number.isFinite) || x2 < x1 || y2 < y1)
      throw new ArgumentError(`${what} ${i}: box [${d.box}] must be finite (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1`)
    if ('score' in d && !Number.isFinite((d as DetectionBox).score))
      throw new ArgumentError(`${what} ${i}: score must be a finite number, got ${(d as DetectionBox).score}`)
  })
}

/**
 * The precision/recall curve of one class at one IoU threshold. Ties in confidence keep input order
 * (a stable sort). Ground truth marked `difficult` is neither counted nor penalised: a detection
 * matched to it is ignored (VOC's rule).
 */
export function prCurve(
  groundTruth: GroundTruthBox[],
  detections: DetectionBox[],
  iouThreshold: number,
  { plusOne = false } = {},
): PrCurve {
  check('ground truth', groundTruth)
  check('detection', detections)
  const byImage = new Map<string | number, { g: GroundTruthBox; used: boolean }[]>()
  for (const g of groundTruth) byImage.set(g.image, [...(byImage.get(g.image) ?? []), { g, used: false }])
  const order = detections.map((d, i) => [d, i] as const).sort((p, q) => q[0].score - p[0].score || p[1] - q[1])
  const precision: number[] = []
  const recall: number[] = []
  const scores: number[] = []
  const numGroundTruth = groundTruth.filter((g) => !g.difficult).length
  let tp = 0
  let fp = 0
  for (const [d] of order) {
    let best = -1
    let bestIou = -Infinity
    const gts = byImage.get(d.image) ?? []
    gts.forEach((x, j) => {
      const v = iouOf(d.box, x.g.box, plusOne)
      if (v > bestIou) {
        bestIou = v
        best = j
      }
    })
    if (best >= 0 && bestIou >= iouThreshold && gts[best]!.g.difficult) continue
    if (best >= 0 && bestIou >= iouThreshold && !gts[best]!.used) {
      gts[best]!.used = true
      tp++
    } else fp++
    precision.push(tp / (tp + fp))
    recall.push(numGroundTruth ? tp / numGroundTruth : 0)
    scores.push(d.score)
  }
  return { precision, recall, scores, tp, fp, numGroundTruth }
}

/**
 * 11-point interpolated AP. NOTE: the levels are numpy.linspace(0, 1, 11) = k * 0.1, so the 7th is
 * 0.6000000000000001, not 0.6, as in the reference implementations.
 */
export function ap11(c: Pick<PrCurve, 'precision' | 'recall'>): number {
  let s = 0
  for (let k = 0; k <= 10; k++) {
    const r = k === 10 ? 1 : k * 0.1
    let p = 0
    c.recall.forEach((rc, i) => {
      if (rc >= r) p = Math.max(p, c.precision[i]!)
    })
    s += p
  }
  return s / 11
}

/** All-point AP: recall padded with 0 and 1, precision with 0 and 0, envelope from the right, area under it. */
export function apAllPoint(c: Pick<PrCurve, 'precision' | 'recall'>): number {
  const mrec = [0, ...c.recall, 1]
  const mpre = [0, ...c.precision, 0]
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i]!, mpre[i + 1]!)
  let ap = 0
  for (let i = 1; i < mrec.length; i++) if (mrec[i] !== mrec[i - 1]) ap += (mrec[i]! - mrec[i - 1]!) * mpre[i]!
  return ap
}

export interface VocResult {
  ap: number
  curve: PrCurve
}

/**
 * VOC AP per class at one IoU threshold (mAP is the mean of `ap` over classes with ground truth).
 * A class with no ground truth gets AP 0 (and is left out of `mAP`).
 */
export function vocEvaluate(
  groundTruth: GroundTruthBox[],
  detections: DetectionBox[],
  {
    iouThreshold = 0.5,
    method = 'all-point',
    plusOne = false,
  }: { iouThreshold?: number; method?: '11-point' | 'all-point'; plusOne?: boolean } = {},
): { perClass: Map<string | number, VocResult>; mAP: number } {
  if (!(iouThreshold >= 0 && iouThreshold <= 1))
    throw new ArgumentError(`vocEvaluate: iouThreshold must be in [0, 1], got ${iouThreshold}`)
  const classes = [...new Set([...groundTruth.map((g) => g.cls), ...detections.map((d) => d.cls)])]
  const perClass = new Map<string | number, VocResult>()
  for (const c of classes) {
    const curve = prCurve(
      groundTruth.filter((g) => g.cls === c),
      detections.filter((d) => d.cls === c),
      iouThreshold,
      { plusOne },
    )
    perClass.set(c, { ap: curve.numGroundTruth ? (method === '11-point' ? ap11(curve) : apAllPoint(curve)) : 0, curve })
  }
  const withGt = [...perClass.values()].filter((r) => r.curve.numGroundTruth > 0)
  return { perClass, mAP: withGt.length ? withGt.reduce((a, r) => a + r.ap, 0) / withGt.length : 0 }
}

/**
 * COCO-style evaluation of boxes (Lin et al. 2014, https://arxiv.org/abs/1405.0312; the rules of
 * the reference evaluator, pycocotools' COCOeval, https://cocodataset.org/#detection-eval):
 * - per image and category, detections sorted by score (stable) are matched greedily at each IoU
 *   threshold 0.50:0.05:0.95 to the best still-free ground truth, preferring non-ignored ground truth;
 *   crowd regions (iscrowd) can absorb any number of detections, with IoU = intersection / detection
 *   area, and such matches are ignored rather than counted;
 * - ground truth outside an area range (small < 32², medium < 96², large) is ignored, and so are
 *   unmatched detections outside it; at most maxDets (1, 10, 100) detections per image count;
 * - precision is interpolated (envelope) and read at 101 recall points; a category without
 *   ground truth is left out; results are averaged over categories.
 * `stats` are the 12 standard numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl).
 */
import { ArgumentError } from '@refnets/core'

/** COCO annotation (ground truth): bbox is [x, y, width, height]; area is the object's (segment) area. */
export interface CocoAnnotation {
  id: number
  image_id: number
  category_id: number
  bbox: number[]
  area?: number
  iscrowd?: number
}
/** COCO result (detection). */
export interface CocoResult {
  image_id: number
  category_id: number
  bbox: number[]
  score: number
}
export interface CocoImage {
  id: number
  width?: number
  height?: number
  file_name?: string
}
export interface CocoCategory {
  id: number
  name: string
  supercategory?: string
}
export interface CocoDataset {
  images: CocoImage[]
  annotations: CocoAnnotation[]
  categories: CocoCategory[]
}

export interface CocoEvalParams {
  iouThresholds: number[]
  recallThresholds: number[]
  maxDets: number[]
  areaRanges: [number, number][]
  areaLabels: string[]
}

/** numpy.linspace(start, stop, num): k * step + start, the last set to stop exactly. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1)
  return Array.from({ length: num }, (_, k) => (k === num - 1 ? stop : k * step + start))
}

export const defaultCocoParams = (): CocoEvalParams => ({
  iouThresholds: linspace(0.5, 0.95, 10),
  recallThresholds: linspace(0, 1, 101),
  maxDets: [1, 10, 100],
  areaRanges: [
    [0, 1e10],
    [0, 32 ** 2],
    [32 ** 2, 96 ** 2],
    [96 ** 2, 1e10],
  ],
  areaLabels: ['all', 'small', 'medium', 'large'],
})

interface Dt {
  id: number
  score: number
  bbox: number[]
  area: number
}
interface Gt {
  id: number
  bbox: number[]
  area: number
  crowd: boolean
  ignore: boolean
}

/** IoU of xywh boxes; for a crowd ground truth, intersection over the detection's area. */
function iouXywh(d: number[], g: number[], crowd: boolean): number {
  const iw = Math.min(d[0]! + d[2]!, g[0]! + g[2]!) - Math.max(d[0]!, g[0]!)
  const ih = Math.min(d[1]! + d[3]!, g[1]! + g[3]!) - Math.max(d[1]!, g[1]!)
  if (iw <= 0 || ih <= 0) return 0
  const inter = iw * ih
  const u = crowd ? d[2]! * d[3]! : d[2]! * d[3]! + g[2]! * g[3]! - inter
  return inter / u
}

interface ImageEval {
  dtScores: number[]
  dtMatched: boolean[][]
  dtIgnore: boolean[][]
  gtIgnore: boolean[]
}

function evaluateImage(
  gts: Gt[],
  dts: Dt[],
  area: [number, number],
  maxDet: number,
  p: CocoEvalParams,
): ImageEval | null {
  if (!gts.length && !dts.length) return null
  const gIg = gts.map((g) => g.ignore || g.area < area[0] || g.area > area[1])
  // ground truth: non-ignored first (stable); detections: by score, stable, at most maxDet
  const gOrder = [...gts.keys()].sort((a, b) => Number(gIg[a]) - Number(gIg[b]) || a - b)
  const G = gOrder.map((i) => gts[i]!)
  const GIg = gOrder.map((i) => gIg[i]!)
  const D = [...dts]
    .map((d, i) => [d, i] as const)
    .sort((a, b) => b[0].score - a[0].score || a[1] - b[1])
    .slice(0, maxDet)
    .map((x) => x[0])
  const ious = D.map((d) => G.map((g) => iouXywh(d.bbox, g.bbox, g.crowd)))
  const T = p.iouThresholds.length
  const gtm = Array.from({ length: T }, () => new Array<number>(G.length).fill(0))
  const dtMatched = Array.from({ length: T }, () => new Array<boolean>(D.length).fill(false))
  const dtIgnore = Array.from({ length: T }, () => new Array<boolean>(D.length).fill(false))
  p.iouThresholds.forEach((t, ti) => {
    D.forEach((d, di) => {
      // NOTE: min(t, 1 - 1e-10), so a perfect match still passes at t = 1, as the reference.
      let best = Math.min(t, 1 - 1e-10)
      let m = -1
      for (let gi = 0; gi < G.length; gi++) {
        if (gtm[ti]![gi]! > 0 && !G[gi]!.crowd) continue
        if (m > -1 && !GIg[m] && GIg[gi]) break
        if (ious[di]![gi]! < best) continue
        best = ious[di]![gi]!
        m = gi
      }
      if (m === -1) return
      dtIgnore[ti]![di] = GIg[m]!
      dtMatched[ti]![di] = true
      gtm[ti]![m] = d.id
    })
  })
  D.forEach((d, di) => {
    const out = d.area < area[0] || d.area > area[1]
    for (let ti = 0; ti < T; ti++) if (!dtMatched[ti]![di] && out) dtIgnore[ti]![di] = true
  })
  return { dtScores: D.map((d) => d.score), dtMatched, dtIgnore, gtIgnore: GIg }
}

export interface CocoEvalResult {
  /** The 12 standard numbers; -1 where nothing is defined (no ground truth in that area range). */
  stats: number[]
  /** precision[t][r][k][a][m], -1 where undefined. */
  precision: number[][][][][]
  /** recall[t][k][a][m], -1 where undefined. */
  recall: number[][][][]
  categoryIds: number[]
  params: CocoEvalParams
}

function checkNumber(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ArgumentError(`${what} must be a finite number, got ${String(v)}`)
}

/**
 * Evaluate COCO results against a COCO ground-truth dataset (bbox), as COCOeval.evaluate(),
 * accumulate() and summarize(). Results for images not in the dataset are an error (as loadRes).
 */
export function cocoEvaluate(
  gt: CocoDataset,
  results: CocoResult[],
  params: CocoEvalParams = defaultCocoParams(),
): CocoEvalResult {
  const imgIds = [...new Set(gt.images.map((i) => i.id))].sort((a, b) => a - b)
  const catIds = [...new Set(gt.categories.map((c) => c.id))].sort((a, b) => a - b)
  const imgSet = new Set(imgIds)
  const key = (i: number, c: number) => `${i}:${c}`
  const gts = new Map<string, Gt[]>()
  for (const a of gt.annotations) {
    if (a.bbox?.length !== 4) throw new ArgumentError(`cocoEvaluate: annotation ${a.id} needs bbox [x, y, w, h]`)
    a.bbox.forEach((v, j) => {
      checkNumber(v, `cocoEvaluate: annotation ${a.id} bbox[${j}]`)
    })
    if (a.id === 0)
      throw new ArgumentError('cocoEvaluate: annotation ids must be non-zero (0 marks "unmatched" in the evaluator)')
    const crowd = Boolean(a.iscrowd)
    const g: Gt = { id: a.id, bbox: a.bbox, area: a.area ?? a.bbox[2]! * a.bbox[3]!, crowd, ignore: crowd }
    gts.set(key(a.image_id, a.category_id), [...(gts.get(key(a.image_id, a.category_id)) ?? []), g])
  }
  const dts = new Map<string, Dt[]>()
  results.forEach((r, i) => {
    if (!imgSet.has(r.image_id))
      throw new ArgumentError(`cocoEvaluate: result ${i} is for image ${r.image_id}, which is not in the ground truth`)
    if (r.bbox?.length !== 4) throw new ArgumentError(`cocoEvaluate: result ${i} needs bbox [x, y, w, h]`)
    r.bbox.forEach((v, j) => {
      checkNumber(v, `cocoEvaluate: result ${i} bbox[${j}]`)
    })
    checkNumber(r.score, `cocoEvaluate: result ${i} score`)
    const d: Dt = { id: i + 1, score: r.score, bbox: r.bbox, area: r.bbox[2]! * r.bbox[3]! }
    dts.set(key(r.image_id, r.category_id), [...(dts.get(key(r.image_id, r.category_id)) ?? []), d])
  })
  const p = params
  const [T, R, K, A, M] = [
    p.iouThresholds.length,
    p.recallThresholds.length,
    catIds.length,
    p.areaRanges.length,
    p.maxDets.length,
  ]
  const maxDet = p.maxDets[M - 1]!
  const precision = Array.from({ length: T }, () =>
    Array.from({ length: R }, () =>
      Array.from({ length: K }, () => Array.from({ length: A }, () => new Array<number>(M).fill(-1))),
    ),
  )
  const recall = Array.from({ length: T }, () =>
    Array.from({ length: K }, () => Array.from({ length: A }, () => new Array<number>(M).fill(-1))),
  )
  catIds.forEach((c, k) => {
    p.areaRanges.forEach((area, a) => {
      const E = imgIds
        .map((i) => evaluateImage(gts.get(key(i, c)) ?? [], dts.get(key(i, c)) ?? [], area, maxDet, p))
        .filter((e): e is ImageEval => e !== null)
      if (!E.length) return
      p.maxDets.forEach((md, m) => {
        const scores = E.flatMap((e) => e.dtScores.slice(0, md))
        const src = E.flatMap((e) => e.dtScores.slice(0, md).map((_, j) => [e, j] as const))
        const order = [...scores.keys()].sort((x, y) => scores[y]! - scores[x]! || x - y)
        const npig = E.reduce((s, e) => s + e.gtIgnore.filter((g) => !g).length, 0)
        if (npig === 0) return
        for (let t = 0; t < T; t++) {
          let tp = 0
          let fp = 0
          const rc: number[] = []
          const pr: number[] = []
          for (const o of order) {
            const [e, j] = src[o]!
            if (e.dtIgnore[t]![j]) {
              rc.push(tp / npig)
              pr.push(tp / (fp + tp + Number.EPSILON))
              continue
            }
            if (e.dtMatched[t]![j]) tp++
            else fp++
            rc.push(tp / npig)
            // NOTE: + eps (numpy's spacing(1)) in the denominator, as the reference, for the exact values.
            pr.push(tp / (fp + tp + Number.EPSILON))
          }
          recall[t]![k]![a]![m] = rc.length ? rc[rc.length - 1]! : 0
          for (let i = pr.length - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!
          p.recallThresholds.forEach((r, ri) => {
            // first index with rc >= r (numpy searchsorted, side='left'); beyond the curve: 0
            let lo = 0
            let hi = rc.length
            while (lo < hi) {
              const mid = (lo + hi) >> 1
              if (rc[mid]! < r) lo = mid + 1
              else hi = mid
            }
            precision[t]![ri]![k]![a]![m] = lo < pr.length ? pr[lo]! : 0
          })
        }
      })
    })
  })
  const mean = (xs: number[]) => {
    const v = xs.filter((x) => x > -1)
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : -1
  }
  const ai = (l: string) => p.areaLabels.indexOf(l)
  const mi = (d: number) => p.maxDets.indexOf(d)
  const ap = (area: string, md: number, iou?: number) => {
    const ts = iou === undefined ? [...Array(T).keys()] : [p.iouThresholds.indexOf(iou)]
    return mean(ts.flatMap((t) => precision[t]!.flatMap((byR) => byR.map((byK) => byK[ai(area)]![mi(md)]!))))
  }
  const ar = (area: string, md: number) =>
    mean([...Array(T).keys()].flatMap((t) => recall[t]!.map((byK) => byK[ai(area)]![mi(md)]!)))
  const last = p.maxDets[M - 1]!
  const stats = [
    ap('all', last),
    ap('all', last, 0.5),
    ap('all', last, 0.75),
    ap('small', last),
    ap('medium', last),
    ap('large', last),
    ar('all', p.maxDets[0]!),
    ar('all', p.maxDets[1]!),
    ar('all', last),
    ar('small', last),
    ar('medium', last),
    ar('large', last),
  ]
  return { stats, precision, recall, categoryIds: catIds, params: p }
}

/** The 12 numbers as COCOeval.summarize() prints them. */
export function formatCocoStats(stats: number[]): string {
  const rows: [string, string, string, string][] = [
    ['Precision', '0.50:0.95', 'all', '100'],
    ['Precision', '0.50', 'all', '100'],
    ['Precision', '0.75', 'all', '100'],
    ['Precision', '0.50:0.95', 'small', '100'],
    ['Precision', '0.50:0.95', 'medium', '100'],
    ['Precision', '0.50:0.95', 'large', '100'],
    ['Recall', '0.50:0.95', 'all', '1'],
    ['Recall', '0.50:0.95', 'all', '10'],
    ['Recall', '0.50:0.95', 'all', '100'],
    ['Recall', '0.50:0.95', 'small', '100'],
    ['Recall', '0.50:0.95', 'medium', '100'],
    ['Recall', '0.50:0.95', 'large', '100'],
  ]
  return rows
    .map(
      ([k, iou, a, d], i) =>
        ` ${`Average ${k}`.padEnd(18)} (${k === 'Precision' ? 'AP' : 'AR'}) @[ IoU=${iou.padEnd(9)} | area=${a.padStart(6)} | maxDets=${d.padStart(3)} ] = ${stats[i]!.toFixed(3)}`,
    )
    .join('\n')
}

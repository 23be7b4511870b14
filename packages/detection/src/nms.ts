/**
 * Non-maximum suppression (d2l.ai, "Anchor Boxes", https://d2l.ai/chapter_computer-vision/anchor.html):
 * take the highest-scoring box, drop every remaining box that overlaps it by more than a threshold,
 * repeat. Variants:
 * - greedy (torchvision.ops.nms), per class with `batchedNms` (torchvision.ops.batched_nms);
 * - soft-NMS (Bodla et al. 2017, https://arxiv.org/abs/1704.04503): instead of dropping a box, decay
 *   its score by (1 - IoU) above the threshold (linear) or by exp(-IoU² / σ) (Gaussian);
 * - DIoU-NMS (Zheng et al. 2020, https://arxiv.org/abs/1911.08287): suppress by DIoU = IoU - ρ²/c²,
 *   so boxes with distant centres (two neighbouring objects) survive.
 * `detect` wraps them with a score threshold, a pre-NMS top-k and a maximum number of detections.
 * Boxes are (N, 4) corner tensors; scores (N). Indices come back as plain numbers, best first.
 * Ties in score keep the lower index first (a stable sort), as torch's CPU sort does.
 */
import { ArgumentError, ShapeError, Tensor, apply, defineOp } from '@refnets/core'
import { checkXyxy } from './boxes.js'

function readInputs(
  boxes: Tensor,
  scores: Tensor,
  what: string,
): { b: ArrayLike<number>; s: ArrayLike<number>; n: number } {
  if (boxes.rank !== 2) throw new ShapeError(`${what}: boxes must be (N, 4), got shape [${boxes.shape.join(', ')}]`)
  checkXyxy(boxes, `${what}: boxes`)
  const n = boxes.shape[0]!
  if (scores.rank !== 1 || scores.shape[0] !== n)
    throw new ShapeError(`${what}: scores must be (N) = (${n}) for ${n} boxes, got shape [${scores.shape.join(', ')}]`)
  const s = scores.data
  for (let i = 0; i < n; i++)
    if (Number.isNaN(s[i]!)) throw new ArgumentError(`${what}: score ${i} is NaN; scores must be numbers`)
  return { b: boxes.data, s, n }
}

function checkThreshold(t: number, what: string): void {
  if (!(t >= 0 && t <= 1)) throw new ArgumentError(`${what}: iouThreshold must be in [0, 1], got ${t}`)
}

/** IoU of boxes i and j of a flat (N * 4) corner array (float64 arithmetic, torchvision's kernel formula). */
export function iouAt(b: ArrayLike<number>, i: number, j: number): number {
  const ix1 = Math.max(b[4 * i]!, b[4 * j]!)
  const iy1 = Math.max(b[4 * i + 1]!, b[4 * j + 1]!)
  const ix2 = Math.min(b[4 * i + 2]!, b[4 * j + 2]!)
  const iy2 = Math.min(b[4 * i + 3]!, b[4 * j + 3]!)
  const inter = Math.max(0, ix2 - ix1) * Math.max(0, iy2 - iy1)
  const ai = (b[4 * i + 2]! - b[4 * i]!) * (b[4 * i + 3]! - b[4 * i + 1]!)
  const aj = (b[4 * j + 2]! - b[4 * j]!) * (b[4 * j + 3]! - b[4 * j + 1]!)
  return inter / (ai + aj - inter)
}

/** DIoU of boxes i and j: IoU - (squared centre distance) / (squared diagonal of the enclosing box). */
export function diouAt(b: ArrayLike<number>, i: number, j: number): number {
  const cw = Math.max(b[4 * i + 2]!, b[4 * j + 2]!) - Math.min(b[4 * i]!, b[4 * j]!)
  const ch = Math.max(b[4 * i + 3]!, b[4 * j + 3]!) - Math.min(b[4 * i + 1]!, b[4 * j + 1]!)
  const dx = (b[4 * i]! + b[4 * i + 2]!) / 2 - (b[4 * j]! + b[4 * j + 2]!) / 2
  const dy = (b[4 * i + 1]! + b[4 * i + 3]!) / 2 - (b[4 * j + 1]! + b[4 * j + 3]!) / 2
  return iouAt(b, i, j) - (dx * dx + dy * dy) / (cw * cw + ch * ch + 1e-7)
}

/** Indices 0..n-1 ordered by score, descending; ties keep index order. */
function byScore(s: ArrayLike<number>, idx: number[]): number[] {
  return idx.sort((p, q) => s[q]! - s[p]! || p - q)
}

function greedy(
  b: ArrayLike<number>,
  _s: ArrayLike<number>,
  order: number[],
  thr: number,
  overlap: typeof iouAt,
): number[] {
  const keep: number[] = []
  const dead = new Uint8Array(b.length / 4)
  for (const i of order) {
    if (dead[i]) continue
    keep.push(i)
    // NOTE: suppress only when overlap > threshold; a NaN overlap (two identical zero-area boxes,
    // 0 / 0) suppresses nothing, as in torchvision's kernel.
    for (const j of order) if (!dead[j] && j !== i && overlap(b, i, j) > thr) dead[j] = 1
  }
  return keep
}

/**
 * Greedy NMS as torchvision.ops.nms: the indices of the kept boxes, by score descending. A box is
 * suppressed by a higher-scoring kept box when their IoU is > iouThreshold.
 */
export function nms(boxes: Tensor, scores: Tensor, iouThreshold: number): number[] {
  checkThreshold(iouThreshold, 'nms')
  const { b, s, n } = readInputs(boxes, scores, 'nms')
  return greedy(b, s, byScore(s, [...Array(n).keys()]), iouThreshold, iouAt)
}

/** Class ids as integers, checked. */
function readClasses(idxs: Tensor | ArrayLike<number>, n: number, what: string): ArrayLike<number> {
  const c = 'data' in idxs && !Array.isArray(idxs) ? (idxs as Tensor).data : (idxs as ArrayLike<number>)
  if (c.length !== n) throw new ShapeError(`${what}: expected ${n} class ids (one per box), got ${c.length}`)
  for (let i = 0; i < n; i++)
    if (!Number.isInteger(c[i]!) || c[i]! < 0)
      throw new ArgumentError(`${what}: class id ${i} is ${c[i]}; class ids are integers >= 0`)
  return c
}

/**
 * NMS within each class (torchvision.ops.batched_nms): boxes of different classes never suppress
 * each other. Returns the kept indices over all classes, by score descending.
 */
export function batchedNms(
  boxes: Tensor,
  scores: Tensor,
  idxs: Tensor | ArrayLike<number>,
  iouThreshold: number,
): number[] {
  checkThreshold(iouThreshold, 'batchedNms')
  const { b, s, n } = readInputs(boxes, scores, 'batchedNms')
  const c = readClasses(idxs, n, 'batchedNms')
  const groups = new Map<number, number[]>()
  for (let i = 0; i < n; i++) groups.set(c[i]!, [...(groups.get(c[i]!) ?? []), i])
  const keep: number[] = []
  for (const members of groups.values()) keep.push(...greedy(b, s, byScore(s, members), iouThreshold, iouAt))
  return byScore(s, keep)
}

export type NmsMethod = 'greedy' | 'diou' | 'soft-linear' | 'soft-gaussian'

export interface DetectOptions {
  /** greedy (default), diou, soft-linear or soft-gaussian. */
  method?: NmsMethod
  /** Overlap above which a box is suppressed (greedy, diou) or decayed (soft-linear). Default 0.5. */
  iouThreshold?: number
  /** Boxes scoring below this are dropped before NMS (and, for soft-NMS, after decay). Default 0. */
  scoreThreshold?: number
  /** Keep only the topK best boxes before NMS (per class with `classes`). Default all. */
  topK?: number
  /** Keep at most this many detections after NMS (over all classes). Default all. */
  maxDetections?: number
  /** σ of Gaussian soft-NMS (default 0.5). */
  sigma?: number
  /** Class id per box: NMS runs within each class. */
  classes?: Tensor | ArrayLike<number>
}

export interface Detections {
  /** Indices into the input boxes, best first. */
  indices: number[]
  /** Their scores (decayed by soft-NMS; otherwise the input scores). */
  scores: number[]
}

function softNms(
  b: ArrayLike<number>,
  s0: ArrayLike<number>,
  members: number[],
  o: Required<Pick<DetectOptions, 'iouThreshold' | 'scoreThreshold' | 'sigma'>>,
  gaussian: boolean,
) {
  const s = new Map(members.map((i) => [i, s0[i]!]))
  const left = new Set(members)
  const out: [number, number][] = []
  while (left.size) {
    let best = -1
    for (const i of left) if (best < 0 || s.get(i)! > s.get(best)! || (s.get(i) === s.get(best) && i < best)) best = i
    left.delete(best)
    if (s.get(best)! < o.scoreThreshold) break
    out.push([best, s.get(best)!])
    for (const j of left) {
      const iou = iouAt(b, best, j)
      if (gaussian) s.set(j, s.get(j)! * Math.exp(-(iou * iou) / o.sigma))
      else if (iou > o.iouThreshold) s.set(j, s.get(j)! * (1 - iou))
    }
  }
  return out
}

/**
 * Detections from scored boxes: score threshold, per-class top-k, NMS (any method), then the best
 * `maxDetections`. Empty input gives empty output.
 */
export function detect(boxes: Tensor, scores: Tensor, opts: DetectOptions = {}): Detections {
  const {
    method = 'greedy',
    iouThreshold = 0.5,
    scoreThreshold = 0,
    topK = Infinity,
    maxDetections = Infinity,
    sigma = 0.5,
  } = opts
  checkThreshold(iouThreshold, 'detect')
  if (!(sigma > 0)) throw new ArgumentError(`detect: sigma must be > 0, got ${sigma}`)
  if (!(topK >= 0) || !(maxDetections >= 0))
    throw new ArgumentError(`detect: topK and maxDetections must be >= 0, got ${topK} and ${maxDetections}`)
  if (!['greedy', 'diou', 'soft-linear', 'soft-gaussian'].includes(method))
    throw new ArgumentError(`detect: method must be greedy, diou, soft-linear or soft-gaussian, got '${method}'`)
  const { b, s, n } = readInputs(boxes, scores, 'detect')
  const c = opts.classes ? readClasses(opts.classes, n, 'detect') : new Int32Array(n)
  const groups = new Map<number, number[]>()
  for (let i = 0; i < n; i++) if (s[i]! >= scoreThreshold) groups.set(c[i]!, [...(groups.get(c[i]!) ?? []), i])
  const kept: [number, number][] = []
  for (const all of groups.values()) {
    const members = byScore(s, all).slice(0, topK)
    if (method === 'soft-linear' || method === 'soft-gaussian')
      kept.push(...softNms(b, s, members, { iouThreshold, scoreThreshold, sigma }, method === 'soft-gaussian'))
    else
      kept.push(
        ...greedy(b, s, members, iouThreshold, method === 'diou' ? diouAt : iouAt).map((i): [number, number] => [
          i,
          s[i]!,
        ]),
      )
  }
  kept.sort((p, q) => q[1] - p[1] || p[0] - q[0])
  const top = kept.slice(0, maxDetections)
  return { indices: top.map((k) => k[0]), scores: top.map((k) => k[1]) }
}

interface OnnxNmsAttrs {
  maxOutputBoxesPerClass: number
  iouThreshold: number
  scoreThreshold: number
}

/**
 * ONNX NonMaxSuppression as an op, so a detector's export can end in the native node: boxes
 * (B, N, 4) corners, scores (B, C, N) -> (K, 3) int32 rows [batch, class, box], per batch and class
 * in selection order; a box is kept when its score is > scoreThreshold and its IoU with every kept
 * box of its class is <= iouThreshold, at most maxOutputBoxesPerClass per class.
 * NOTE: ONNX reads boxes as [y1, x1, y2, x2]; IoU is the same with x and y swapped, so corner
 * boxes [x1, y1, x2, y2] pass through unchanged.
 */
const NonMaxSuppressionOp = defineOp<OnnxNmsAttrs>({
  name: 'NonMaxSuppression',
  forward: ([boxes, scores], a) => {
    const [nb, n] = [boxes!.shape[0]!, boxes!.shape[1]!]
    const nc = scores!.shape[1]!
    const s = scores!.data
    const out: number[] = []
    for (let b = 0; b < nb; b++) {
      const bd = boxes!.data.subarray(b * n * 4, (b + 1) * n * 4)
      for (let c = 0; c < nc; c++) {
        const sc = (k: number) => s[(b * nc + c) * n + k]!
        const cand = [...Array(n).keys()].filter((k) => sc(k) > a.scoreThreshold).sort((p, q) => sc(q) - sc(p) || p - q)
        const kept: number[] = []
        for (const k of cand) {
          if (kept.length >= a.maxOutputBoxesPerClass) break
          if (kept.every((j) => !(iouAt(bd, j, k) > a.iouThreshold))) kept.push(k)
        }
        for (const k of kept) out.push(b, c, k)
      }
    }
    return new Tensor(Int32Array.from(out), [out.length / 3, 3])
  },
  // ONNX gives int64 indices; refnets keeps int32 inside the graph, so cast right after (as ArgMax does).
  onnx: (ctx, [boxes, scores], { attrs: a }) => {
    const [sel] = ctx.node('NonMaxSuppression', [
      boxes!,
      scores!,
      ctx.constant([a.maxOutputBoxesPerClass], 'int64', [1]),
      ctx.constant([a.iouThreshold], 'float32', [1]),
      ctx.constant([a.scoreThreshold], 'float32', [1]),
    ])
    return ctx.node('Cast', [sel!], { to: 6 })
  },
})

/** NMS with ONNX NonMaxSuppression's semantics and export (see NonMaxSuppressionOp). */
export function onnxNonMaxSuppression(
  boxes: Tensor,
  scores: Tensor,
  { maxOutputBoxesPerClass = 100, iouThreshold = 0.5, scoreThreshold = -Infinity } = {},
): Tensor {
  if (boxes.rank !== 3 || boxes.shape[2] !== 4)
    throw new ShapeError(`onnxNonMaxSuppression: boxes must be (B, N, 4), got [${boxes.shape}]`)
  if (scores.rank !== 3 || scores.shape[0] !== boxes.shape[0] || scores.shape[2] !== boxes.shape[1])
    throw new ShapeError(
      `onnxNonMaxSuppression: scores must be (B, C, N) = (${boxes.shape[0]}, C, ${boxes.shape[1]}), got [${scores.shape}]`,
    )
  checkThreshold(iouThreshold, 'onnxNonMaxSuppression')
  checkXyxy(boxes.reshape(-1, 4), 'onnxNonMaxSuppression: boxes')
  for (const v of scores.data)
    if (Number.isNaN(v)) throw new ArgumentError('onnxNonMaxSuppression: a score is NaN; scores must be numbers')
  return apply(NonMaxSuppressionOp, [boxes, scores], { maxOutputBoxesPerClass, iouThreshold, scoreThreshold })
}

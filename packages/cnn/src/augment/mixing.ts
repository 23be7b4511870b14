/**
 * Occlusion and mixing: cutout (DeVries & Taylor 2017, https://arxiv.org/abs/1708.04552), mixup
 * (Zhang et al. 2018, https://arxiv.org/abs/1710.09412) and CutMix (Yun et al. 2019,
 * https://arxiv.org/abs/1905.04899) with mixed soft labels and their loss, and YOLOv4's mosaic of
 * four images with their boxes (Bochkovskiy et al. 2020, https://arxiv.org/abs/2004.10934).
 */
import { ArgumentError, type Generator, ShapeError, Tensor, defaultGenerator, logSoftmax } from '@refnets/core'
import {
  type FloatArray,
  type Images,
  type RandomOptions,
  type Size2,
  alloc,
  images,
  output,
  perImage,
  range,
  size2,
  uniform,
} from './shared.js'

// ---- occlusion ----------------------------------------------------------------------------------

export interface CutoutOptions extends RandomOptions {
  /** Side of the square hole in pixels (DeVries & Taylor: 16 on CIFAR-10). */
  size: number
  /** Number of holes per image (default 1). */
  holes?: number
  /** Value written into the holes (default 0). */
  fill?: number
}

/**
 * Cutout (DeVries & Taylor 2017, "Improved regularization of convolutional neural networks with
 * cutout"): blank a size x size square at a centre drawn uniformly over the image, in every channel.
 * The square may hang over the border (then less is cut), which the paper found important.
 */
export function cutout(x: Tensor, { size, holes = 1, fill = 0, generator = defaultGenerator }: CutoutOptions): Tensor {
  if (!Number.isInteger(size) || size < 1)
    throw new ArgumentError(`cutout: size must be a positive integer, got ${size}`)
  if (!Number.isInteger(holes) || holes < 0)
    throw new ArgumentError(`cutout: holes must be a non-negative integer, got ${holes}`)
  return perImage(x, 'cutout', (src, dst, { c, h, w }) => {
    dst.set(src)
    for (let k = 0; k < holes; k++) {
      const cy = generator.int(h)
      const cx = generator.int(w)
      const [y1, y2] = [Math.max(0, cy - (size >> 1)), Math.min(h, cy - (size >> 1) + size)]
      const [x1, x2] = [Math.max(0, cx - (size >> 1)), Math.min(w, cx - (size >> 1) + size)]
      for (let ch = 0; ch < c; ch++)
        for (let i = y1; i < y2; i++) dst.fill(fill, (ch * h + i) * w + x1, (ch * h + i) * w + x2)
    }
  })
}

// ---- mixing -------------------------------------------------------------------------------------

/** A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 by the boost Gamma(a + 1) U^(1/a)). */
function sampleGamma(shape: number, g: Generator): number {
  if (shape < 1) {
    let u = g.random()
    while (u === 0) u = g.random()
    return sampleGamma(shape + 1, g) * u ** (1 / shape)
  }
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number
    let v: number
    do {
      x = g.normal()
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = g.random()
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
  }
}

/** A Beta(a, b) draw, as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, generator: Generator = defaultGenerator): number {
  if (!(a > 0 && b > 0)) throw new ArgumentError(`sampleBeta: a and b must be > 0, got ${a} and ${b}`)
  const x = sampleGamma(a, generator)
  const y = sampleGamma(b, generator)
  return x / (x + y)
}

/** Labels as an (N, K) float matrix: int32 classes one-hot encoded, or soft labels as they are. */
function softLabels(
  labels: Tensor,
  n: number,
  numClasses: number | undefined,
  dtype: 'float32' | 'float64',
  what: string,
): FloatArray {
  if (labels.rank === 1 && labels.dtype === 'int32') {
    if (labels.shape[0] !== n)
      throw new ShapeError(`${what}: expected ${n} labels (one per image), got ${labels.shape[0]}`)
    if (numClasses === undefined || !Number.isInteger(numClasses) || numClasses < 1)
      throw new ArgumentError(`${what}: int32 class labels need numClasses (a positive integer), got ${numClasses}`)
    const out = dtype === 'float64' ? new Float64Array(n * numClasses) : new Float32Array(n * numClasses)
    ;(labels.data as Int32Array).forEach((y, i) => {
      if (y < 0 || y >= numClasses)
        throw new ArgumentError(`${what}: label ${y} is out of range for ${numClasses} classes`)
      out[i * numClasses + y] = 1
    })
    return out
  }
  if (labels.rank === 2 && (labels.dtype === 'float32' || labels.dtype === 'float64') && labels.shape[0] === n) {
    const d = labels.data
    return dtype === 'float64' ? Float64Array.from(d) : Float32Array.from(d)
  }
  throw new ShapeError(
    `${what}: expected int32 labels (N) or float soft labels (N, K) with N = ${n}, got ${labels.dtype} [${labels.shape.join(', ')}]`,
  )
}

export interface MixOptions extends RandomOptions {
  /** Beta(alpha, alpha) concentration of the mixing weight (mixup: 0.2..0.4 on ImageNet; cutmix: 1). */
  alpha?: number
  /** Number of classes, needed when the labels are int32 class indices. */
  numClasses?: number
  /** Use this mixing weight instead of drawing one. */
  lambda?: number
}

export interface MixResult {
  images: Tensor
  /** Soft labels (N, K): lambda * y + (1 - lambda) * y[permutation]. */
  labels: Tensor
  /** The weight of the original images (for cutmix: 1 - the pasted area fraction). */
  lambda: number
  /** Image i was mixed with image permutation[i]. */
  permutation: Int32Array
}

function mixLabels(y: FloatArray, n: number, perm: Int32Array, lambda: number): Tensor {
  const k = y.length / n
  const out = alloc(y, y.length)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) out[i * k + j] = lambda * y[i * k + j]! + (1 - lambda) * y[perm[i]! * k + j]!
  return new Tensor(out, [n, k])
}

function batchFor(x: Tensor, what: string): Images {
  const im = images(x, what)
  if (!im.batched) throw new ShapeError(`${what}: expected a batch (N, C, H, W), got shape [${x.shape.join(', ')}]`)
  return im
}

function drawLambda(alpha: number, lambda: number | undefined, g: Generator, what: string): number {
  if (lambda !== undefined) {
    if (!(lambda >= 0 && lambda <= 1)) throw new ArgumentError(`${what}: lambda must be in [0, 1], got ${lambda}`)
    return lambda
  }
  if (!(alpha > 0)) throw new ArgumentError(`${what}: alpha must be > 0, got ${alpha}`)
  return sampleBeta(alpha, alpha, g)
}

/**
 * mixup (Zhang, Cisse, Dauphin & Lopez-Paz 2018): train on convex combinations of pairs of images
 * and of their labels, x~ = lambda x_i + (1 - lambda) x_j, y~ = lambda y_i + (1 - lambda) y_j, with
 * lambda ~ Beta(alpha, alpha) and j a random permutation of the batch. Train on the soft labels with
 * `softTargetCrossEntropy`.
 */
export function mixup(
  x: Tensor,
  labels: Tensor,
  { alpha = 0.2, numClasses, lambda, generator = defaultGenerator }: MixOptions = {},
): MixResult {
  const im = batchFor(x, 'mixup')
  const y = softLabels(labels, im.n, numClasses, x.dtype as 'float32' | 'float64', 'mixup')
  const lam = drawLambda(alpha, lambda, generator, 'mixup')
  const perm = generator.permutation(im.n)
  const per = im.c * im.h * im.w
  const out = alloc(im.src, im.src.length)
  for (let i = 0; i < im.n; i++) {
    const a = i * per
    const b = perm[i]! * per
    for (let k = 0; k < per; k++) out[a + k] = lam * im.src[a + k]! + (1 - lam) * im.src[b + k]!
  }
  return { images: output(im, out), labels: mixLabels(y, im.n, perm, lam), lambda: lam, permutation: perm }
}

/**
 * CutMix (Yun et al. 2019): paste a random box from a partner image (a permutation of the batch)
 * into each image, and mix the labels by area. The box has area fraction 1 - lambda (lambda ~
 * Beta(alpha, alpha)), a centre drawn uniformly and is clipped at the border; lambda is then
 * recomputed from the clipped box, as in the reference code. One box for the whole batch.
 */
export function cutmix(
  x: Tensor,
  labels: Tensor,
  { alpha = 1, numClasses, lambda, generator = defaultGenerator }: MixOptions = {},
): MixResult & { box: [x1: number, y1: number, x2: number, y2: number] } {
  const im = batchFor(x, 'cutmix')
  const y = softLabels(labels, im.n, numClasses, x.dtype as 'float32' | 'float64', 'cutmix')
  const lam0 = drawLambda(alpha, lambda, generator, 'cutmix')
  const perm = generator.permutation(im.n)
  const cut = Math.sqrt(1 - lam0)
  const [cutH, cutW] = [Math.floor(im.h * cut), Math.floor(im.w * cut)]
  const cy = generator.int(im.h)
  const cx = generator.int(im.w)
  const y1 = Math.max(0, cy - (cutH >> 1))
  const y2 = Math.min(im.h, cy + (cutH >> 1))
  const x1 = Math.max(0, cx - (cutW >> 1))
  const x2 = Math.min(im.w, cx + (cutW >> 1))
  const out = alloc(im.src, im.src.length)
  out.set(im.src)
  const plane = im.h * im.w
  for (let i = 0; i < im.n; i++)
    for (let c = 0; c < im.c; c++) {
      const dst = (i * im.c + c) * plane
      const src = (perm[i]! * im.c + c) * plane
      for (let r = y1; r < y2; r++)
        out.set(im.src.subarray(src + r * im.w + x1, src + r * im.w + x2), dst + r * im.w + x1)
    }
  const lam = 1 - ((x2 - x1) * (y2 - y1)) / plane
  return {
    images: output(im, out),
    labels: mixLabels(y, im.n, perm, lam),
    lambda: lam,
    permutation: perm,
    box: [x1, y1, x2, y2],
  }
}

/**
 * Cross-entropy against soft targets (N, K): mean over the batch of -sum_k t_k log softmax(z)_k.
 * The loss for mixup and cutmix labels (for hard labels it equals `crossEntropy`).
 */
export function softTargetCrossEntropy(logits: Tensor, target: Tensor): Tensor {
  if (
    logits.rank !== 2 ||
    target.rank !== 2 ||
    logits.shape[0] !== target.shape[0] ||
    logits.shape[1] !== target.shape[1]
  )
    throw new ShapeError(
      `softTargetCrossEntropy: expected logits and targets of the same shape (N, K), got [${logits.shape.join(', ')}] and [${target.shape.join(', ')}]`,
    )
  return logSoftmax(logits, 1).mul(target.to(logits.dtype)).sum(1).neg().mean()
}

// ---- mosaic -------------------------------------------------------------------------------------

/** One image (C, H, W) with its boxes [x1, y1, x2, y2] in pixels and, optionally, a label per box. */
export interface MosaicItem {
  image: Tensor
  boxes: readonly (readonly number[])[]
  labels?: readonly number[]
}

export interface MosaicOptions extends RandomOptions {
  /** Output [height, width] (default: the first image's size). */
  size?: Size2
  /** The mosaic centre is drawn uniformly from this fraction of each side (default [0.25, 0.75]). */
  centerRange?: readonly [number, number]
  /** Value of pixels no image covers (default 0.5). */
  fill?: number
  /** Boxes whose clipped width or height is not above this many pixels are dropped (default 0). */
  minSize?: number
}

export interface MosaicResult {
  image: Tensor
  /** The boxes that remain visible, shifted and clipped into the mosaic. */
  boxes: number[][]
  /** Each box's label (present when every item had labels). */
  labels?: number[]
  /** Which input (0..3) each box came from. */
  sources: number[]
  /** The mosaic centre [x, y]. */
  center: [number, number]
}

/**
 * Mosaic (Bochkovskiy et al. 2020, YOLOv4): four training images tiled around a random centre, so
 * one sample shows objects at new positions, scales cut by the border, and four contexts. Image 0
 * goes top-left with its bottom-right corner at the centre, image 1 top-right (bottom-left corner at
 * the centre), image 2 bottom-left, image 3 bottom-right; what falls outside the canvas is cut off.
 * Boxes are shifted with their image, clipped to its visible part, and dropped when nothing is left.
 */
export function mosaic(
  items: readonly MosaicItem[],
  { size, centerRange = [0.25, 0.75], fill = 0.5, minSize = 0, generator = defaultGenerator }: MosaicOptions = {},
): MosaicResult {
  if (items.length !== 4) throw new ArgumentError(`mosaic: expected 4 images, got ${items.length}`)
  const ims = items.map((it, k) => {
    const im = images(it.image, `mosaic image ${k}`)
    if (im.batched)
      throw new ShapeError(`mosaic image ${k}: expected one image (C, H, W), got shape [${it.image.shape.join(', ')}]`)
    if (it.labels && it.labels.length !== it.boxes.length)
      throw new ShapeError(`mosaic image ${k}: ${it.boxes.length} boxes but ${it.labels.length} labels`)
    for (const b of it.boxes)
      if (b.length < 4) throw new ShapeError(`mosaic image ${k}: a box needs [x1, y1, x2, y2], got [${b.join(', ')}]`)
    return im
  })
  const c = ims[0]!.c
  if (ims.some((im) => im.c !== c))
    throw new ShapeError(`mosaic: all images need the same channels, got ${ims.map((im) => im.c).join(', ')}`)
  range(centerRange, 'mosaic centerRange')
  const [H, W] = size === undefined ? [ims[0]!.h, ims[0]!.w] : size2(size, 'mosaic')
  const xc = Math.floor(uniform(generator, centerRange[0] * W, centerRange[1] * W))
  const yc = Math.floor(uniform(generator, centerRange[0] * H, centerRange[1] * H))
  const out = alloc(ims[0]!.src, c * H * W).fill(fill)
  const boxes: number[][] = []
  const labels: number[] = []
  const sources: number[] = []
  const withLabels = items.every((it) => it.labels)

  ims.forEach((im, k) => {
    const { h, w } = im
    // Where the image's top-left corner lands on the canvas.
    const ox = k === 0 || k === 2 ? xc - w : xc
    const oy = k === 0 || k === 1 ? yc - h : yc
    // The visible region on the canvas.
    const [x1a, y1a, x2a, y2a] = [Math.max(ox, 0), Math.max(oy, 0), Math.min(ox + w, W), Math.min(oy + h, H)]
    if (x2a <= x1a || y2a <= y1a) return
    for (let ch = 0; ch < c; ch++)
      for (let y = y1a; y < y2a; y++) {
        const src = (ch * h + (y - oy)) * w + (x1a - ox)
        out.set(im.src.subarray(src, src + (x2a - x1a)), (ch * H + y) * W + x1a)
      }
    items[k]!.boxes.forEach((b, j) => {
      const bx1 = Math.min(Math.max(b[0]! + ox, x1a), x2a)
      const by1 = Math.min(Math.max(b[1]! + oy, y1a), y2a)
      const bx2 = Math.min(Math.max(b[2]! + ox, x1a), x2a)
      const by2 = Math.min(Math.max(b[3]! + oy, y1a), y2a)
      if (bx2 - bx1 <= minSize || by2 - by1 <= minSize) return
      boxes.push([bx1, by1, bx2, by2, ...b.slice(4)])
      sources.push(k)
      if (withLabels) labels.push(items[k]!.labels![j]!)
    })
  })
  return { image: new Tensor(out, [c, H, W]), boxes, ...(withLabels ? { labels } : {}), sources, center: [xc, yc] }
}

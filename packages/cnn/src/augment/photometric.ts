/**
 * Photometric augmentations: per-channel normalisation, brightness/contrast/saturation/hue
 * adjustments and torchvision's ColorJitter, and AlexNet's PCA lighting ("fancy PCA", Krizhevsky et
 * al. 2012, https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html),
 * which moves colours along the principal axes of the RGB distribution.
 * See https://d2l.ai/chapter_computer-vision/image-augmentation.html.
 */
import { ArgumentError, ShapeError, type Tensor, data, defaultGenerator } from '@refnets/core'
import { type FloatArray, type RandomOptions, alloc, images, perImage, uniform } from './shared.js'

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v)

/**
 * ITU-R 601 luma.
 * NOTE: 0.2989 rather than 0.299 for red, as torchvision's rgb_to_grayscale, so contrast and
 * saturation match torchvision's tensor transforms to float precision.
 */
const luma = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b

/** (x - mean[c]) / std[c] per channel (torchvision's Normalize; ImageNet: IMAGENET_MEAN, IMAGENET_STD). */
export function normalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  return perImage(x, 'normalize', (src, dst, { c, h, w }) => {
    if (mean.length !== c || std.length !== c)
      throw new ShapeError(
        `normalize: expected ${c} means and stds (one per channel), got ${mean.length} and ${std.length}`,
      )
    for (let ch = 0; ch < c; ch++)
      for (let i = ch * h * w; i < (ch + 1) * h * w; i++) dst[i] = (src[i]! - mean[ch]!) / std[ch]!
  })
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const

/** Check a colour transform's input: 1 (grey) or 3 (RGB) channels. */
function colourImages(x: Tensor, what: string): void {
  const im = images(x, what)
  if (im.c !== 1 && im.c !== 3) throw new ShapeError(`${what}: expected 1 or 3 channels, got ${im.c}`)
}

/** Multiply by `factor` and clamp to [0, 1] (0 gives black, 1 the original). */
export function adjustBrightness(x: Tensor, factor: number): Tensor {
  colourImages(x, 'adjustBrightness')
  return perImage(x, 'adjustBrightness', (src, dst) => {
    for (let i = 0; i < src.length; i++) dst[i] = clamp01(src[i]! * factor)
  })
}

/** Blend with the image's mean grey level: factor 0 gives a flat grey image, 1 the original. */
export function adjustContrast(x: Tensor, factor: number): Tensor {
  colourImages(x, 'adjustContrast')
  return perImage(x, 'adjustContrast', (src, dst, { c, h, w }) => contrastInto(src, dst, c, h * w, factor))
}

function contrastInto(src: FloatArray, dst: FloatArray, c: number, hw: number, factor: number): void {
  let mean = 0
  for (let i = 0; i < hw; i++) mean += c === 3 ? luma(src[i]!, src[hw + i]!, src[2 * hw + i]!) : src[i]!
  mean /= hw
  for (let i = 0; i < c * hw; i++) dst[i] = clamp01(factor * src[i]! + (1 - factor) * mean)
}

/** Blend each pixel with its own grey level: 0 gives a greyscale image, 1 the original, 2 doubles saturation. */
export function adjustSaturation(x: Tensor, factor: number): Tensor {
  colourImages(x, 'adjustSaturation')
  return perImage(x, 'adjustSaturation', (src, dst, { c, h, w }) => saturationInto(src, dst, c, h * w, factor))
}

function saturationInto(src: FloatArray, dst: FloatArray, c: number, hw: number, factor: number): void {
  if (c === 1) return void dst.set(src) // a grey image has no saturation to change
  for (let i = 0; i < hw; i++) {
    const grey = luma(src[i]!, src[hw + i]!, src[2 * hw + i]!)
    for (let ch = 0; ch < 3; ch++) dst[ch * hw + i] = clamp01(factor * src[ch * hw + i]! + (1 - factor) * grey)
  }
}

/** Rotate the hue by `factor` turns (in [-0.5, 0.5]) in HSV space; saturation and value are kept. */
export function adjustHue(x: Tensor, factor: number): Tensor {
  colourImages(x, 'adjustHue')
  if (!(factor >= -0.5 && factor <= 0.5))
    throw new ArgumentError(`adjustHue: factor must be in [-0.5, 0.5], got ${factor}`)
  return perImage(x, 'adjustHue', (src, dst, { c, h, w }) => hueInto(src, dst, c, h * w, factor))
}

function hueInto(src: FloatArray, dst: FloatArray, c: number, hw: number, factor: number): void {
  if (c === 1) return void dst.set(src)
  for (let i = 0; i < hw; i++) {
    const r = src[i]!
    const g = src[hw + i]!
    const b = src[2 * hw + i]!
    // RGB -> HSV (hue in turns).
    const max = Math.max(r, g, b)
    const min = Math.min(r, g, b)
    const delta = max - min
    let hue = 0
    if (delta > 0) {
      if (max === r) hue = (g - b) / delta / 6
      else if (max === g) hue = ((b - r) / delta + 2) / 6
      else hue = ((r - g) / delta + 4) / 6
    }
    hue = (((hue + factor) % 1) + 1) % 1
    const s = max > 0 ? delta / max : 0
    const v = max
    // HSV -> RGB.
    const h6 = hue * 6
    const sector = Math.floor(h6) % 6
    const f = h6 - Math.floor(h6)
    const p = v * (1 - s)
    const q = v * (1 - s * f)
    const t = v * (1 - s * (1 - f))
    const rgb = [
      [v, t, p],
      [q, v, p],
      [p, v, t],
      [p, q, v],
      [t, p, v],
      [v, p, q],
    ][sector]!
    dst[i] = rgb[0]!
    dst[hw + i] = rgb[1]!
    dst[2 * hw + i] = rgb[2]!
  }
}

export interface ColorJitterOptions extends RandomOptions {
  /** Brightness factor drawn uniformly from [max(0, 1 - b), 1 + b] (default 0: unchanged). */
  brightness?: number
  /** Contrast factor from [max(0, 1 - c), 1 + c] (default 0). */
  contrast?: number
  /** Saturation factor from [max(0, 1 - s), 1 + s] (default 0). */
  saturation?: number
  /** Hue shift from [-hue, hue] turns, hue <= 0.5 (default 0). */
  hue?: number
}

/**
 * Colour jitter as torchvision's ColorJitter: for each image draw the four factors and apply the
 * four adjustments in a random order. Pixels are assumed in [0, 1] (results are clamped).
 */
export function colorJitter(
  x: Tensor,
  { brightness = 0, contrast = 0, saturation = 0, hue = 0, generator = defaultGenerator }: ColorJitterOptions = {},
): Tensor {
  for (const [k, v] of Object.entries({ brightness, contrast, saturation, hue }))
    if (!(v >= 0)) throw new ArgumentError(`colorJitter: ${k} must be >= 0, got ${v}`)
  if (hue > 0.5) throw new ArgumentError(`colorJitter: hue must be <= 0.5, got ${hue}`)
  colourImages(x, 'colorJitter')
  return perImage(x, 'colorJitter', (src, dst, { c, h, w }) => {
    const hw = h * w
    const order = generator.permutation(4)
    const factor = (v: number) => uniform(generator, Math.max(0, 1 - v), 1 + v)
    const fb = brightness > 0 ? factor(brightness) : 1
    const fc = contrast > 0 ? factor(contrast) : 1
    const fs = saturation > 0 ? factor(saturation) : 1
    const fh = hue > 0 ? uniform(generator, -hue, hue) : 0
    let cur: FloatArray = src
    const tmp = alloc(src, src.length)
    for (const k of order) {
      if (k === 0 && brightness > 0) for (let i = 0; i < cur.length; i++) tmp[i] = clamp01(cur[i]! * fb)
      else if (k === 1 && contrast > 0) contrastInto(cur, tmp, c, hw, fc)
      else if (k === 2 && saturation > 0) saturationInto(cur, tmp, c, hw, fs)
      else if (k === 3 && hue > 0) hueInto(cur, tmp, c, hw, fh)
      else continue
      dst.set(tmp)
      cur = dst
    }
    if (cur === src) dst.set(src)
  })
}

/** Eigenvalues of the RGB covariance of ImageNet pixels in [0, 1], largest first (fb.resnet.torch). */
export const IMAGENET_EIGVAL = [0.2175, 0.0188, 0.0045] as const
/** The matching eigenvectors as the columns of a 3x3 matrix (rows R, G, B). */
export const IMAGENET_EIGVEC = [
  [-0.5675, 0.7192, 0.4009],
  [-0.5808, -0.0045, -0.814],
  [-0.5836, -0.6948, 0.4203],
] as const

export interface PcaLightingOptions extends RandomOptions {
  /** Standard deviation of the random weights alpha (AlexNet: 0.1). */
  alphaStd?: number
  /** Eigenvalues of the pixel covariance (default IMAGENET_EIGVAL). */
  eigval?: readonly number[]
  /** Eigenvectors as the columns of a 3x3 matrix (default IMAGENET_EIGVEC). */
  eigvec?: readonly (readonly number[])[]
}

/**
 * AlexNet's PCA colour augmentation (Krizhevsky et al. 2012, section 4.1): add to every pixel of an
 * image the same RGB offset  sum_i alpha_i * lambda_i * p_i, with p_i, lambda_i the eigenvectors and
 * eigenvalues of the RGB covariance over the training set and alpha_i ~ N(0, alphaStd) drawn per
 * image. It changes intensity and colour of the illumination, to which object identity is
 * invariant. Not clamped, as in the paper.
 */
export function pcaLighting(
  x: Tensor,
  {
    alphaStd = 0.1,
    eigval = IMAGENET_EIGVAL,
    eigvec = IMAGENET_EIGVEC,
    generator = defaultGenerator,
  }: PcaLightingOptions = {},
): Tensor {
  if (!(alphaStd >= 0)) throw new ArgumentError(`pcaLighting: alphaStd must be >= 0, got ${alphaStd}`)
  if (eigval.length !== 3 || eigvec.length !== 3 || eigvec.some((r) => r.length !== 3))
    throw new ShapeError(
      `pcaLighting: expected 3 eigenvalues and a 3x3 eigenvector matrix, got ${eigval.length} and ${eigvec.length}x${eigvec[0]?.length ?? 0}`,
    )
  const im = images(x, 'pcaLighting')
  if (im.c !== 3) throw new ShapeError(`pcaLighting: expected RGB images (3 channels), got ${im.c}`)
  return perImage(x, 'pcaLighting', (src, dst, { h, w }) => {
    const alpha = [0, 1, 2].map(() => generator.normal() * alphaStd)
    const hw = h * w
    for (let c = 0; c < 3; c++) {
      const shift =
        eigvec[c]![0]! * alpha[0]! * eigval[0]! +
        eigvec[c]![1]! * alpha[1]! * eigval[1]! +
        eigvec[c]![2]! * alpha[2]! * eigval[2]!
      for (let i = c * hw; i < (c + 1) * hw; i++) dst[i] = src[i]! + shift
    }
  })
}

/**
 * The principal axes of the RGB values of a batch (N, 3, H, W): eigenvalues (largest first) and
 * eigenvectors (columns) of the 3x3 pixel covariance, for `pcaLighting` on your own data.
 */
export function rgbPca(x: Tensor): { eigval: number[]; eigvec: number[][] } {
  const im = images(x, 'rgbPca')
  if (im.c !== 3) throw new ShapeError(`rgbPca: expected RGB images (3 channels), got ${im.c}`)
  const hw = im.h * im.w
  const count = im.n * hw
  const mean = [0, 0, 0]
  const cov = new Float64Array(9)
  for (let n = 0; n < im.n; n++)
    for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) mean[c]! += im.src[(n * 3 + c) * hw + i]!
  for (let c = 0; c < 3; c++) mean[c]! /= count
  for (let n = 0; n < im.n; n++)
    for (let i = 0; i < hw; i++) {
      const v = [0, 1, 2].map((c) => im.src[(n * 3 + c) * hw + i]! - mean[c]!)
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) cov[a * 3 + b]! += v[a]! * v[b]!
    }
  for (let i = 0; i < 9; i++) cov[i]! /= Math.max(1, count - 1)
  const { values, vectors } = data.symmetricEig(cov, 3)
  return {
    eigval: [...values],
    eigvec: [0, 1, 2].map((r) => [vectors[r * 3]!, vectors[r * 3 + 1]!, vectors[r * 3 + 2]!]),
  }
}

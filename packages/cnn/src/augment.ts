/**
 * Data augmentation for images: CHW images or NCHW batches of float32/float64 pixels, usually in
 * [0, 1]. Every random transform takes a `Generator` (core's seedable PRNG; the default generator
 * when left out), so the same seed gives the same images. Random choices are drawn per image of a
 * batch, except where the method's reference code shares them (cutmix shares one box).
 *
 * Augmentation enlarges the training set with label-preserving changes the model should not care
 * about (notes 000, 002, 004; d2l 14.1):
 * - geometry: horizontal flip (mirroring), random crop with padding (ResNet on CIFAR), random
 *   resized crop (GoogLeNet/Inception, torchvision's RandomResizedCrop);
 * - colour: brightness/contrast/saturation/hue jitter, AlexNet's PCA lighting ("fancy PCA"), which
 *   moves colours along the principal axes of the RGB distribution;
 * - occlusion and mixing: cutout (DeVries & Taylor 2017), mixup (Zhang et al. 2018), cutmix (Yun et
 *   al. 2019) with mixed soft labels, and YOLOv4's mosaic of four images with their boxes.
 *
 * Transforms work on the pixel arrays directly and return new tensors (outside autograd: they are
 * preprocessing, not part of the model). Deterministic building blocks (`hflip`, `resize`,
 * `adjustHue`, ...) are exported too.
 */
import {
  ArgumentError,
  DTypeError,
  type Generator,
  ShapeError,
  Tensor,
  data,
  defaultGenerator,
  logSoftmax,
} from '@refnets/core'

type FloatArray = Float32Array | Float64Array
/** [height, width], or one number for a square. */
export type Size2 = number | readonly [number, number]

/** Options every random transform takes. */
export interface RandomOptions {
  /** The random source (default: core's default generator, seeded by `manualSeed`). */
  generator?: Generator
}

// ---- helpers ------------------------------------------------------------------------------------

/** An image tensor seen as N planes of C x H x W (N = 1 for a CHW image). */
interface Images {
  src: FloatArray
  n: number
  c: number
  h: number
  w: number
  batched: boolean
}

function images(x: Tensor, what: string): Images {
  if (!(x instanceof Tensor)) throw new ArgumentError(`${what}: expected an image tensor, got ${typeof x}`)
  if (x.dtype !== 'float32' && x.dtype !== 'float64')
    throw new DTypeError(`${what}: expected float32 or float64 pixels, got ${x.dtype}`)
  if (x.rank !== 3 && x.rank !== 4)
    throw new ShapeError(
      `${what}: expected an image (C, H, W) or a batch (N, C, H, W), got shape [${x.shape.join(', ')}]`,
    )
  const [n, c, h, w] = (x.rank === 4 ? x.shape : [1, ...x.shape]) as [number, number, number, number]
  return { src: x.data as FloatArray, n, c, h, w, batched: x.rank === 4 }
}

const alloc = (like: FloatArray, size: number): FloatArray =>
  like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size)

function output(im: Images, out: FloatArray, h = im.h, w = im.w, c = im.c): Tensor {
  return new Tensor(out, im.batched ? [im.n, c, h, w] : [c, h, w])
}

function size2(s: Size2, what: string): [number, number] {
  const [h, w] = typeof s === 'number' ? [s, s] : s
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1)
    throw new ArgumentError(`${what}: size must be positive integers, got ${String(s)}`)
  return [h, w]
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v)
const uniform = (g: Generator, lo: number, hi: number) => lo + (hi - lo) * g.random()

function range(v: readonly [number, number], what: string): void {
  if (!(v[0] <= v[1])) throw new ArgumentError(`${what}: expected [min, max] with min <= max, got [${v.join(', ')}]`)
}

/**
 * ITU-R 601 luma.
 * NOTE: 0.2989 rather than 0.299 for red, as torchvision's rgb_to_grayscale, so contrast and
 * saturation match torchvision's tensor transforms to float precision.
 */
const luma = (r: number, g: number, b: number) => 0.2989 * r + 0.587 * g + 0.114 * b

/** Apply `fn` to each image (C x H x W block) of a batch, writing into a new array of the same size. */
function perImage(
  x: Tensor,
  what: string,
  fn: (src: FloatArray, dst: FloatArray, im: Images, index: number) => void,
): Tensor {
  const im = images(x, what)
  const per = im.c * im.h * im.w
  const out = alloc(im.src, im.src.length)
  for (let i = 0; i < im.n; i++)
    fn(im.src.subarray(i * per, (i + 1) * per), out.subarray(i * per, (i + 1) * per), im, i)
  return output(im, out)
}

/** Compose transforms left to right: `compose(flip, crop)(x) = crop(flip(x))`. */
export const compose =
  (...fns: ((x: Tensor) => Tensor)[]) =>
  (x: Tensor): Tensor =>
    fns.reduce((acc, f) => f(acc), x)

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

// ---- geometry -----------------------------------------------------------------------------------

/** Mirror left to right (the last axis). */
export function hflip(x: Tensor): Tensor {
  return perImage(x, 'hflip', (src, dst, { c, h, w }) => {
    for (let r = 0; r < c * h; r++) for (let j = 0; j < w; j++) dst[r * w + j] = src[r * w + w - 1 - j]!
  })
}

/** Mirror top to bottom. */
export function vflip(x: Tensor): Tensor {
  return perImage(x, 'vflip', (src, dst, { c, h, w }) => {
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < h; i++)
        dst.set(src.subarray((ch * h + h - 1 - i) * w, (ch * h + h - i) * w), (ch * h + i) * w)
  })
}

/** Flip each image horizontally with probability p (default 0.5). */
export function randomHorizontalFlip(
  x: Tensor,
  { p = 0.5, generator = defaultGenerator }: RandomOptions & { p?: number } = {},
): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`)
  return perImage(x, 'randomHorizontalFlip', (src, dst, { c, h, w }) => {
    if (generator.random() < p)
      for (let r = 0; r < c * h; r++) for (let j = 0; j < w; j++) dst[r * w + j] = src[r * w + w - 1 - j]!
    else dst.set(src)
  })
}

export type PaddingMode = 'constant' | 'edge' | 'reflect'

/** Index into [0, n) for a coordinate outside it: clamped ('edge') or mirrored without repeating the border ('reflect'). */
function borderIndex(i: number, n: number, mode: 'edge' | 'reflect'): number {
  if (mode === 'edge' || n === 1) return i < 0 ? 0 : i >= n ? n - 1 : i
  const period = 2 * (n - 1)
  i = ((i % period) + period) % period
  return i < n ? i : period - i
}

export interface RandomCropOptions extends RandomOptions {
  /** Pixels added on every side before cropping (default 0). */
  padding?: number
  /** How the padding is filled (default 'constant'). */
  paddingMode?: PaddingMode
  /** Value of constant padding (default 0). */
  fill?: number
}

/**
 * Pad by `padding` on each side, then cut a `size` window at a random position (the CIFAR recipe
 * of the ResNet paper: pad 4, crop 32x32). Each image of a batch gets its own window.
 */
export function randomCrop(
  x: Tensor,
  size: Size2,
  { padding = 0, paddingMode = 'constant', fill = 0, generator = defaultGenerator }: RandomCropOptions = {},
): Tensor {
  const im = images(x, 'randomCrop')
  const [oh, ow] = size2(size, 'randomCrop')
  if (!Number.isInteger(padding) || padding < 0)
    throw new ArgumentError(`randomCrop: padding must be a non-negative integer, got ${padding}`)
  if (paddingMode === 'reflect' && padding >= Math.min(im.h, im.w))
    throw new ArgumentError(
      `randomCrop: reflect padding must be smaller than the image (${im.h}x${im.w}), got ${padding}`,
    )
  const ph = im.h + 2 * padding
  const pw = im.w + 2 * padding
  if (oh > ph || ow > pw)
    throw new ShapeError(`randomCrop: crop ${oh}x${ow} is larger than the padded image ${ph}x${pw}`)
  const out = alloc(im.src, im.n * im.c * oh * ow)
  for (let n = 0; n < im.n; n++) {
    const top = generator.int(ph - oh + 1) - padding
    const left = generator.int(pw - ow + 1) - padding
    for (let ch = 0; ch < im.c; ch++) {
      const plane = (n * im.c + ch) * im.h * im.w
      const dst = (n * im.c + ch) * oh * ow
      for (let i = 0; i < oh; i++) {
        let y = top + i
        const yIn = y >= 0 && y < im.h
        if (!yIn && paddingMode !== 'constant') y = borderIndex(y, im.h, paddingMode)
        for (let j = 0; j < ow; j++) {
          let xx = left + j
          const xIn = xx >= 0 && xx < im.w
          if (paddingMode === 'constant' && !(xIn && yIn)) {
            out[dst + i * ow + j] = fill
            continue
          }
          if (!xIn) xx = borderIndex(xx, im.w, paddingMode as 'edge' | 'reflect')
          out[dst + i * ow + j] = im.src[plane + y * im.w + xx]!
        }
      }
    }
  }
  return output(im, out, oh, ow)
}

/**
 * Bilinear resampling of the window (top, left, height, width) of one plane into an (oh, ow) plane,
 * with PyTorch's half-pixel convention (align_corners=False, no antialiasing): output pixel j samples
 * the window at (j + 0.5) * width / ow - 0.5.
 * NOTE: source coordinates below 0 are clamped to 0 and the upper neighbour to the last row/column,
 * as torch.nn.functional.interpolate does, so borders are not blended with anything outside the window.
 */
function resampleBilinear(
  src: FloatArray,
  srcW: number,
  top: number,
  left: number,
  height: number,
  width: number,
  dst: FloatArray,
  dstOffset: number,
  oh: number,
  ow: number,
): void {
  const sy = height / oh
  const sx = width / ow
  const x0s = new Int32Array(ow)
  const x1s = new Int32Array(ow)
  const lxs = new Float64Array(ow)
  for (let j = 0; j < ow; j++) {
    const fx = Math.max(0, (j + 0.5) * sx - 0.5)
    const x0 = Math.min(Math.floor(fx), width - 1)
    x0s[j] = left + x0
    x1s[j] = left + Math.min(x0 + 1, width - 1)
    lxs[j] = fx - x0
  }
  for (let i = 0; i < oh; i++) {
    const fy = Math.max(0, (i + 0.5) * sy - 0.5)
    const y0 = Math.min(Math.floor(fy), height - 1)
    const ly = fy - y0
    const r0 = (top + y0) * srcW
    const r1 = (top + Math.min(y0 + 1, height - 1)) * srcW
    for (let j = 0; j < ow; j++) {
      const lx = lxs[j]!
      const a = src[r0 + x0s[j]!]! * (1 - lx) + src[r0 + x1s[j]!]! * lx
      const b = src[r1 + x0s[j]!]! * (1 - lx) + src[r1 + x1s[j]!]! * lx
      dst[dstOffset + i * ow + j] = a * (1 - ly) + b * ly
    }
  }
}

/** Bilinear resize to `size` (PyTorch's interpolate(mode='bilinear', align_corners=False)). */
export function resize(x: Tensor, size: Size2): Tensor {
  const im = images(x, 'resize')
  const [oh, ow] = size2(size, 'resize')
  const out = alloc(im.src, im.n * im.c * oh * ow)
  for (let p = 0; p < im.n * im.c; p++)
    resampleBilinear(im.src.subarray(p * im.h * im.w), im.w, 0, 0, im.h, im.w, out, p * oh * ow, oh, ow)
  return output(im, out, oh, ow)
}

/** A crop window [top, left, height, width] in pixels. */
export type CropBox = [top: number, left: number, height: number, width: number]

export interface RandomResizedCropOptions extends RandomOptions {
  /** Range of the crop's area as a fraction of the image's (default [0.08, 1]). */
  scale?: readonly [number, number]
  /** Range of the crop's aspect ratio width / height, sampled log-uniformly (default [3/4, 4/3]). */
  ratio?: readonly [number, number]
}

/**
 * The window of a random resized crop, as torchvision draws it: up to ten tries of an area fraction
 * uniform in `scale` and an aspect ratio log-uniform in `ratio`; a window that fits is placed
 * uniformly. When none fits, the largest centred window whose ratio is within `ratio`.
 */
export function randomResizedCropBox(
  h: number,
  w: number,
  { scale = [0.08, 1], ratio = [3 / 4, 4 / 3], generator = defaultGenerator }: RandomResizedCropOptions = {},
): CropBox {
  range(scale, 'randomResizedCrop scale')
  range(ratio, 'randomResizedCrop ratio')
  if (!(scale[0] > 0 && ratio[0] > 0))
    throw new ArgumentError(
      `randomResizedCrop: scale and ratio must be positive, got [${scale.join(', ')}] and [${ratio.join(', ')}]`,
    )
  const area = h * w
  const [logLo, logHi] = [Math.log(ratio[0]), Math.log(ratio[1])]
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * uniform(generator, scale[0], scale[1])
    const aspect = Math.exp(uniform(generator, logLo, logHi))
    const cw = Math.round(Math.sqrt(target * aspect))
    const chh = Math.round(Math.sqrt(target / aspect))
    if (cw > 0 && cw <= w && chh > 0 && chh <= h)
      return [generator.int(h - chh + 1), generator.int(w - cw + 1), chh, cw]
  }
  // Fallback: a centred crop with the ratio clamped into range.
  const inRatio = w / h
  let [cw, chh] = [w, h]
  if (inRatio < ratio[0]) chh = Math.round(w / ratio[0])
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1])
  return [Math.floor((h - chh) / 2), Math.floor((w - cw) / 2), chh, cw]
}

/**
 * Cut a random window (area and aspect ratio drawn as in `randomResizedCropBox`) and resize it to
 * `size` bilinearly: the "Inception crop" that torchvision's ImageNet recipe uses, often 224x224.
 */
export function randomResizedCrop(x: Tensor, size: Size2, opts: RandomResizedCropOptions = {}): Tensor {
  const im = images(x, 'randomResizedCrop')
  const [oh, ow] = size2(size, 'randomResizedCrop')
  const out = alloc(im.src, im.n * im.c * oh * ow)
  for (let n = 0; n < im.n; n++) {
    const [top, left, ch, cw] = randomResizedCropBox(im.h, im.w, opts)
    for (let c = 0; c < im.c; c++) {
      const p = n * im.c + c
      resampleBilinear(im.src.subarray(p * im.h * im.w), im.w, top, left, ch, cw, out, p * oh * ow, oh, ow)
    }
  }
  return output(im, out, oh, ow)
}

// ---- colour -------------------------------------------------------------------------------------

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

// ---- occlusion and mixing -----------------------------------------------------------------------

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

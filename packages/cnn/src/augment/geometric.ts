/**
 * Geometric augmentations: flips, random crops with padding (the CIFAR recipe of the ResNet paper,
 * He et al. 2015, https://arxiv.org/abs/1512.03385), bilinear resizing, and the random resized crop
 * of GoogLeNet/Inception (Szegedy et al. 2014, https://arxiv.org/abs/1409.4842; torchvision's
 * RandomResizedCrop). See https://d2l.ai/chapter_computer-vision/image-augmentation.html.
 */
import { ArgumentError, ShapeError, type Tensor, defaultGenerator } from '@refnets/core'
import {
  type FloatArray,
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

/** Write the `rows` rows of width `w` in `src` into `dst`, each reversed. */
function mirrorRows(src: FloatArray, dst: FloatArray, rows: number, w: number): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) dst[r * w + j] = src[r * w + w - 1 - j]!
}

/** Mirror left to right (the last axis). */
export function hflip(x: Tensor): Tensor {
  return perImage(x, 'hflip', (src, dst, { c, h, w }) => mirrorRows(src, dst, c * h, w))
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
    if (generator.random() < p) mirrorRows(src, dst, c * h, w)
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

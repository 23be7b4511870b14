/**
 * Image files to tensors and back: PNG (through pngjs) and baseline JPEG (through jpeg-js), both
 * plain JavaScript. Decoding gives a float32 CHW tensor with values in [0, 1] (bytes / 255), the
 * layout every model here takes; encoding clamps to [0, 1] and rounds to bytes.
 *
 * pngjs uses Node's zlib, so this module is a separate entry point, `@refnets/cnn/image`, for Node
 * (or a bundler with Node polyfills); the main entry stays free of Node built-ins.
 */
import { ArgumentError, DTypeError, RefnetsError, ShapeError, Tensor } from '@refnets/core'
import jpeg from 'jpeg-js'
import pngjs from 'pngjs'

const { PNG } = pngjs

/** The bytes are not an image format we can read, or the file is damaged. */
export class ImageFormatError extends RefnetsError {
  override name = 'ImageFormatError'
}

export type ImageFormat = 'png' | 'jpeg'

/** Channels of a decoded image: 1 grey, 3 RGB, 4 RGBA. */
export type Channels = 1 | 3 | 4

export interface DecodeOptions {
  /** Channels of the result (default 3: RGB; alpha is dropped, grey is repeated). */
  channels?: Channels
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** The format, from the first bytes (the file's magic number), or null. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png'
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg'
  return null
}

function asBytes(bytes: Uint8Array | ArrayBuffer, what: string): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes)
  if (bytes instanceof Uint8Array) return bytes
  throw new ArgumentError(`${what}: expected a Uint8Array or ArrayBuffer of file bytes, got ${typeof bytes}`)
}

/** Decode PNG or JPEG bytes (detected by magic number) to a float32 (C, H, W) tensor in [0, 1]. */
export function decodeImage(bytes: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Tensor {
  const b = asBytes(bytes, 'decodeImage')
  const format = detectImageFormat(b)
  if (format === 'png') return decodePng(b, opts)
  if (format === 'jpeg') return decodeJpeg(b, opts)
  const head = [...b.subarray(0, 8)].map((v) => v.toString(16).padStart(2, '0')).join(' ')
  throw new ImageFormatError(
    `decodeImage: expected PNG (89 50 4e 47 ...) or JPEG (ff d8 ff ...) bytes, got ${b.length ? head : 'no bytes'}`,
  )
}

/** Decode PNG bytes (any bit depth or colour type; 16-bit is scaled to 8) to (C, H, W) in [0, 1]. */
export function decodePng(bytes: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Tensor {
  const b = asBytes(bytes, 'decodePng')
  if (detectImageFormat(b) !== 'png')
    throw new ImageFormatError('decodePng: not PNG data (the 8-byte PNG signature is missing)')
  let png: { width: number; height: number; data: Uint8Array }
  try {
    png = PNG.sync.read(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  } catch (e) {
    throw new ImageFormatError(`decodePng: damaged PNG data: ${(e as Error).message}`)
  }
  return fromRgba(png.data, png.height, png.width, opts.channels ?? 3, 'decodePng')
}

/** Decode baseline or progressive JPEG bytes to (C, H, W) in [0, 1]. */
export function decodeJpeg(bytes: Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Tensor {
  const b = asBytes(bytes, 'decodeJpeg')
  if (detectImageFormat(b) !== 'jpeg') throw new ImageFormatError('decodeJpeg: not JPEG data (no SOI marker ff d8 ff)')
  let img: { width: number; height: number; data: Uint8Array }
  try {
    img = jpeg.decode(b, { useTArray: true, formatAsRGBA: true })
  } catch (e) {
    throw new ImageFormatError(`decodeJpeg: damaged JPEG data: ${(e as Error).message}`)
  }
  return fromRgba(img.data, img.height, img.width, opts.channels ?? 3, 'decodeJpeg')
}

/** RGBA bytes (H, W, 4) to a float32 (C, H, W) tensor in [0, 1]. */
function fromRgba(rgba: Uint8Array, h: number, w: number, channels: Channels, what: string): Tensor {
  if (channels !== 1 && channels !== 3 && channels !== 4)
    throw new ArgumentError(`${what}: channels must be 1, 3 or 4, got ${channels}`)
  const hw = h * w
  const out = new Float32Array(channels * hw)
  for (let i = 0; i < hw; i++) {
    const r = rgba[4 * i]!
    const g = rgba[4 * i + 1]!
    const bl = rgba[4 * i + 2]!
    if (channels === 1) {
      // ITU-R 601 luma, as PIL's convert('L').
      out[i] = (0.299 * r + 0.587 * g + 0.114 * bl) / 255
      continue
    }
    out[i] = r / 255
    out[hw + i] = g / 255
    out[2 * hw + i] = bl / 255
    if (channels === 4) out[3 * hw + i] = rgba[4 * i + 3]! / 255
  }
  return new Tensor(out, [channels, h, w])
}

/** A (C, H, W) or (1, C, H, W) float tensor with C in 1, 3, 4 to RGBA bytes (clamped to [0, 1], rounded). */
function toRgba(t: Tensor, what: string): { rgba: Uint8Array; c: number; h: number; w: number } {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${what}: expected a tensor, got ${typeof t}`)
  if (t.dtype !== 'float32' && t.dtype !== 'float64')
    throw new DTypeError(`${what}: expected float pixels in [0, 1], got ${t.dtype}`)
  const shape = t.rank === 4 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape
  if (shape.length !== 3 || ![1, 3, 4].includes(shape[0]!))
    throw new ShapeError(
      `${what}: expected an image (C, H, W) or (1, C, H, W) with C = 1, 3 or 4, got shape [${t.shape.join(', ')}]`,
    )
  const [c, h, w] = shape as [number, number, number]
  const src = t.data
  const hw = h * w
  const rgba = new Uint8Array(4 * hw)
  // NaN turns into 0 when stored in the Uint8Array.
  const byte = (v: number) => Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255)
  for (let i = 0; i < hw; i++) {
    for (let k = 0; k < 3; k++) rgba[4 * i + k] = byte(src[(c === 1 ? 0 : k) * hw + i]!)
    rgba[4 * i + 3] = c === 4 ? byte(src[3 * hw + i]!) : 255
  }
  return { rgba, c, h, w }
}

/** Encode a (C, H, W) image in [0, 1] (C = 1 grey, 3 RGB, 4 RGBA) as 8-bit PNG bytes. */
export function encodePng(t: Tensor): Uint8Array {
  const { rgba, c, h, w } = toRgba(t, 'encodePng')
  const png = new PNG({ width: w, height: h })
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength)
  const colorType = c === 1 ? 0 : c === 3 ? 2 : 6
  const buf = PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true })
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** Encode a (C, H, W) image in [0, 1] (C = 1 or 3; alpha is dropped) as JPEG bytes at `quality` 1..100 (default 90). */
export function encodeJpeg(t: Tensor, quality = 90): Uint8Array {
  if (!(quality >= 1 && quality <= 100))
    throw new ArgumentError(`encodeJpeg: quality must be in [1, 100], got ${quality}`)
  const { rgba, h, w } = toRgba(t, 'encodeJpeg')
  const out = jpeg.encode({ data: rgba, width: w, height: h }, quality)
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength)
}

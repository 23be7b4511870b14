import { ArgumentError, DTypeError, ShapeError, Tensor, tensor } from '@refnets/core'
import jpeg from 'jpeg-js'
import pngjs from 'pngjs'
import { describe, expect, it } from 'vitest'
import {
  ImageFormatError,
  decodeImage,
  decodeJpeg,
  decodePng,
  detectImageFormat,
  encodeJpeg,
  encodePng,
} from '../src/image.js'

const { PNG } = pngjs

/** A 3x2 RGBA PNG written with pngjs directly: red, green, blue / white, black, half-transparent grey. */
function referencePng(): Uint8Array {
  const png = new PNG({ width: 3, height: 2 })
  const pixels = [
    [255, 0, 0, 255],
    [0, 255, 0, 255],
    [0, 0, 255, 255],
    [255, 255, 255, 255],
    [0, 0, 0, 255],
    [51, 51, 51, 128],
  ]
  pixels.forEach((p, i) => {
    png.data.set(p, 4 * i)
  })
  return new Uint8Array(PNG.sync.write(png))
}

describe('decode', () => {
  it('PNG bytes become a float32 (C, H, W) tensor in [0, 1]', () => {
    const bytes = referencePng()
    expect(detectImageFormat(bytes)).toBe('png')
    const rgb = decodeImage(bytes)
    expect(rgb.dtype).toBe('float32')
    expect(rgb.shape).toEqual([3, 2, 3])
    expect(rgb.toArray()).toEqual(
      [
        [
          [1, 0, 0],
          [1, 0, 0.2],
        ],
        [
          [0, 1, 0],
          [1, 0, 0.2],
        ],
        [
          [0, 0, 1],
          [1, 0, 0.2],
        ],
      ].map((ch) => ch.map((row) => row.map((v) => Math.fround(v)))),
    )
    const rgba = decodePng(bytes, { channels: 4 })
    expect(rgba.shape).toEqual([4, 2, 3])
    expect(Array.from(rgba.slice(0, 3, 4).data)).toEqual([1, 1, 1, 1, 1, 128 / 255].map(Math.fround))
    const grey = decodePng(bytes, { channels: 1 })
    expect(grey.shape).toEqual([1, 2, 3])
    expect(grey.data[0]).toBeCloseTo(0.299, 6)
    expect(grey.data[1]).toBeCloseTo(0.587, 6)
    expect(grey.data[3]).toBeCloseTo(1, 6)
  })

  it('JPEG bytes (encoded with jpeg-js) decode close to the original colours', () => {
    // A 16x8 image in two flat 8x8 halves: JPEG is lossy, but flat blocks come back within a few levels.
    const w = 16
    const h = 8
    const data = new Uint8Array(w * h * 4)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) data.set(x < 8 ? [200, 40, 90, 255] : [10, 120, 250, 255], 4 * (y * w + x))
    const bytes = new Uint8Array(jpeg.encode({ data, width: w, height: h }, 95).data)
    expect(detectImageFormat(bytes)).toBe('jpeg')
    const t = decodeImage(bytes)
    expect(t.shape).toEqual([3, h, w])
    const at = (c: number, y: number, x: number) => t.data[(c * h + y) * w + x]! * 255
    for (const [x, want] of [
      [2, [200, 40, 90]],
      [13, [10, 120, 250]],
    ] as const)
      for (let c = 0; c < 3; c++) expect(Math.abs(at(c, 4, x) - want[c]!)).toBeLessThan(6)
    expect(decodeJpeg(bytes, { channels: 1 }).shape).toEqual([1, h, w])
  })

  it('unknown or damaged bytes fail with ImageFormatError', () => {
    const gif = new TextEncoder().encode('GIF89a....')
    expect(detectImageFormat(gif)).toBeNull()
    expect(() => decodeImage(gif)).toThrow(ImageFormatError)
    expect(() => decodeImage(gif)).toThrow(/expected PNG .* or JPEG .* got 47 49 46 38 39 61/)
    expect(() => decodeImage(new Uint8Array(0))).toThrow(ImageFormatError)
    expect(() => decodePng(new Uint8Array([0xff, 0xd8, 0xff, 0]))).toThrow(ImageFormatError)
    const truncated = referencePng().slice(0, 40)
    expect(() => decodeImage(truncated)).toThrow(ImageFormatError)
    expect(() => decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 2]))).toThrow(ImageFormatError)
    expect(() => decodePng(referencePng(), { channels: 2 as 1 })).toThrow(ArgumentError)
  })
})

describe('encode', () => {
  it('PNG round trip is exact for byte-valued pixels, for 1, 3 and 4 channels', () => {
    for (const c of [1, 3, 4] as const) {
      const h = 5
      const w = 4
      const vals = Float32Array.from({ length: c * h * w }, (_, i) => ((i * 37) % 256) / 255)
      const t = new Tensor(vals, [c, h, w])
      const bytes = encodePng(t)
      expect(detectImageFormat(bytes)).toBe('png')
      expect(Array.from(decodePng(bytes, { channels: c }).data)).toEqual(Array.from(vals))
    }
    // A batch of one is accepted; values are clamped to [0, 1].
    const out = decodePng(encodePng(tensor([[[[-1, 0.5, 2]], [[0, 0, 0]], [[1, 1, 1]]]])))
    expect(Array.from(out.slice(0, 0, 1).data)).toEqual([0, 128 / 255, 1].map(Math.fround))
  })

  it('JPEG encoding decodes back near the input', () => {
    const t = new Tensor(new Float32Array(3 * 8 * 8).fill(0.5), [3, 8, 8])
    const back = decodeImage(encodeJpeg(t, 90))
    for (const v of back.data) expect(Math.abs(v - 0.5)).toBeLessThan(0.02)
    expect(() => encodeJpeg(t, 0)).toThrow(ArgumentError)
  })

  it('rejects shapes and dtypes it cannot write', () => {
    expect(() => encodePng(new Tensor(new Float32Array(2 * 4), [2, 2, 2]))).toThrow(ShapeError)
    expect(() => encodePng(new Tensor(new Float32Array(2 * 3 * 4), [2, 3, 2, 2]))).toThrow(ShapeError)
    expect(() => encodePng(tensor(Int32Array.from([1, 2, 3]), { shape: [3, 1, 1] }))).toThrow(DTypeError)
  })
})

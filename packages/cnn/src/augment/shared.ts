/**
 * What the augmentation files share: the image view of a CHW/NCHW tensor and its checks, output
 * allocation, size and range arguments, the per-image loop, and `compose`.
 */
import { ArgumentError, DTypeError, type Generator, ShapeError, Tensor } from '@refnets/core'

export type FloatArray = Float32Array | Float64Array

/** [height, width], or one number for a square. */
export type Size2 = number | readonly [number, number]

/** Options every random transform takes. */
export interface RandomOptions {
  /** The random source (default: core's default generator, seeded by `manualSeed`). */
  generator?: Generator
}

/** An image tensor seen as N planes of C x H x W (N = 1 for a CHW image). */
export interface Images {
  src: FloatArray
  n: number
  c: number
  h: number
  w: number
  batched: boolean
}

/** View x as images, checking it is a float CHW image or NCHW batch; `what` names the caller in errors. */
export function images(x: Tensor, what: string): Images {
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

export const alloc = (like: FloatArray, size: number): FloatArray =>
  like instanceof Float64Array ? new Float64Array(size) : new Float32Array(size)

export function output(im: Images, out: FloatArray, h = im.h, w = im.w, c = im.c): Tensor {
  return new Tensor(out, im.batched ? [im.n, c, h, w] : [c, h, w])
}

export function size2(s: Size2, what: string): [number, number] {
  const [h, w] = typeof s === 'number' ? [s, s] : s
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1)
    throw new ArgumentError(`${what}: size must be positive integers, got ${String(s)}`)
  return [h, w]
}

export const uniform = (g: Generator, lo: number, hi: number) => lo + (hi - lo) * g.random()

export function range(v: readonly [number, number], what: string): void {
  if (!(v[0] <= v[1])) throw new ArgumentError(`${what}: expected [min, max] with min <= max, got [${v.join(', ')}]`)
}

/** Apply `fn` to each image (C x H x W block) of a batch, writing into a new array of the same size. */
export function perImage(
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

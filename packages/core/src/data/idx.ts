/**
 * The IDX file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header `0x00 0x00 <type> <ndims>`, ndims uint32 sizes, then the values in row-major order.
 * Pure parsing of bytes, so it runs in the browser too; file access lives in `data/node.ts`.
 */
import { ArgumentError } from '../errors.js'
import { Tensor } from '../tensor.js'

export interface Idx {
  dims: number[]
  /** The raw values (uint8 for images and labels). */
  values: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  8: { name: 'uint8', bytes: 1 },
  9: { name: 'int8', bytes: 1 },
  11: { name: 'int16', bytes: 2 },
  12: { name: 'int32', bytes: 4 },
  13: { name: 'float32', bytes: 4 },
  14: { name: 'float64', bytes: 8 },
}

export function parseIdx(bytes: Uint8Array, what = 'IDX data'): Idx {
  if (bytes.length < 4) throw new ArgumentError(`${what}: ${bytes.length} bytes is too short for an IDX header`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const type = bytes[2]!
  const nd = bytes[3]!
  const t = TYPES[type]
  if (bytes[0] !== 0 || bytes[1] !== 0 || !t)
    throw new ArgumentError(
      `${what}: not an IDX file (magic ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}); is it still gzipped?`,
    )
  const dims = Array.from({ length: nd }, (_, i) => dv.getUint32(4 + 4 * i))
  const count = dims.reduce((a, b) => a * b, 1)
  const start = 4 + 4 * nd
  if (bytes.length !== start + count * t.bytes)
    throw new ArgumentError(
      `${what}: header says ${dims.join('x')} ${t.name} values (${start + count * t.bytes} bytes), file has ${bytes.length} bytes`,
    )
  const read = (get: (o: number) => number) => Array.from({ length: count }, (_, i) => get(start + i * t.bytes))
  switch (t.name) {
    case 'uint8':
      return { dims, values: bytes.slice(start) }
    case 'int8':
      return { dims, values: new Int8Array(bytes.slice(start).buffer) }
    case 'int16':
      return { dims, values: Int16Array.from(read((o) => dv.getInt16(o))) }
    case 'int32':
      return { dims, values: Int32Array.from(read((o) => dv.getInt32(o))) }
    case 'float32':
      return { dims, values: Float32Array.from(read((o) => dv.getFloat32(o))) }
    default:
      return { dims, values: Float64Array.from(read((o) => dv.getFloat64(o))) }
  }
}

export interface ImageSet {
  /** float32 pixels in [0, 1]: (N, rows*cols) for layout 'flat', (N, 1, rows, cols) for 'nchw'. */
  images: Tensor
  /** int32 class labels, (N). */
  labels: Tensor
}

export interface ImageSetOptions {
  /** Keep only the first `limit` samples. */
  limit?: number
  /** 'flat' (default): (N, 784); 'nchw': (N, 1, 28, 28), for convolutional networks. */
  layout?: 'flat' | 'nchw'
}

/** Turn parsed IDX images (uint8) and labels into tensors: pixels scaled to [0, 1] by /255. */
export function idxToImageSet(
  images: Idx,
  labels: Idx,
  { limit, layout = 'flat' }: ImageSetOptions = {},
  what = 'dataset',
): ImageSet {
  if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0])
    throw new ArgumentError(
      `${what}: expected images (N, rows, cols) and labels (N), got ${images.dims.join('x')} and ${labels.dims.join('x')}`,
    )
  const [total, rows, cols] = images.dims as [number, number, number]
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new ArgumentError(`${what}: limit must be a positive integer, got ${limit}`)
  const n = Math.min(total, limit ?? total)
  const px = new Float32Array(n * rows * cols)
  for (let i = 0; i < px.length; i++) px[i] = images.values[i]! / 255
  const shape = layout === 'nchw' ? [n, 1, rows, cols] : [n, rows * cols]
  return { images: new Tensor(px, shape), labels: new Tensor(Int32Array.from(labels.values.subarray(0, n)), [n]) }
}

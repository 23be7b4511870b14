/**
 * Small helpers shared by the op files: allocation, scalar operands, broadcast strides, sumTo, and the
 * argument checks and views that several op families use.
 */
import { type DType, allocate, isFloat, promote } from '../dtype.js'
import { ArgumentError, DTypeError } from '../errors.js'
import type { FloatArray } from '../kernel-table.js'
import { type Shape, sameShape, sizeOf, stridesOf } from '../shape.js'
import { Tensor } from '../tensor.js'

export const empty = (dtype: DType, shape: Shape): Tensor => new Tensor(allocate(dtype, sizeOf(shape)), shape)

/** Turn a JS number into a 0-d tensor of `dtype`. */
export const constant = (v: number, dtype: DType): Tensor => {
  const d = allocate(dtype, 1)
  d[0] = v
  return new Tensor(d, [])
}

/** Bring two operands to one dtype (numbers take the tensor's dtype, as in PyTorch). */
export function operands(a: Tensor | number, b: Tensor | number): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') return [constant(a, 'float32'), constant(b, 'float32')]
  if (typeof a === 'number') {
    const bt = b as Tensor
    return [constant(a, Number.isInteger(a) || isFloat(bt.dtype) ? bt.dtype : 'float32'), bt]
  }
  if (typeof b === 'number') return [a, constant(b, Number.isInteger(b) || isFloat(a.dtype) ? a.dtype : 'float32')]
  if (a.dtype === b.dtype) return [a, b]
  const d = promote(a.dtype, b.dtype)
  return [a.dtype === d ? a : a.to(d), b.dtype === d ? b : b.to(d)]
}

/** Strides that read `shape` (right-aligned) as if broadcast to `outShape`: 0 along broadcast dims. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const s = stridesOf(shape)
  const off = outShape.length - shape.length
  return outShape.map((_d, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]!))
}

/** Sum a broadcast gradient back down to `shape` (the adjoint of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g
  const off = g.rank - shape.length
  const axes: number[] = []
  for (let i = 0; i < g.rank; i++) if (i < off || (shape[i - off] === 1 && g.shape[i] !== 1)) axes.push(i)
  const s = axes.length ? g.sum(axes, true) : g
  return s.reshape([...shape])
}

export function requireFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts)
    if (!isFloat(t.dtype)) throw new DTypeError(`${op} expects float32 or float64 input, got ${t.dtype}`)
}

/** A float tensor's storage, typed for the kernels (callers have checked the dtype). */
export const fa = (t: Tensor) => t.data as FloatArray

/** A 2-D option given as one integer or a pair ([h, w]), each at least `min`. */
export function pair(op: string, name: string, v: number | readonly number[], min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : [...v]
  if (p.length !== 2 || p.some((e) => !Number.isInteger(e) || e < min))
    throw new ArgumentError(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`)
  return p as [number, number]
}

/** Shape (1, C, 1, ...) that broadcasts a per-channel vector over x (N, C, ...). */
export const channelShape = (x: Tensor) => x.shape.map((d, i) => (i === 1 ? d : 1))

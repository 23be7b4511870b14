import { ArgumentError, ShapeError } from './errors.js'

export type Shape = readonly number[]

export function sizeOf(shape: Shape): number {
  let n = 1
  for (let i = 0; i < shape.length; i++) n *= shape[i]!
  return n
}

/**
 * shape[start, end) as a new array, negative indices counting from the end as in Array.prototype.slice. A
 * tensor's shape is a frozen array, and V8 runs slice and filter on frozen arrays by a generic path (~300 ns a
 * call against ~15 for this loop, which is most of a small op's cost): the ops slice shapes with this.
 */
export function subShape(shape: Shape, start = 0, end = shape.length): number[] {
  const n = shape.length
  const lo = start < 0 ? Math.max(0, n + start) : Math.min(start, n)
  const hi = end < 0 ? Math.max(0, n + end) : Math.min(end, n)
  const out: number[] = []
  for (let i = lo; i < hi; i++) out.push(shape[i]!)
  return out
}

/** The product of shape[start, end): sizeOf(subShape(shape, start, end)) without the array. */
export function sizeOfRange(shape: Shape, start: number, end = shape.length): number {
  let p = 1
  for (let i = Math.max(0, start); i < Math.min(end, shape.length); i++) p *= shape[i]!
  return p
}

/** Row-major (C order) strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s
    s *= shape[i]!
  }
  return strides
}

export const fmt = (shape: Shape): string => `[${shape.join(', ')}]`

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** NumPy broadcasting: align trailing dims; each pair must be equal or one of them 1. */
export function broadcastShapes(...shapes: Shape[]): Shape {
  // The same shape twice: that shape itself (a tensor's shape is frozen, so the output can share it).
  if (shapes.length === 2 && sameShape(shapes[0]!, shapes[1]!)) return shapes[0]!
  const rank = Math.max(...shapes.map((s) => s.length))
  const out = new Array<number>(rank).fill(1)
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i
      const d = s[i]!
      if (out[o] === 1) out[o] = d
      else if (d !== 1 && d !== out[o])
        throw new ShapeError(`cannot broadcast shapes ${shapes.map(fmt).join(' and ')}: dim ${o} is ${out[o]} vs ${d}`)
    }
  }
  return out
}

/** Turn a possibly negative axis into 0..rank-1, or throw. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1))
    throw new ArgumentError(
      `axis ${axis} is out of range for a tensor of rank ${rank} (expected ${-rank}..${rank - 1})`,
    )
  return a
}

export function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()]
  const list = typeof axes === 'number' ? [axes] : axes
  const out = [...new Set(list.map((a) => normAxis(a, rank)))]
  return out.sort((a, b) => a - b)
}

/** Resolve a reshape target with at most one -1. */
export function inferShape(target: Shape, size: number, from: Shape): number[] {
  const out = [...target]
  const neg = out.indexOf(-1)
  if (neg !== out.lastIndexOf(-1)) throw new ShapeError(`reshape to ${fmt(target)}: only one dimension may be -1`)
  const known = out.reduce((a, d, i) => (i === neg ? a : a * d), 1)
  if (neg >= 0) {
    if (known === 0 || size % known !== 0)
      throw new ShapeError(`cannot reshape ${fmt(from)} (${size} elements) to ${fmt(target)}`)
    out[neg] = size / known
  }
  if (sizeOf(out) !== size || out.some((d) => d < 0 || !Number.isInteger(d)))
    throw new ShapeError(`cannot reshape ${fmt(from)} (${size} elements) to ${fmt(target)}`)
  return out
}

/**
 * Shape ops. Reshape (of a dense tensor), transpose/permute, expand and slice are views: they share
 * storage and only change shape, strides and offset. Concat, pad and copies allocate.
 */
import { kernel } from '../backend.js'
import { type DType, allocate, toTypedArray } from '../dtype.js'
import { ArgumentError, ShapeError } from '../errors.js'
import { type OpDef, apply, applyMulti, defineOp } from '../op.js'
import {
  type Shape,
  fmt,
  inferShape,
  normAxes,
  normAxis,
  sameShape,
  sizeOf,
  sizeOfRange,
  subShape,
  stridesOf,
} from '../shape.js'
import { Tensor } from '../tensor.js'
import { empty } from './util.js'

/** A dense copy; exported as Identity. */
export const Identity = defineOp({
  name: 'Identity',
  forward: ([x]) => {
    const y = empty(x!.dtype, x!.shape)
    kernel('StridedCopy')(x!.storage, x!.offset, [...x!.shape], [...x!.strides], y.data)
    return y
  },
  backward: (dy) => [dy],
  onnx: 'Identity',
})
export const contiguousCopy = (x: Tensor) => apply(Identity, [x], {})
export const contiguous = contiguousCopy

const onnxType: Record<DType, number> = { float32: 1, float64: 11, int32: 6, bool: 9 }
export const Cast = defineOp<{ to: DType }>({
  name: 'Cast',
  forward: ([x], { to }) => new Tensor(toTypedArray(to, x!.data), x!.shape),
  backward: (dy, { inputs: [x] }) => [x!.dtype === 'float32' || x!.dtype === 'float64' ? dy.to(x!.dtype) : null],
  onnx: (ctx, [x], { attrs }) => ctx.node('Cast', [x!], { to: onnxType[attrs.to] }),
})
export const cast = (x: Tensor, to: DType) => (x.dtype === to ? x : apply(Cast, [x], { to }))

export const Reshape = defineOp<{ shape: number[] }>({
  name: 'Reshape',
  forward: ([x], { shape }) => {
    const src = x!.isContiguous ? x! : contiguousCopy(x!)
    return new Tensor(src.storage, shape, stridesOf(shape), src.offset)
  },
  backward: (dy, { inputs: [x] }) => [reshape(dy, [...x!.shape])],
  // NOTE: a leading 0 means "copy this dim from the input", so a dynamic batch axis survives export.
  onnx: (ctx, [x], { inputs: [t], attrs }) => {
    const target = attrs.shape.map((d, i) => (i === 0 && d === t!.shape[0] && t!.rank > 0 ? 0 : d))
    return ctx.node('Reshape', [x!, ctx.constant(target, 'int64')])
  },
})
export function reshape(x: Tensor, shape: Shape): Tensor {
  const target = inferShape(shape, x.size, x.shape)
  if (sameShape(target, x.shape)) return x
  return apply(Reshape, [x], { shape: target })
}

/** Flatten dims startDim..endDim into one (torch.flatten); exported as ONNX Flatten when it fits. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1])
  const s = normAxis(startDim, x.rank)
  const e = normAxis(endDim, x.rank)
  if (e < s) throw new ArgumentError(`flatten: endDim ${endDim} is before startDim ${startDim}`)
  const shape = [...subShape(x.shape, 0, s), sizeOfRange(x.shape, s, e + 1), ...subShape(x.shape, e + 1)]
  return s === 1 && e === x.rank - 1 ? apply(Flatten, [x], { shape }) : reshape(x, shape)
}
const Flatten = defineOp<{ shape: number[] }>({
  name: 'Flatten',
  forward: ([x], { shape }) => reshape(x!, shape),
  onnx: (ctx, [x]) => ctx.node('Flatten', [x!], { axis: 1 }),
})

export const squeeze = (x: Tensor, axes?: number | number[]): Tensor => {
  let ax: number[]
  if (axes !== undefined) ax = normAxes(axes, x.rank)
  else {
    ax = []
    for (let i = 0; i < x.rank; i++) if (x.shape[i] === 1) ax.push(i)
  }
  for (const a of ax) if (x.shape[a] !== 1) throw new ShapeError(`squeeze: dim ${a} of ${fmt(x.shape)} is not 1`)
  const shape: number[] = []
  for (let i = 0; i < x.rank; i++) if (!ax.includes(i)) shape.push(x.shape[i]!)
  return reshape(x, shape)
}
export const unsqueeze = (x: Tensor, axis: number): Tensor => {
  const a = normAxis(axis, x.rank + 1)
  return reshape(x, [...subShape(x.shape, 0, a), 1, ...subShape(x.shape, a)])
}

export const Transpose = defineOp<{ perm: number[] }>({
  name: 'Transpose',
  forward: ([x], { perm }) =>
    new Tensor(
      x!.storage,
      perm.map((p) => x!.shape[p]!),
      perm.map((p) => x!.strides[p]!),
      x!.offset,
    ),
  backward: (dy, { attrs }) => {
    const inv = new Array<number>(attrs.perm.length)
    attrs.perm.forEach((p, i) => {
      inv[p] = i
    })
    return [permute(dy, inv)]
  },
  onnx: 'Transpose',
})
export function permute(x: Tensor, perm: number[]): Tensor {
  // Loops rather than a Set and every(): a transpose is a per-op path (attention's q k^T, weight gradients).
  const p = perm.map((a) => normAxis(a, x.rank))
  let valid = p.length === x.rank
  let identity = true
  const seen = new Array<boolean>(x.rank).fill(false)
  for (let i = 0; i < p.length && valid; i++) {
    valid = !seen[p[i]!]
    seen[p[i]!] = true
    identity &&= p[i] === i
  }
  if (!valid)
    throw new ArgumentError(`permute: ${fmt(perm)} is not a permutation of the ${x.rank} dims of ${fmt(x.shape)}`)
  return identity ? x : apply(Transpose, [x], { perm: p })
}
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const perm: number[] = []
  for (let i = 0; i < x.rank; i++) perm.push(i)
  const a = normAxis(dim0, x.rank)
  const b = normAxis(dim1, x.rank)
  perm[a] = b
  perm[b] = a
  return permute(x, perm)
}

export const Expand = defineOp<{ shape: number[] }>({
  name: 'Expand',
  forward: ([x], { shape }) => {
    const off = shape.length - x!.rank
    const strides = shape.map((_d, i) => (i < off || x!.shape[i - off] === 1 ? 0 : x!.strides[i - off]!))
    return new Tensor(x!.storage, shape, strides, x!.offset)
  },
  backward: (dy, { inputs: [x] }) => {
    const off = dy.rank - x!.rank
    const axes = [...dy.shape.keys()].filter((i) => i < off || (x!.shape[i - off] === 1 && dy.shape[i] !== 1))
    return [reshape(dy.sum(axes, true), [...x!.shape])]
  },
  onnx: (ctx, [x], { attrs }) => ctx.node('Expand', [x!, ctx.constant(attrs.shape, 'int64')]),
})
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const off = shape.length - x.rank
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - off]! : d))
  let fits = off >= 0
  for (let i = 0; i < x.rank && fits; i++) fits = x.shape[i] === 1 || x.shape[i] === target[i + off]
  if (!fits) throw new ShapeError(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}`)
  return sameShape(target, x.shape) ? x : apply(Expand, [x], { shape: target })
}

type SAttrs = { starts: number[]; ends: number[]; axes: number[]; steps: number[] }

/** Clamp start/end as ONNX Slice does, for a dim of size n and a step. */
function clampRange(start: number, end: number, step: number, n: number): [number, number, number] {
  if (step === 0) throw new ArgumentError('slice step cannot be 0')
  let s = start < 0 ? start + n : start
  let e = end < 0 ? end + n : end
  if (step > 0) {
    s = Math.min(Math.max(s, 0), n)
    e = Math.min(Math.max(e, 0), n)
  } else {
    s = Math.min(Math.max(s, -1), n - 1)
    e = Math.min(Math.max(e, -1), n - 1)
  }
  const len = Math.max(0, Math.ceil((e - s) / step))
  return [s, e, len]
}

function sliceView(x: Tensor, { starts, axes, steps }: SAttrs, shape: number[]) {
  const strides = [...x.strides]
  let offset = x.offset
  axes.forEach((a, i) => {
    offset += starts[i]! * x.strides[a]!
    strides[a] = x.strides[a]! * steps[i]!
  })
  return { strides, offset, shape }
}

const sliceShape = (x: Tensor, { starts, ends, axes, steps }: SAttrs) => {
  const shape = [...x.shape]
  axes.forEach((a, i) => {
    shape[a] = clampRange(starts[i]!, ends[i]!, steps[i]!, x.shape[a]!)[2]
  })
  return shape
}

export const Slice: OpDef<SAttrs> = defineOp<SAttrs>({
  name: 'Slice',
  forward: ([x], attrs) => {
    const { strides, offset, shape } = sliceView(x!, attrs, sliceShape(x!, attrs))
    return new Tensor(x!.storage, shape, strides, shape.includes(0) ? 0 : offset)
  },
  backward: (dy, { inputs: [x], attrs }) => [apply(SliceScatter, [dy], { ...attrs, shape: [...x!.shape] })],
  onnx: (ctx, [x], { attrs }) =>
    ctx.node('Slice', [
      x!,
      ctx.constant(attrs.starts, 'int64'),
      ctx.constant(attrs.ends, 'int64'),
      ctx.constant(attrs.axes, 'int64'),
      ctx.constant(attrs.steps, 'int64'),
    ]),
})

/** The adjoint of Slice: zeros of `shape` with `dy` written into the sliced positions. */
const SliceScatter: OpDef<SAttrs & { shape: number[] }> = defineOp<SAttrs & { shape: number[] }>({
  name: 'SliceScatter',
  forward: ([dy], attrs) => {
    const y = empty(dy!.dtype, attrs.shape)
    if (dy!.size === 0) return y
    const { strides, offset } = sliceView(y, attrs, [...dy!.shape])
    kernel('StridedScatter')(dy!.data, y.data, offset, [...dy!.shape], strides)
    return y
  },
  backward: (ddy, { attrs }) => [apply(Slice, [ddy], attrs)],
})

/** ONNX-style slice over several axes; starts/ends are clamped like ONNX (and numpy). */
export function sliceAxes(x: Tensor, starts: number[], ends: number[], axes?: number[], steps?: number[]): Tensor {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank))
  const st = steps ?? ax.map(() => 1)
  const norm = ax.map((a, i) => clampRange(starts[i]!, ends[i]!, st[i]!, x.shape[a]!))
  // NOTE: a negative step that runs through index 0 ends at -1 once clamped, and a recorded -1 would be read
  // again (by Slice's forward and by ONNX Slice) as the last element; -1 - n clamps back to -1 instead.
  const end = (e: number, i: number) => (e < 0 ? e - x.shape[ax[i]!]! : e)
  return apply(Slice, [x], {
    starts: norm.map((n) => n[0]),
    ends: norm.map((n, i) => end(n[1], i)),
    axes: ax,
    steps: st,
  })
}

/** x[..., start:end:step, ...] along one axis (a view). */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const big = step > 0 ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER
  return sliceAxes(x, [start], [end ?? big], [axis], [step])
}

/** Select index i along an axis, dropping that axis (x[:, i]). */
export const select = (x: Tensor, axis: number, i: number): Tensor => {
  const a = normAxis(axis, x.rank)
  const n = x.shape[a]!
  if (i < -n || i >= n) throw new ArgumentError(`index ${i} is out of range for dim ${a} of size ${n}`)
  const j = i < 0 ? i + n : i
  return squeeze(slice(x, a, j, j + 1), a)
}

export const Concat = defineOp<{ axis: number }>({
  name: 'Concat',
  forward: (xs, { axis }) => {
    const shape = [...xs[0]!.shape]
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0)
    const y = empty(xs[0]!.dtype, shape)
    kernel('Concat')(
      xs.map((x) => x.data),
      xs.map((x) => [...x.shape]),
      axis,
      y.data,
    )
    return y
  },
  backward: (dy, { inputs, attrs }) => {
    let start = 0
    return inputs.map((x) => {
      const g = slice(dy, attrs.axis, start, start + x.shape[attrs.axis]!)
      start += x.shape[attrs.axis]!
      return g
    })
  },
  onnx: 'Concat',
})
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ArgumentError('concat needs at least one tensor')
  const a = normAxis(axis, xs[0]!.rank)
  for (const x of xs) {
    let same = x.rank === xs[0]!.rank
    for (let i = 0; i < x.rank && same; i++) same = i === a || x.shape[i] === xs[0]!.shape[i]
    if (!same)
      throw new ShapeError(
        `concat along axis ${a}: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ off that axis`,
      )
    if (x.dtype !== xs[0]!.dtype) throw new ShapeError(`concat: dtypes differ (${xs.map((t) => t.dtype).join(', ')})`)
  }
  return xs.length === 1 ? xs[0]! : apply(Concat, xs, { axis: a })
}
export const stack = (xs: Tensor[], axis = 0): Tensor => {
  if (xs.length === 0) throw new ArgumentError('stack needs at least one tensor')
  return concat(
    xs.map((x) => unsqueeze(x, axis < 0 ? axis + xs[0]!.rank + 1 : axis)),
    axis < 0 ? axis + xs[0]!.rank + 1 : axis,
  )
}

/** Split into pieces of the given sizes (or `n` equal pieces); exported as one ONNX Split. */
export function split(x: Tensor, sizes: number | number[], axis = 0): Tensor[] {
  const a = normAxis(axis, x.rank)
  const n = x.shape[a]!
  const parts =
    typeof sizes === 'number'
      ? Array.from({ length: Math.ceil(n / sizes) }, (_, i) => Math.min(sizes, n - i * sizes))
      : sizes
  if (parts.reduce((s, p) => s + p, 0) !== n)
    throw new ShapeError(`split sizes ${fmt(parts)} do not add up to dim ${a} of ${fmt(x.shape)}`)
  return applyMulti(
    {
      name: 'Split',
      onnx: (ctx, [xn]) =>
        ctx.node('Split', [xn!, ctx.constant(parts, 'int64')], { axis: a }, { outputs: parts.length }),
    },
    [x],
    {},
    () => {
      let s = 0
      return parts.map((p) => {
        const start = s
        s += p
        return slice(x, a, start, s)
      })
    },
  )
}

type PAttrs = { pads: number[]; mode: 'constant' | 'reflect' | 'edge' | 'wrap'; value: number }
export const Pad: OpDef<PAttrs> = defineOp<PAttrs>({
  name: 'Pad',
  forward: ([x], { pads, mode, value }) => {
    const r = x!.rank
    const y = empty(
      x!.dtype,
      x!.shape.map((d, i) => d + pads[i]! + pads[i + r]!),
    )
    kernel('Pad')(x!.data, [...x!.shape], pads, mode, value, y.data)
    return y
  },
  backward: (dy, { attrs }) => {
    if (attrs.mode !== 'constant')
      throw new ArgumentError(`pad backward is implemented for mode 'constant' only, got '${attrs.mode}'`)
    return [apply(Pad, [dy], { ...attrs, pads: attrs.pads.map((p) => -p) })]
  },
  onnx: (ctx, [x], { inputs: [t], attrs }) => {
    const dt =
      t!.dtype === 'float64' ? 'float64' : t!.dtype === 'int32' ? 'int32' : t!.dtype === 'bool' ? 'bool' : 'float32'
    return ctx.node('Pad', [x!, ctx.constant(attrs.pads, 'int64'), ctx.constant([attrs.value], dt, [])], {
      mode: attrs.mode,
    })
  },
})
/**
 * Pad with ONNX-order pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (one begin and end per dim).
 */
export function pad(x: Tensor, pads: number[], mode: PAttrs['mode'] = 'constant', value = 0): Tensor {
  if (pads.length !== 2 * x.rank)
    throw new ArgumentError(`pad: expected ${2 * x.rank} pads for a rank-${x.rank} tensor, got ${pads.length}`)
  return apply(Pad, [x], { pads, mode, value })
}

/** A fresh tensor from raw values (no grad). */
export const fromValues = (dtype: DType, shape: Shape, values: ArrayLike<number>): Tensor => {
  const d = allocate(dtype, sizeOf(shape))
  d.set(values as ArrayLike<number>)
  return new Tensor(d, shape)
}

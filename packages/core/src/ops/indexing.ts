/** Indexing: gather / scatter along an axis, element-wise gather, one-hot, index select. */
import { kernel } from '../backend.js'
import { ArgumentError, DTypeError, ShapeError } from '../errors.js'
import { type OpDef, apply, defineOp } from '../op.js'
import { fmt, normAxis, subShape } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { empty } from './util.js'

/** Check integer indices are in [-n, n) and return them non-negative. */
function checkIndices(op: string, indices: Tensor, n: number): Int32Array {
  if (indices.dtype !== 'int32') throw new DTypeError(`${op}: indices must be int32, got ${indices.dtype}`)
  const src = indices.data as Int32Array
  const out = new Int32Array(src.length)
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!
    if (v < -n || v >= n) throw new ArgumentError(`${op}: index ${v} is out of range for a dim of size ${n}`)
    out[i] = v < 0 ? v + n : v
  }
  return out
}

export const Gather: OpDef<{ axis: number }> = defineOp<{ axis: number }>({
  name: 'Gather',
  forward: ([x, idx], { axis }) => {
    const n = x!.shape[axis]!
    const ix = checkIndices('gather', idx!, n)
    const y = empty(x!.dtype, [...subShape(x!.shape, 0, axis), ...idx!.shape, ...subShape(x!.shape, axis + 1)])
    kernel('Gather')(x!.data, [...x!.shape], axis, ix, y.data)
    return y
  },
  backward: (dy, { inputs: [x, idx], attrs }) => [
    apply(GatherGrad, [dy, idx!], { axis: attrs.axis, shape: [...x!.shape] }),
    null,
  ],
  onnx: 'Gather',
})

/** The adjoint of Gather: scatter-add dy into zeros of the input shape. */
const GatherGrad: OpDef<{ axis: number; shape: number[] }> = defineOp<{ axis: number; shape: number[] }>({
  name: 'GatherGrad',
  forward: ([dy, idx], { axis, shape }) => {
    const y = empty(dy!.dtype, shape)
    kernel('ScatterAdd')(dy!.data, shape, axis, checkIndices('gather', idx!, shape[axis]!), y.data)
    return y
  },
  backward: (ddy, { inputs: [, idx], attrs }) => [apply(Gather, [ddy, idx!], { axis: attrs.axis }), null],
})

/** Take slices along `axis` at `indices` (any shape; the axis is replaced by the index shape). */
export const gather = (x: Tensor, axis: number, indices: Tensor) =>
  apply(Gather, [x, indices], { axis: normAxis(axis, x.rank) })
export const indexSelect = gather
/** Rows of a table: the embedding lookup. */
export const embeddingLookup = (table: Tensor, ids: Tensor) => gather(table, 0, ids)

export const GatherElements = defineOp<{ axis: number }>({
  name: 'GatherElements',
  forward: ([x, idx], { axis }) => {
    const y = empty(x!.dtype, idx!.shape)
    kernel('GatherElements')(
      x!.data,
      [...x!.shape],
      axis,
      checkIndices('gatherElements', idx!, x!.shape[axis]!),
      [...idx!.shape],
      y.data,
    )
    return y
  },
  backward: (dy, { inputs: [x, idx], attrs }) => [scatterAdd(x!.zerosLike(), attrs.axis, idx!, dy), null],
  onnx: 'GatherElements',
})
/** out[i][j] = x[i][idx[i][j]] (axis 1), torch.gather / ONNX GatherElements. */
export function gatherElements(x: Tensor, axis: number, indices: Tensor): Tensor {
  const a = normAxis(axis, x.rank)
  if (indices.rank !== x.rank)
    throw new ShapeError(`gatherElements: indices rank ${indices.rank} differs from input rank ${x.rank}`)
  return apply(GatherElements, [x, indices], { axis: a })
}

/** base + updates scattered (added) at indices along axis (torch.scatter_add). */
export const ScatterElementsAdd = defineOp<{ axis: number }>({
  name: 'ScatterElements',
  forward: ([base, idx, upd], { axis }) => {
    const out = empty(base!.dtype, base!.shape)
    out.data.set(base!.data)
    kernel('ScatterElementsAdd')(
      upd!.data,
      [...base!.shape],
      axis,
      checkIndices('scatterAdd', idx!, base!.shape[axis]!),
      [...idx!.shape],
      out.data,
    )
    return out
  },
  backward: (dy, { inputs: [, idx], attrs }) => [dy, null, gatherElements(dy, attrs.axis, idx!)],
  onnx: (ctx, [b, i, u], { attrs }) =>
    ctx.node('ScatterElements', [b!, i!, u!], { axis: attrs.axis, reduction: 'add' }),
})
export function scatterAdd(base: Tensor, axis: number, indices: Tensor, updates: Tensor): Tensor {
  if (indices.rank !== updates.rank || indices.shape.some((d, i) => d !== updates.shape[i]))
    throw new ShapeError(
      `scatterAdd: indices ${fmt(indices.shape)} and updates ${fmt(updates.shape)} must have the same shape`,
    )
  return apply(ScatterElementsAdd, [base, indices, updates], { axis: normAxis(axis, base.rank) })
}

/** One-hot encoding of int32 labels into `numClasses` columns (float32 by default). */
export function oneHot(labels: Tensor, numClasses: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const ix = checkIndices('oneHot', labels, numClasses)
  const y = empty(dtype, [...labels.shape, numClasses])
  const d = y.data
  for (let i = 0; i < ix.length; i++) d[i * numClasses + ix[i]!] = 1
  return y
}

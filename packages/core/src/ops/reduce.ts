/** Reductions over axes (sum, mean, max, min, prod, variance) and arg-reductions. */
import { kernel } from '../backend.js'
import type { ReduceOpName } from '../kernel-table.js'
import { type LoweringContext, type OpDef, apply, defineOp } from '../op.js'
import { normAxes, normAxis, sizeOf } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { empty } from './util.js'

type RAttrs = { axes: number[]; keepdims: boolean }

const keptShape = (shape: readonly number[], axes: number[]) => shape.map((d, i) => (axes.includes(i) ? 1 : d))
function outShape(shape: readonly number[], axes: number[], keepdims: boolean): number[] {
  if (keepdims) return keptShape(shape, axes)
  // A loop, not filter: shapes are frozen, and filter on a frozen array is slow (shape.ts subShape).
  const out: number[] = []
  for (let i = 0; i < shape.length; i++) if (!axes.includes(i)) out.push(shape[i]!)
  return out
}

/** Reduce* lowering: opset >= 18 (ReduceSum >= 13) takes axes as an input, older opsets an attribute. */
function lowerReduce(opType: string, axesAsInputSince: number) {
  return (ctx: LoweringContext, [x]: string[], { attrs }: { attrs: RAttrs }) => {
    const keepdims = attrs.keepdims ? 1 : 0
    if (ctx.opset >= axesAsInputSince) return ctx.node(opType, [x!, ctx.constant(attrs.axes, 'int64')], { keepdims })
    return ctx.node(opType, [x!], { axes: attrs.axes, keepdims })
  }
}

function reduceOp(name: ReduceOpName, backward: OpDef<RAttrs>['backward'], since: number): OpDef<RAttrs> {
  return defineOp<RAttrs>({
    name,
    forward: ([x], { axes, keepdims }) => {
      const y = empty(x!.dtype, keptShape(x!.shape, axes))
      kernel(name)(x!.data, [...x!.shape], axes, y.data)
      return keepdims ? y : y.reshape(outShape(x!.shape, axes, false))
    },
    backward,
    onnx: lowerReduce(name, since),
  })
}

/** Gradient of a reduction: broadcast dy back over the reduced axes. */
const spread = (dy: Tensor, x: Tensor, axes: number[]) => dy.reshape(keptShape(x.shape, axes)).expand(...x.shape)

export const ReduceSum = reduceOp('ReduceSum', (dy, { inputs: [x], attrs }) => [spread(dy, x!, attrs.axes)], 13)
// The max (min) takes the gradient; ties share it evenly, as PyTorch's amax does.
const extremumGrad: OpDef<RAttrs>['backward'] = (dy, { inputs: [x], output, attrs }) => {
  const mask = x!.eq(output.reshape(keptShape(x!.shape, attrs.axes))).to(dy.dtype)
  const count = mask.sum(attrs.axes, true)
  return [spread(dy, x!, attrs.axes).mul(mask).div(count)]
}
export const ReduceMax = reduceOp('ReduceMax', extremumGrad, 18)
export const ReduceMin = reduceOp('ReduceMin', extremumGrad, 18)
export const ReduceProd = reduceOp(
  'ReduceProd',
  (dy, { inputs: [x], output, attrs }) => [spread(dy.mul(output), x!, attrs.axes).div(x!)],
  18,
)

const r =
  (op: OpDef<RAttrs>) =>
  (x: Tensor, axes?: number | number[], keepdims = false) =>
    apply(op, [x], { axes: normAxes(axes, x.rank), keepdims })
export const sum = r(ReduceSum)
export const max = r(ReduceMax)
export const min = r(ReduceMin)
export const prod = r(ReduceProd)

export const ReduceMean = defineOp<RAttrs>({
  name: 'ReduceMean',
  forward: ([x], { axes, keepdims }) => {
    const n = sizeOf(axes.map((a) => x!.shape[a]!))
    return sum(x!, axes, keepdims).div(n)
  },
  onnx: lowerReduce('ReduceMean', 18),
})
export const mean = (x: Tensor, axes?: number | number[], keepdims = false) =>
  apply(ReduceMean, [x], { axes: normAxes(axes, x.rank), keepdims })

/** Variance with `correction` (0: population, 1: unbiased). Composite: exports as its parts. */
export function variance(x: Tensor, axes?: number | number[], keepdims = false, correction = 0): Tensor {
  const ax = normAxes(axes, x.rank)
  const n = sizeOf(ax.map((a) => x.shape[a]!))
  const d = x.sub(mean(x, ax, true))
  return sum(d.mul(d), ax, keepdims).div(Math.max(n - correction, 0))
}

type AAttrs = { axis: number; keepdims: boolean; selectLastIndex: boolean }
function argOp(name: 'ArgMax' | 'ArgMin'): OpDef<AAttrs> {
  return defineOp<AAttrs>({
    name,
    forward: ([x], { axis, keepdims, selectLastIndex }) => {
      const shape = [...x!.shape]
      shape[axis] = 1
      const y = empty('int32', shape)
      kernel(name)(x!.data, [...x!.shape], axis, y.data as Int32Array, selectLastIndex)
      return keepdims ? y : y.reshape(shape.filter((_, i) => i !== axis))
    },
    backward: () => [null],
    // ONNX gives int64 indices; we keep int32 inside the graph, so cast right after.
    onnx: (ctx, [x], { attrs }) => {
      const [i] = ctx.node(name, [x!], {
        axis: attrs.axis,
        keepdims: attrs.keepdims ? 1 : 0,
        select_last_index: attrs.selectLastIndex ? 1 : 0,
      })
      return ctx.node('Cast', [i!], { to: 6 })
    },
  })
}
export const ArgMax = argOp('ArgMax')
export const ArgMin = argOp('ArgMin')
export const argmax = (x: Tensor, axis = -1, keepdims = false, selectLastIndex = false) =>
  apply(ArgMax, [x], { axis: normAxis(axis, x.rank), keepdims, selectLastIndex })
export const argmin = (x: Tensor, axis = -1, keepdims = false, selectLastIndex = false) =>
  apply(ArgMin, [x], { axis: normAxis(axis, x.rank), keepdims, selectLastIndex })

type CAttrs = { axis: number; exclusive: boolean; reverse: boolean }
export const CumSum: OpDef<CAttrs> = defineOp<CAttrs>({
  name: 'CumSum',
  forward: ([x], { axis, exclusive, reverse }) => {
    const y = empty(x!.dtype, x!.shape)
    kernel('CumSum')(x!.data, [...x!.shape], axis, exclusive, reverse, y.data)
    return y
  },
  // The adjoint of a cumulative sum is the cumulative sum in the other direction.
  backward: (dy, { attrs }) => [apply(CumSum, [dy], { ...attrs, reverse: !attrs.reverse })],
  onnx: (ctx, [x], { attrs }) =>
    ctx.node('CumSum', [x!, ctx.constant([attrs.axis], 'int64', [])], {
      exclusive: attrs.exclusive ? 1 : 0,
      reverse: attrs.reverse ? 1 : 0,
    }),
})
export const cumsum = (x: Tensor, axis: number, exclusive = false, reverse = false) =>
  apply(CumSum, [x], { axis: normAxis(axis, x.rank), exclusive, reverse })

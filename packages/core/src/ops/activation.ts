/**
 * Composite activations and the softmax family: written from primitives (so backward comes free),
 * each with its ONNX lowering so it exports as the native operator.
 */
import { kernel } from '../backend.js'
import { isFloat } from '../dtype.js'
import { apply, defineOp } from '../op.js'
import { normAxis, sizeOfRange } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { Mish, sigmoid, where } from './elementwise.js'
import { empty, fa } from './util.js'

/** x seen as (outer, n, inner) around `axis`: the shape a softmax kernel walks. */
function lines(x: Tensor, axis: number): [number, number, number] {
  const outer = sizeOfRange(x.shape, 0, axis)
  const inner = sizeOfRange(x.shape, axis + 1)
  return [outer, x.shape[axis]!, inner]
}

/** Run a softmax-family kernel over x (integer inputs computed in float32). */
function softmaxKernel(name: 'Softmax' | 'LogSoftmax', x: Tensor, axis: number): Tensor {
  const xf = isFloat(x.dtype) ? x : x.to('float32')
  const y = empty(xf.dtype, xf.shape)
  kernel(name)(fa(xf), ...lines(xf, axis), fa(y))
  return y
}

/**
 * NOTE: softmax subtracts the line's max before exp (it cancels in the ratio), so logits of magnitude 1e4
 * stay finite; a naive exp would overflow to Infinity/Infinity = NaN. One kernel pass; the backward,
 * dx = y (dy - sum(dy y)), is written with ops.
 */
export const Softmax = defineOp<{ axis: number }>({
  name: 'Softmax',
  forward: ([x], { axis }) => softmaxKernel('Softmax', x!, axis),
  backward: (dy, { output: y, attrs: { axis } }) => [y.mul(dy.sub(dy.mul(y).sum(axis, true)))],
  onnx: (ctx, [x], { attrs }) => ctx.node('Softmax', [x!], { axis: attrs.axis }),
})
export const softmax = (x: Tensor, axis = -1) => apply(Softmax, [x], { axis: normAxis(axis, x.rank) })

/** log softmax = (x - m) - log sum exp(x - m), stable for any magnitude; dx = dy - e^y sum(dy). */
export const LogSoftmax = defineOp<{ axis: number }>({
  name: 'LogSoftmax',
  forward: ([x], { axis }) => softmaxKernel('LogSoftmax', x!, axis),
  backward: (dy, { output: y, attrs: { axis } }) => [dy.sub(y.exp().mul(dy.sum(axis, true)))],
  onnx: (ctx, [x], { attrs }) => ctx.node('LogSoftmax', [x!], { axis: attrs.axis }),
})
export const logSoftmax = (x: Tensor, axis = -1) => apply(LogSoftmax, [x], { axis: normAxis(axis, x.rank) })

export function logSumExp(x: Tensor, axis = -1, keepdims = false): Tensor {
  const m = x.max(axis, true).detach()
  const y = x.sub(m).exp().sum(axis, true).log().add(m)
  return keepdims ? y : y.squeeze(axis)
}

/** SiLU / Swish: x * sigmoid(x) (Ramachandran et al. 2017). Exports as Mul(x, Sigmoid(x)). */
export const silu = (x: Tensor) => x.mul(sigmoid(x))

/** Mish: x * tanh(softplus(x)) (Misra 2019); one kernel pass (elementwise.ts Mish). */
export const mish = (x: Tensor) => apply(Mish, [x], {})

/** PReLU: max(0,x) + a min(0,x) with a learned slope `a` (He et al. 2015), broadcast over channels. */
export const PRelu = defineOp({
  name: 'PRelu',
  forward: ([x, a]) => where(x!.ge(0), x!, x!.mul(a!)),
  onnx: 'PRelu',
})
export const prelu = (x: Tensor, slope: Tensor) => apply(PRelu, [x, slope], {})

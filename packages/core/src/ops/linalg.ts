/** Matrix multiplication (batched, broadcasting batch dims, 1-D operands as in numpy). */
import { kernel } from '../backend.js'
import type { FloatArray } from '../kernel-table.js'
import { ShapeError } from '../errors.js'
import { apply, defineOp } from '../op.js'
import { broadcastShapes, fmt, sameShape, sizeOf, subShape } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { expand, squeeze, transpose, unsqueeze } from './shape.js'
import { empty, requireFloat, sumTo } from './util.js'

/**
 * A MatMul operand and its batch stride: it either has the full batch (stride rows * cols) or none of it
 * (stride 0); else it is expanded to the full batch. (A function of its own, not a closure made per call.)
 */
function batchOperand(t: Tensor, batch: readonly number[], rows: number, cols: number): [Tensor, number] {
  const tb = subShape(t.shape, 0, -2)
  if (sizeOf(tb) === 1) return [t, 0]
  if (sameShape(tb, batch)) return [t, rows * cols]
  return [expand(t, [...batch, rows, cols]).contiguous(), rows * cols]
}

export const MatMul = defineOp({
  name: 'MatMul',
  forward: ([a, b]) => {
    const [m, k] = [a!.shape[a!.rank - 2]!, a!.shape[a!.rank - 1]!]
    const n = b!.shape[b!.rank - 1]!
    const batch = broadcastShapes(subShape(a!.shape, 0, -2), subShape(b!.shape, 0, -2))
    const nb = sizeOf(batch)
    const y = empty(a!.dtype, [...batch, m, n])
    // b the transposed view of a dense (n, k) matrix (x @ W^T in Linear and in backward passes):
    // the kernel reads it in place (or copies it, where that is faster: its choice).
    const bt = b!.rank === 2 && !b!.isContiguous ? transpose(b!, 0, 1) : null
    if (bt?.isContiguous) {
      const [A, as] = batchOperand(a!, batch, m, k)
      kernel('MatMulTransB')(A.data as FloatArray, bt.data as FloatArray, y.data as FloatArray, m, k, n, nb, as)
      return y
    }
    const [B, bs] = batchOperand(b!, batch, k, n)
    // a the transposed view of a dense (..., k, m) array (x^T dy in weight gradients): read in place too.
    const at = a!.isContiguous ? null : transpose(a!, -1, -2)
    if (at?.isContiguous) {
      const [At, as] = batchOperand(at, batch, k, m)
      kernel('MatMulTransA')(At.data as FloatArray, B.data as FloatArray, y.data as FloatArray, m, k, n, nb, as, bs)
      return y
    }
    const [A, as] = batchOperand(a!, batch, m, k)
    kernel('MatMul')(A.data as FloatArray, B.data as FloatArray, y.data as FloatArray, m, k, n, nb, as, bs)
    return y
  },
  backward: (dy, { inputs: [a, b] }) => [
    a!.requiresGrad ? sumTo(matmul(dy, transpose(b!, -1, -2)), a!.shape) : null,
    b!.requiresGrad ? sumTo(matmul(transpose(a!, -1, -2), dy), b!.shape) : null,
  ],
  onnx: 'MatMul',
})

/** a @ b with numpy semantics: 1-D operands are promoted to matrices and the added dim removed. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a, b)
  if (a.dtype !== b.dtype) b = b.to(a.dtype)
  if (a.rank === 0 || b.rank === 0)
    throw new ShapeError(`matmul needs at least 1-D operands, got ${fmt(a.shape)} and ${fmt(b.shape)}`)
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a
  const b2 = b.rank === 1 ? unsqueeze(b, 1) : b
  if (a2.shape[a2.rank - 1] !== b2.shape[b2.rank - 2])
    throw new ShapeError(
      `matmul: inner dimensions differ, ${fmt(a.shape)} @ ${fmt(b.shape)} (${a2.shape[a2.rank - 1]} vs ${b2.shape[b2.rank - 2]})`,
    )
  let y = apply(MatMul, [a2, b2], {})
  if (a.rank === 1) y = squeeze(y, -2)
  if (b.rank === 1) y = squeeze(y, -1)
  return y
}

/**
 * y = x W^T + b, the affine map of nn.Linear (weight (out, in) as in PyTorch), as one primitive op: one
 * kernel call reads the weight rows in place (no transposed view, no separate bias pass), which is what a
 * small model's latency is made of. Exported as Gemm for 2-D x.
 */
export const Linear = defineOp<Record<string, never>>({
  name: 'Linear',
  forward: (inputs) => {
    const x = inputs[0]!
    const w = inputs[1]!
    const n = w.shape[0]!
    const k = w.shape[1]!
    const m = x.size / k
    const shape = subShape(x.shape)
    shape[shape.length - 1] = n
    const y = empty(x.dtype, shape)
    const out = y.data as FloatArray
    const bias = inputs.length > 2 ? (inputs[2]!.data as FloatArray) : null
    kernel('MatMulTransB')(x.data as FloatArray, w.data as FloatArray, out, m, k, n, 1, 0, bias)
    return y
  },
  backward: (dy, { inputs: [x, w, b] }) => {
    // (..., out) -> dx (..., in) = dy W; dW (out, in) = dy^T x over every leading index; db = sum of dy rows.
    const [n, k] = w!.shape as [number, number]
    const rows = dy.reshape([-1, n])
    return [
      x!.requiresGrad ? matmul(dy, w!) : null,
      w!.requiresGrad ? matmul(transpose(rows, 0, 1), x!.reshape([-1, k])) : null,
      b?.requiresGrad ? rows.sum(0) : null,
    ]
  },
  onnx: (ctx, [x, w, b], { inputs: [xt] }) => {
    if (xt!.rank === 2) return ctx.node('Gemm', b ? [x!, w!, b] : [x!, w!], { transB: 1 })
    const [wt] = ctx.node('Transpose', [w!], { perm: [1, 0] })
    const [y] = ctx.node('MatMul', [x!, wt!])
    return b ? ctx.node('Add', [y!, b]) : [y!]
  },
})
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  requireFloat('linear', x)
  if (weight.rank !== 2) throw new ShapeError(`linear: weight must be 2-D (out, in), got ${fmt(weight.shape)}`)
  if (x.rank === 0 || x.shape[x.rank - 1] !== weight.shape[1])
    throw new ShapeError(
      `linear: input has ${x.shape[x.rank - 1]} features (shape ${fmt(x.shape)}), weight expects ${weight.shape[1]} (weight ${fmt(weight.shape)})`,
    )
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]))
    throw new ShapeError(`linear: bias must have shape [${weight.shape[0]}], got ${fmt(bias.shape)}`)
  if (weight.dtype !== x.dtype) weight = weight.to(x.dtype)
  if (bias && bias.dtype !== x.dtype) bias = bias.to(x.dtype)
  return apply(Linear, bias ? [x, weight, bias] : [x, weight], {})
}

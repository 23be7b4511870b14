/**
 * ONNX ops that map directly onto refnets ops: element-wise math, comparisons, matmul/Gemm,
 * reductions, shape manipulation, indexing, softmax family, normalisation, constants.
 */
import * as F from '../ops/index.js'
import { apply } from '../op.js'
import { broadcastShapes, sizeOf } from '../shape.js'
import { Tensor, scalar, tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrFloat, attrInt, attrInts, attrString, input, ints, optional } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'
import { tensorProtoToTensor } from './values.js'
import type { TensorProto } from './proto.js'

const unary =
  (f: (x: Tensor) => Tensor): OnnxOpImpl =>
  (ctx) =>
    f(input(ctx, 0))
const unaryAttr =
  (f: (x: Tensor, ctx: NodeContext) => Tensor): OnnxOpImpl =>
  (ctx) =>
    f(input(ctx, 0), ctx)
const binary =
  (f: (a: Tensor, b: Tensor) => Tensor): OnnxOpImpl =>
  (ctx) =>
    f(input(ctx, 0), input(ctx, 1))

/** Integer Div truncates in ONNX for integer types; floats divide. */
function div(a: Tensor, b: Tensor): Tensor {
  return a.dtype === 'int32' ? F.div(a, b).to('int32') : F.div(a, b)
}

/** Reduce axes: an attribute before `sinceInput`, else the optional second input. */
function reduceAxes(ctx: NodeContext, _x: Tensor, sinceInput: number): number[] | undefined {
  const axes = ctx.opset >= sinceInput ? ints(optional(ctx, 1)) : attrInts(ctx, 'axes')
  if (axes?.length) return axes
  return attrInt(ctx, 'noop_with_empty_axes', 0) ? [] : undefined
}

function reduce(f: (x: Tensor, axes: number[] | undefined, keep: boolean) => Tensor, sinceInput = 18): OnnxOpImpl {
  return (ctx) => {
    const x = input(ctx, 0)
    const axes = reduceAxes(ctx, x, sinceInput)
    if (axes && axes.length === 0) return x
    return f(x, axes, attrInt(ctx, 'keepdims', 1) === 1)
  }
}

/** Softmax-family: opset >= 13 works on one axis; earlier opsets flatten to 2-D at `axis`. */
function softmaxLike(f: (x: Tensor, axis: number) => Tensor): OnnxOpImpl {
  return (ctx) => {
    const x = input(ctx, 0)
    if (ctx.opset >= 13) return f(x, attrInt(ctx, 'axis', -1))
    const axis = attrInt(ctx, 'axis', 1)
    const a = axis < 0 ? axis + x.rank : axis
    return f(x.reshape(sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))), 1).reshape([...x.shape])
  }
}

function gemm(ctx: NodeContext): Tensor {
  let a = input(ctx, 0)
  let b = input(ctx, 1)
  const c = optional(ctx, 2)
  if (attrInt(ctx, 'transA', 0)) a = a.transpose(0, 1)
  if (attrInt(ctx, 'transB', 0)) b = b.transpose(0, 1)
  let y = F.matmul(a, b).mul(attrFloat(ctx, 'alpha', 1))
  if (c) y = y.add(c.mul(attrFloat(ctx, 'beta', 1)))
  return y
}

function reshape(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const shape = ints(input(ctx, 1))!
  const allowZero = attrInt(ctx, 'allowzero', 0)
  // 0 copies the input dim (unless allowzero), -1 is inferred.
  const target = shape.map((d, i) => (d === 0 && !allowZero ? x.shape[i]! : d))
  return F.reshape(x, target)
}

function split(ctx: NodeContext): Tensor[] {
  const x = input(ctx, 0)
  const axis = attrInt(ctx, 'axis', 0)
  const a = axis < 0 ? axis + x.rank : axis
  let sizes = ctx.opset >= 13 ? ints(optional(ctx, 1)) : attrInts(ctx, 'split')
  if (!sizes) {
    const n = ctx.opset >= 18 ? attrInt(ctx, 'num_outputs', ctx.outputCount) : ctx.outputCount
    const chunk = Math.ceil(x.shape[a]! / n)
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, x.shape[a]! - i * chunk)))
  }
  return F.split(x, sizes, a)
}

function slice(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const starts = ints(input(ctx, 1))!
  const ends = ints(input(ctx, 2))!
  const axes = ints(optional(ctx, 3)) ?? starts.map((_, i) => i)
  const steps = ints(optional(ctx, 4)) ?? starts.map(() => 1)
  return F.sliceAxes(x, starts, ends, axes, steps)
}

function pad(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const mode = attrString(ctx, 'mode', 'constant') as 'constant' | 'reflect' | 'edge' | 'wrap'
  let pads = ctx.opset >= 11 ? ints(input(ctx, 1))! : attrInts(ctx, 'pads')!
  const value = ctx.opset >= 11 ? (optional(ctx, 2)?.item() ?? 0) : attrFloat(ctx, 'value', 0)
  const axes = ints(optional(ctx, 3))
  if (axes) {
    const full = new Array<number>(2 * x.rank).fill(0)
    axes.forEach((ax, i) => {
      const a = ax < 0 ? ax + x.rank : ax
      full[a] = pads[i]!
      full[a + x.rank] = pads[i + axes.length]!
    })
    pads = full
  }
  return F.pad(x, pads, mode, value)
}

function squeeze(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const axes = ctx.opset >= 13 ? ints(optional(ctx, 1)) : attrInts(ctx, 'axes')
  return F.squeeze(x, axes)
}

function unsqueeze(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const axes = (ctx.opset >= 13 ? ints(input(ctx, 1)) : attrInts(ctx, 'axes'))!
  const rank = x.rank + axes.length
  const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q)
  const shape = [...x.shape]
  for (const a of norm) shape.splice(a, 0, 1)
  return F.reshape(x, shape)
}

function clip(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const lo = ctx.opset >= 11 ? optional(ctx, 1)?.item() : (ctx.attrs.min as number | undefined)
  const hi = ctx.opset >= 11 ? optional(ctx, 2)?.item() : (ctx.attrs.max as number | undefined)
  return F.clamp(x, lo, hi)
}

function expand(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const shape = ints(input(ctx, 1))!
  // ONNX Expand broadcasts both ways (a 1 in `shape` keeps the input dim).
  const out = broadcastShapes(x.shape, shape)
  return F.expand(x, out).contiguous()
}

function tile(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const reps = ints(input(ctx, 1))!
  let y = x
  reps.forEach((r, a) => {
    if (r !== 1)
      y = F.concat(
        Array.from({ length: r }, () => y),
        a,
      )
  })
  return y === x ? x.clone() : y
}

function constantOfShape(ctx: NodeContext): Tensor {
  const shape = ints(input(ctx, 0))!
  const value = ctx.attrs.value ? tensorProtoToTensor(ctx.attrs.value as TensorProto) : undefined
  return F.full(shape, value ? value.data[0]! : 0, { dtype: value?.dtype ?? 'float32' })
}

function constant(ctx: NodeContext): Tensor {
  const a = ctx.attrs
  if (a.value) return tensorProtoToTensor(a.value as TensorProto)
  if (a.value_float !== undefined) return scalar(Number(a.value_float))
  if (a.value_floats !== undefined) return tensor(a.value_floats as number[])
  if (a.value_int !== undefined) return scalar(Number(a.value_int), 'int32')
  if (a.value_ints !== undefined) return tensor((a.value_ints as number[]).map(Number), { dtype: 'int32' })
  throw new OnnxImportError('Constant: no supported value attribute (value, value_float(s), value_int(s))')
}

function shape(ctx: NodeContext): Tensor {
  const x = input(ctx, 0)
  const r = x.rank
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r)
  const start = norm(attrInt(ctx, 'start', 0))
  const end = norm(attrInt(ctx, 'end', r))
  return tensor(x.shape.slice(start, Math.max(start, end)), { dtype: 'int32', shape: [Math.max(0, end - start)] })
}

function range(ctx: NodeContext): Tensor {
  const [s, l, d] = [0, 1, 2].map((i) => input(ctx, i).item())
  const dtype = input(ctx, 0).dtype
  const n = Math.max(Math.ceil((l! - s!) / d!), 0)
  return tensor(
    Array.from({ length: n }, (_, i) => s! + i * d!),
    { dtype, shape: [n] },
  )
}

function argExtremum(f: typeof F.argmax): OnnxOpImpl {
  return (ctx) => {
    const x = input(ctx, 0)
    return f(x, attrInt(ctx, 'axis', 0), attrInt(ctx, 'keepdims', 1) === 1, attrInt(ctx, 'select_last_index', 0) === 1)
  }
}

/**
 * Inference: normalise with the given mean/var. Training mode (opset 14+: training_mode=1) uses the
 * batch statistics and also returns running_mean/var = input * momentum + batch * (1 - momentum),
 * with the population variance, as the ONNX spec defines.
 */
function batchNormalization(ctx: NodeContext): Tensor[] {
  const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => input(ctx, i))
  const eps = attrFloat(ctx, 'epsilon', 1e-5)
  const shape = x!.shape.map((d, i) => (i === 1 ? d : 1))
  const training = attrInt(ctx, 'training_mode', 0) === 1
  const axes = x!.shape.map((_, i) => i).filter((i) => i !== 1)
  const m = training ? x!.mean(axes, true) : mean!.reshape(shape)
  const v = training ? x!.sub(m).square().mean(axes, true) : variance!.reshape(shape)
  const y = x!.sub(m).div(v.add(eps).sqrt()).mul(scale!.reshape(shape)).add(bias!.reshape(shape))
  if (!training) return [y]
  const momentum = attrFloat(ctx, 'momentum', 0.9)
  const runMean = mean!.mul(momentum).add(m.reshape([...mean!.shape]).mul(1 - momentum))
  const runVar = variance!.mul(momentum).add(v.reshape([...variance!.shape]).mul(1 - momentum))
  return [y, runMean, runVar]
}

function layerNormalization(ctx: NodeContext): Tensor[] {
  const x = input(ctx, 0)
  const scale = input(ctx, 1)
  const bias = optional(ctx, 2)
  const axis = attrInt(ctx, 'axis', -1)
  const a = axis < 0 ? axis + x.rank : axis
  const eps = attrFloat(ctx, 'epsilon', 1e-5)
  const axes = Array.from({ length: x.rank - a }, (_, i) => a + i)
  const mean = x.mean(axes, true)
  const d = x.sub(mean)
  const invStd = d.mul(d).mean(axes, true).add(eps).sqrt().pow(-1)
  let y = d.mul(invStd).mul(scale)
  if (bias) y = y.add(bias)
  return [y, mean, invStd]
}

function dropout(ctx: NodeContext): Tensor[] {
  const x = input(ctx, 0)
  const ratio = ctx.opset >= 12 ? (optional(ctx, 1)?.item() ?? 0.5) : attrFloat(ctx, 'ratio', 0.5)
  const training = ctx.opset >= 12 ? (optional(ctx, 2)?.item() ?? 0) !== 0 : false
  if (!training || ratio === 0) return [x.clone(), F.ones([...x.shape], { dtype: 'bool' })]
  const keep = F.bernoulli([...x.shape], 1 - ratio).to('bool')
  return [F.where(keep, x.div(1 - ratio), 0), keep]
}

function topK(ctx: NodeContext): Tensor[] {
  const x = input(ctx, 0)
  const k = ints(input(ctx, 1))![0]!
  const axis = attrInt(ctx, 'axis', -1)
  const a = axis < 0 ? axis + x.rank : axis
  const largest = attrInt(ctx, 'largest', 1) === 1
  // Sort each line along `axis` (stable: ties keep the lower index first, as the ONNX spec asks).
  const xt = F.transpose(x, a, -1).contiguous()
  const n = xt.shape[xt.rank - 1]!
  const lines = xt.size / n
  const vals = xt.data
  const outV = new (vals.constructor as Float32ArrayConstructor)(lines * k)
  const outI = new Int32Array(lines * k)
  for (let l = 0; l < lines; l++) {
    const idx = Array.from({ length: n }, (_, i) => i)
    idx.sort((p, q) => {
      const d = largest ? vals[l * n + q]! - vals[l * n + p]! : vals[l * n + p]! - vals[l * n + q]!
      return d !== 0 ? d : p - q
    })
    for (let j = 0; j < k; j++) {
      outV[l * k + j] = vals[l * n + idx[j]!]!
      outI[l * k + j] = idx[j]!
    }
  }
  const shape = [...xt.shape.slice(0, -1), k]
  return [
    F.transpose(new Tensor(outV, shape), a, -1).contiguous(),
    F.transpose(new Tensor(outI, shape), a, -1).contiguous(),
  ]
}

export const basicOps: Record<string, OnnxOpImpl> = {
  Identity: (ctx) => ctx.inputs[0] ?? null,
  Neg: unary(F.neg),
  Abs: unary(F.abs),
  Exp: unary(F.exp),
  Log: unary(F.log),
  Sqrt: unary(F.sqrt),
  Sin: unary(F.sin),
  Cos: unary(F.cos),
  Tanh: unary(F.tanh),
  Sigmoid: unary(F.sigmoid),
  Relu: unary(F.relu),
  Erf: unary(F.erf),
  Sign: unary(F.sign),
  Floor: unary(F.floor),
  Ceil: unary(F.ceil),
  Round: unary(F.round),
  Reciprocal: unary(F.reciprocal),
  Softplus: unary(F.softplus),
  Not: unary(F.logicalNot),
  IsNaN: unary(F.isNaN),
  IsInf: unary(F.isInf),
  LeakyRelu: unaryAttr((x, c) => F.leakyRelu(x, attrFloat(c, 'alpha', 0.01))),
  Elu: unaryAttr((x, c) => F.elu(x, attrFloat(c, 'alpha', 1))),
  Selu: unaryAttr((x, c) =>
    apply(F.Selu, [x], {
      alpha: attrFloat(c, 'alpha', 1.6732632423543772),
      gamma: attrFloat(c, 'gamma', 1.0507009873554805),
    }),
  ),
  Gelu: unaryAttr((x, c) => F.gelu(x, attrString(c, 'approximate', 'none') as 'none' | 'tanh')),
  HardSigmoid: unaryAttr((x, c) => F.hardSigmoid(x, attrFloat(c, 'alpha', 0.2), attrFloat(c, 'beta', 0.5))),
  Mish: unary(F.mish),
  Swish: unaryAttr((x, c) => x.mul(F.sigmoid(x.mul(attrFloat(c, 'alpha', 1))))),
  PRelu: binary(F.prelu),
  Add: binary(F.add),
  Sub: binary(F.sub),
  Mul: binary(F.mul),
  Div: binary(div),
  Pow: (ctx) => {
    const x = input(ctx, 0)
    const y = F.pow(x, input(ctx, 1).to(x.dtype))
    return y
  },
  Max: (ctx) => ctx.inputs.map((_, i) => input(ctx, i)).reduce((a, b) => F.maximum(a, b)),
  Min: (ctx) => ctx.inputs.map((_, i) => input(ctx, i)).reduce((a, b) => F.minimum(a, b)),
  Sum: (ctx) => ctx.inputs.map((_, i) => input(ctx, i)).reduce((a, b) => F.add(a, b)),
  Mean: (ctx) =>
    ctx.inputs
      .map((_, i) => input(ctx, i))
      .reduce((a, b) => F.add(a, b))
      .div(ctx.inputs.length),
  Equal: binary(F.equal),
  Less: binary(F.less),
  Greater: binary(F.greater),
  LessOrEqual: binary(F.lessEqual),
  GreaterOrEqual: binary(F.greaterEqual),
  And: binary(F.logicalAnd),
  Or: binary(F.logicalOr),
  Xor: binary(F.logicalXor),
  Where: (ctx) => F.where(input(ctx, 0), input(ctx, 1), input(ctx, 2)),
  Clip: clip,
  MatMul: binary(F.matmul),
  Gemm: gemm,
  ReduceSum: reduce((x, a, k) => F.sum(x, a, k), 13),
  ReduceMean: reduce((x, a, k) => F.mean(x, a, k)),
  ReduceMax: reduce((x, a, k) => F.max(x, a, k)),
  ReduceMin: reduce((x, a, k) => F.min(x, a, k)),
  ReduceProd: reduce((x, a, k) => F.prod(x, a, k)),
  ReduceSumSquare: reduce((x, a, k) => F.sum(x.mul(x), a, k)),
  ReduceL1: reduce((x, a, k) => F.sum(x.abs(), a, k)),
  ReduceL2: reduce((x, a, k) => F.sum(x.mul(x), a, k).sqrt()),
  ReduceLogSumExp: reduce((x, a, k) => F.sum(x.exp(), a, k).log()),
  ArgMax: argExtremum(F.argmax),
  ArgMin: argExtremum(F.argmin),
  CumSum: (ctx) =>
    F.cumsum(input(ctx, 0), input(ctx, 1).item(), attrInt(ctx, 'exclusive', 0) === 1, attrInt(ctx, 'reverse', 0) === 1),
  Softmax: softmaxLike(F.softmax),
  LogSoftmax: softmaxLike(F.logSoftmax),
  Reshape: reshape,
  Flatten: (ctx) => {
    const x = input(ctx, 0)
    const axis = attrInt(ctx, 'axis', 1)
    const a = axis < 0 ? axis + x.rank : axis
    return F.reshape(x, [sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))])
  },
  Transpose: (ctx) => {
    const x = input(ctx, 0)
    return F.permute(x, attrInts(ctx, 'perm') ?? [...x.shape.keys()].reverse()).contiguous()
  },
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Expand: expand,
  Tile: tile,
  Concat: (ctx) =>
    F.concat(
      ctx.inputs.map((_, i) => input(ctx, i)).filter((t) => t.size > 0 || ctx.inputs.length === 1),
      attrInt(ctx, 'axis', 0),
    ),
  Split: split,
  Slice: slice,
  Pad: pad,
  Gather: (ctx) => F.gather(input(ctx, 0), attrInt(ctx, 'axis', 0), input(ctx, 1)),
  GatherElements: (ctx) => F.gatherElements(input(ctx, 0), attrInt(ctx, 'axis', 0), input(ctx, 1)),
  Shape: shape,
  Size: (ctx) => scalar(input(ctx, 0).size, 'int32'),
  ConstantOfShape: constantOfShape,
  Constant: constant,
  Range: range,
  TopK: topK,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Dropout: dropout,
}

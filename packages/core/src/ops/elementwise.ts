/**
 * Element-wise ops: unary (with their derivatives, https://d2l.ai/chapter_multilayer-perceptrons/mlp.html) and
 * broadcasting binary ops. Each backward is written with ops, so it runs on every backend and can be differentiated
 * again.
 */
import { kernel } from '../backend.js'
import type { DType } from '../dtype.js'
import { ShapeError } from '../errors.js'
import type { BinaryOpName, FloatArray, UnaryOpName } from '../kernel-table.js'
import { type OpDef, apply, defineOp } from '../op.js'
import { broadcastShapes, fmt, sameShape } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { broadcastStrides, constant, empty, operands, sumTo } from './util.js'

type UAttrs = { alpha?: number; beta?: number; gamma?: number; approximate?: string }

/** A unary op: the `js` kernel maps the scalar function of the same name over the data. */
function unaryOp(
  name: UnaryOpName,
  backward: OpDef<UAttrs>['backward'],
  onnx: OpDef<UAttrs>['onnx'] = name,
  out?: DType,
): OpDef<UAttrs> {
  return defineOp<UAttrs>({
    name,
    forward: ([x], attrs) => {
      const y = empty(out ?? x!.dtype, x!.shape)
      kernel(name)(x!.data, y.data, attrs)
      return y
    },
    backward,
    onnx,
  })
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI)
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

export const Neg = unaryOp('Neg', (dy) => [dy.neg()])
export const Abs = unaryOp('Abs', (dy, { inputs: [x] }) => [dy.mul(sign(x!))])
export const Exp = unaryOp('Exp', (dy, { output }) => [dy.mul(output)])
export const Log = unaryOp('Log', (dy, { inputs: [x] }) => [dy.div(x!)])
export const Sqrt = unaryOp('Sqrt', (dy, { output }) => [dy.div(output.mul(2))])
export const Sin = unaryOp('Sin', (dy, { inputs: [x] }) => [dy.mul(cos(x!))])
export const Cos = unaryOp('Cos', (dy, { inputs: [x] }) => [dy.mul(sin(x!)).neg()])
// tanh' = 1 - a^2 (https://d2l.ai/chapter_multilayer-perceptrons/mlp.html)
export const Tanh = unaryOp('Tanh', (dy, { output }) => [dy.mul(output.mul(output).neg().add(1))])
// sigmoid' = a(1 - a) (https://d2l.ai/chapter_multilayer-perceptrons/mlp.html)
export const Sigmoid = unaryOp('Sigmoid', (dy, { output }) => [dy.mul(output.mul(output.neg().add(1)))])
export const Relu = unaryOp('Relu', (dy, { inputs: [x] }) => [reluGrad(dy, x!)])

/**
 * An activation's backward as one op and one kernel pass, dx = dy * f'(x) (`name` is both the op's and the kernel's),
 * and the function that applies it after checking that dy and x have one shape.
 */
function activationGrad(
  name: 'ReluGrad' | 'GeluGrad',
  backward: NonNullable<OpDef<Record<string, never>>['backward']>,
): (dy: Tensor, x: Tensor) => Tensor {
  const op = defineOp({
    name,
    forward: ([dy, x]) => {
      const dx = empty(dy!.dtype, dy!.shape)
      kernel(name)(dy!.data as FloatArray, x!.to(dy!.dtype).data as FloatArray, dx.data as FloatArray)
      return dx
    },
    backward,
  })
  const fn = name === 'ReluGrad' ? 'reluGrad' : 'geluGrad'
  return (dy, x) => {
    if (!sameShape(dy.shape, x.shape))
      throw new ShapeError(`${fn}: dy has shape ${fmt(dy.shape)} but x has shape ${fmt(x.shape)}; they must match`)
    return apply(op, [dy, x], {})
  }
}

/**
 * dy where x > 0, else dy * 0 (ReLU's gradient for input x and output gradient dy; shapes must match): one pass
 * (unfused it was a comparison, a cast and a product, each a full pass with its own allocation). Linear in dy,
 * so its gradient is itself.
 */
export const reluGrad: (dy: Tensor, x: Tensor) => Tensor = activationGrad('ReluGrad', (g, { inputs: [, x] }) => [
  reluGrad(g, x!),
  null,
])

/**
 * Exact GELU's gradient dy * (Phi(x) + x phi(x)) for input x and output gradient dy, in one pass (written with
 * ops it was eleven). Its own gradient: with respect to dy the same factor; with respect to x, dy phi(x) (2 - x^2).
 */
export const geluGrad: (dy: Tensor, x: Tensor) => Tensor = activationGrad('GeluGrad', (g, { inputs: [dy, x] }) => {
  const X = x!
  const pdf = X.mul(X).mul(-0.5).exp().mul(INV_SQRT_2PI)
  return [
    dy!.requiresGrad ? geluGrad(g, X) : null,
    X.requiresGrad ? g.mul(dy!).mul(pdf.mul(X.mul(X).neg().add(2))) : null,
  ]
})

export const Erf = unaryOp('Erf', (dy, { inputs: [x] }) => [
  dy.mul(
    x!
      .mul(x!)
      .neg()
      .exp()
      .mul(2 / Math.sqrt(Math.PI)),
  ),
])
export const Sign = unaryOp('Sign', () => [null])
export const Floor = unaryOp('Floor', () => [null])
export const Ceil = unaryOp('Ceil', () => [null])
export const Round = unaryOp('Round', () => [null])
export const Reciprocal = unaryOp('Reciprocal', (dy, { output }) => [dy.mul(output.mul(output)).neg()])
// softplus' = sigmoid
export const Softplus = unaryOp('Softplus', (dy, { inputs: [x] }) => [dy.mul(sigmoid(x!))])
// Mish (Misra 2019): x tanh(softplus(x)) in one kernel pass. With t = tanh(softplus(x)),
// mish' = t + x (1 - t^2) sigmoid(x) (softplus' = sigmoid). ONNX Mish exists from opset 18.
export const Mish = unaryOp(
  'Mish',
  (dy, { inputs: [x] }) => {
    const t = tanh(softplus(x!))
    return [dy.mul(t.add(x!.mul(t.mul(t).neg().add(1)).mul(sigmoid(x!))))]
  },
  (ctx, [x]) => {
    ctx.requireOpset(18)
    return ctx.node('Mish', [x!])
  },
)
export const LeakyRelu = unaryOp('LeakyRelu', (dy, { inputs: [x], attrs }) => [
  dy.mul(where(x!.ge(0), constant(1, dy.dtype), constant(attrs.alpha ?? 0.01, dy.dtype))),
])
// elu' = 1 for x > 0, else alpha e^x = y + alpha
export const Elu = unaryOp('Elu', (dy, { inputs: [x], output, attrs }) => [
  dy.mul(where(x!.gt(0), constant(1, dy.dtype), output.add(attrs.alpha ?? 1))),
])
export const Selu = unaryOp('Selu', (dy, { inputs: [x], attrs }) => {
  const a = attrs.alpha ?? 1.6732632423543772
  const g = attrs.gamma ?? 1.0507009873554805
  return [dy.mul(where(x!.gt(0), constant(g, dy.dtype), x!.exp().mul(a * g)))]
})
export const Gelu = unaryOp(
  'Gelu',
  (dy, { inputs: [x], attrs }) => {
    const X = x!
    if (attrs.approximate === 'tanh') {
      // d/dx 0.5x(1+tanh u), u = sqrt(2/pi)(x + 0.044715x^3)
      const t = X.add(X.mul(X).mul(X).mul(0.044715)).mul(SQRT_2_OVER_PI).tanh()
      const du = X.mul(X)
        .mul(3 * 0.044715)
        .add(1)
        .mul(SQRT_2_OVER_PI)
      return [
        dy.mul(
          t
            .add(1)
            .mul(0.5)
            .add(X.mul(0.5).mul(t.mul(t).neg().add(1)).mul(du)),
        ),
      ]
    }
    return [geluGrad(dy, X)]
  },
  (ctx, [x], { attrs }) => {
    ctx.requireOpset(20)
    return ctx.node('Gelu', [x!], { approximate: attrs.approximate ?? 'none' })
  },
)
export const HardSigmoid = unaryOp('HardSigmoid', (dy, { inputs: [x], attrs }) => {
  const z = x!.mul(attrs.alpha ?? 0.2).add(attrs.beta ?? 0.5)
  return [
    dy.mul(
      z
        .gt(0)
        .to(dy.dtype)
        .mul(z.lt(1).to(dy.dtype))
        .mul(attrs.alpha ?? 0.2),
    ),
  ]
})
export const Not = unaryOp('Not', () => [null], 'Not', 'bool')
export const IsNaN = unaryOp('IsNaN', () => [null], 'IsNaN', 'bool')
export const IsInf = unaryOp('IsInf', () => [null], 'IsInf', 'bool')

const u =
  (op: OpDef<UAttrs>) =>
  (x: Tensor, attrs: UAttrs = {}) =>
    apply(op, [x], attrs)
export const neg = u(Neg)
export const abs = u(Abs)
export const exp = u(Exp)
export const log = u(Log)
export const sqrt = u(Sqrt)
export const sin = u(Sin)
export const cos = u(Cos)
export const tanh = u(Tanh)
export const sigmoid = u(Sigmoid)
export const relu = u(Relu)
export const erf = u(Erf)
export const sign = u(Sign)
export const floor = u(Floor)
export const ceil = u(Ceil)
export const round = u(Round)
export const reciprocal = u(Reciprocal)
export const softplus = u(Softplus)
export const logicalNot = u(Not)
// biome-ignore lint/suspicious/noShadowRestrictedNames: named after torch.isnan / ONNX IsNaN; used as ops.isNaN or a method
export const isNaN = u(IsNaN)
export const isInf = u(IsInf)
export const leakyRelu = (x: Tensor, alpha = 0.01) => apply(LeakyRelu, [x], { alpha })
export const elu = (x: Tensor, alpha = 1) => apply(Elu, [x], { alpha })
export const selu = (x: Tensor) => apply(Selu, [x], {})
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none') => apply(Gelu, [x], { approximate })
export const hardSigmoid = (x: Tensor, alpha = 0.2, beta = 0.5) => apply(HardSigmoid, [x], { alpha, beta })

// ---- binary --------------------------------------------------------------------------------------

type BinaryBackward = OpDef<Record<string, never>>['backward']

function binaryOp(name: BinaryOpName, backward: BinaryBackward, boolOut = false): OpDef<Record<string, never>> {
  return defineOp({
    name,
    forward: ([a, b]) => {
      const shape = broadcastShapes(a!.shape, b!.shape)
      const y = empty(boolOut ? 'bool' : a!.dtype, shape)
      // Operands of the output's shape need no broadcast strides: y.strides are theirs.
      const same = a!.size === y.size && b!.size === y.size && a!.rank === y.rank && b!.rank === y.rank
      const [as, bs] = same
        ? [y.strides as number[], y.strides as number[]]
        : [broadcastStrides(a!.shape, shape), broadcastStrides(b!.shape, shape)]
      kernel(name)(a!.data, as, b!.data, bs, y.data, shape)
      return y
    },
    backward,
    onnx: name,
  })
}

const noGrad2: BinaryBackward = () => [null, null]

export const Add = binaryOp('Add', (dy, { inputs: [a, b] }) => [sumTo(dy, a!.shape), sumTo(dy, b!.shape)])
export const Sub = binaryOp('Sub', (dy, { inputs: [a, b] }) => [sumTo(dy, a!.shape), sumTo(dy.neg(), b!.shape)])
export const Mul = binaryOp('Mul', (dy, { inputs: [a, b] }) => [
  a!.requiresGrad ? sumTo(dy.mul(b!), a!.shape) : null,
  b!.requiresGrad ? sumTo(dy.mul(a!), b!.shape) : null,
])
export const Div = binaryOp('Div', (dy, { inputs: [a, b] }) => [
  a!.requiresGrad ? sumTo(dy.div(b!), a!.shape) : null,
  b!.requiresGrad ? sumTo(dy.mul(a!).div(b!.mul(b!)).neg(), b!.shape) : null,
])
export const Pow = binaryOp('Pow', (dy, { inputs: [a, b], output }) => [
  a!.requiresGrad ? sumTo(dy.mul(b!).mul(a!.pow(b!.sub(1))), a!.shape) : null,
  b!.requiresGrad ? sumTo(dy.mul(output).mul(a!.log()), b!.shape) : null,
])
// NOTE: at ties the gradient goes to the first operand (PyTorch splits it in half; both are subgradients).
export const Max = binaryOp('Max', (dy, { inputs: [a, b] }) => {
  const m = a!.ge(b!).to(dy.dtype)
  return [sumTo(dy.mul(m), a!.shape), sumTo(dy.mul(m.neg().add(1)), b!.shape)]
})
export const Min = binaryOp('Min', (dy, { inputs: [a, b] }) => {
  const m = a!.le(b!).to(dy.dtype)
  return [sumTo(dy.mul(m), a!.shape), sumTo(dy.mul(m.neg().add(1)), b!.shape)]
})
export const Mod = binaryOp('Mod', noGrad2)
export const Equal = binaryOp('Equal', noGrad2, true)
export const Less = binaryOp('Less', noGrad2, true)
export const Greater = binaryOp('Greater', noGrad2, true)
export const LessOrEqual = binaryOp('LessOrEqual', noGrad2, true)
export const GreaterOrEqual = binaryOp('GreaterOrEqual', noGrad2, true)
export const And = binaryOp('And', noGrad2, true)
export const Or = binaryOp('Or', noGrad2, true)
export const Xor = binaryOp('Xor', noGrad2, true)

type Operand = Tensor | number
const b2 = (op: OpDef<Record<string, never>>) => (a: Operand, b: Operand) => apply(op, operands(a, b), {})
export const add = b2(Add)
export const sub = b2(Sub)
export const mul = b2(Mul)
export const div = b2(Div)
export const pow = b2(Pow)
export const maximum = b2(Max)
export const minimum = b2(Min)
export const mod = b2(Mod)
export const equal = b2(Equal)
export const less = b2(Less)
export const greater = b2(Greater)
export const lessEqual = b2(LessOrEqual)
export const greaterEqual = b2(GreaterOrEqual)
export const logicalAnd = b2(And)
export const logicalOr = b2(Or)
export const logicalXor = b2(Xor)

// ---- where ---------------------------------------------------------------------------------------

export const Where = defineOp({
  name: 'Where',
  forward: ([c, a, b]) => {
    const shape = broadcastShapes(c!.shape, a!.shape, b!.shape)
    const y = empty(a!.dtype, shape)
    kernel('Where')(
      c!.data as Uint8Array,
      broadcastStrides(c!.shape, shape),
      a!.data,
      broadcastStrides(a!.shape, shape),
      b!.data,
      broadcastStrides(b!.shape, shape),
      y.data,
      shape,
    )
    return y
  },
  backward: (dy, { inputs: [c, a, b] }) => {
    const zero = constant(0, dy.dtype)
    return [null, sumTo(where(c!, dy, zero), a!.shape), sumTo(where(c!, zero, dy), b!.shape)]
  },
  onnx: 'Where',
})

/** cond ? a : b, broadcasting all three. `cond` must be bool. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b)
  const c = cond.dtype === 'bool' ? cond : cond.to('bool')
  return apply(Where, [c, x, y], {})
}

/** min(max(x, lo), hi), exported as ONNX Clip. Gradient 1 inside [lo, hi], 0 outside. */
export const Clip = defineOp<{ min?: number; max?: number }>({
  name: 'Clip',
  forward: ([x], { min, max }) => {
    // NOTE: lo first, then hi: when lo > hi every element becomes hi, as the ONNX Clip spec and
    // torch.clamp both state (the other order would give lo).
    let y = x!
    if (min !== undefined) y = maximum(y, min)
    if (max !== undefined) y = minimum(y, max)
    return y === x ? x!.clone() : y
  },
  onnx: (ctx, [x], { inputs: [t], attrs: { min, max } }) => {
    const dt = t!.dtype === 'float64' ? 'float64' : t!.dtype === 'int32' ? 'int32' : 'float32'
    return ctx.node('Clip', [
      x!,
      min !== undefined ? ctx.constant([min], dt, []) : '',
      max !== undefined ? ctx.constant([max], dt, []) : '',
    ])
  },
})
export const clamp = (x: Tensor, min?: number, max?: number) => apply(Clip, [x], { min, max })

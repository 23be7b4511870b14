/** Reference scalar functions for the element-wise kernels. Formulas follow https://onnx.ai/onnx/operators/. */
import type { UnaryOpName } from '../../kernel-table.js'

type Attrs = { alpha?: number; beta?: number; gamma?: number; approximate?: string }

/** erf by Abramowitz-Stegun 7.1.26 is only 1e-7 accurate; use a series / continued fraction for float64. */
export function erf(x: number): number {
  const ax = Math.abs(x)
  if (ax < 2.5) {
    // Maclaurin series: erf x = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); converges fast here.
    let term = x
    let sum = x
    const x2 = x * x
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n
      const add = term / (2 * n + 1)
      sum += add
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break
    }
    return (2 / Math.sqrt(Math.PI)) * sum
  }
  // erfc by the Lentz continued fraction for larger |x|.
  return Math.sign(x) * (1 - erfcLarge(ax))
}

function erfcLarge(x: number): number {
  // erfc x = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = x
  for (let n = 60; n >= 1; n--) f = x + n / 2 / f
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f
}

const SELU_ALPHA = 1.6732632423543772
const SELU_GAMMA = 1.0507009873554805

export const unaryScalar: { [K in UnaryOpName]: (x: number, a: Attrs) => number } = {
  Neg: (x) => -x,
  Abs: (x) => Math.abs(x),
  Exp: (x) => Math.exp(x),
  Log: (x) => Math.log(x),
  Sqrt: (x) => Math.sqrt(x),
  Sin: (x) => Math.sin(x),
  Cos: (x) => Math.cos(x),
  Tanh: (x) => Math.tanh(x),
  // NOTE: 1/(1+e^-x) overflows e^-x for x << 0 only to Infinity, giving the correct 0; stable as is.
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Relu: (x) => (x > 0 ? x : 0),
  Erf: erf,
  Sign: (x) => Math.sign(x),
  Floor: (x) => Math.floor(x),
  Ceil: (x) => Math.ceil(x),
  // ONNX Round: half to even.
  Round: (x) => {
    const r = Math.round(x)
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
  },
  Reciprocal: (x) => 1 / x,
  // NOTE: log(1+e^x) = max(x,0) + log1p(e^-|x|) never overflows (PyTorch uses a threshold of 20 instead).
  Softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  LeakyRelu: (x, a) => (x >= 0 ? x : (a.alpha ?? 0.01) * x),
  Elu: (x, a) => (x > 0 ? x : (a.alpha ?? 1) * Math.expm1(x)),
  Selu: (x, a) => (a.gamma ?? SELU_GAMMA) * (x > 0 ? x : (a.alpha ?? SELU_ALPHA) * Math.expm1(x)),
  Gelu: (x, a) =>
    a.approximate === 'tanh'
      ? 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)))
      : 0.5 * x * (1 + erf(x / Math.SQRT2)),
  HardSigmoid: (x, a) => Math.max(0, Math.min(1, (a.alpha ?? 0.2) * x + (a.beta ?? 0.5))),
  Not: (x) => (x ? 0 : 1),
  IsNaN: (x) => (Number.isNaN(x) ? 1 : 0),
  IsInf: (x) => (x === Infinity || x === -Infinity ? 1 : 0),
}

export const binaryScalar = {
  Add: (a: number, b: number) => a + b,
  Sub: (a: number, b: number) => a - b,
  Mul: (a: number, b: number) => a * b,
  Div: (a: number, b: number) => a / b,
  Pow: (a: number, b: number) => a ** b,
  Max: (a: number, b: number) => (a >= b || Number.isNaN(a) ? a : b),
  Min: (a: number, b: number) => (a <= b || Number.isNaN(a) ? a : b),
  // Python-style modulo (sign of the divisor), ONNX Mod with fmod=0.
  Mod: (a: number, b: number) => a - Math.floor(a / b) * b,
  Equal: (a: number, b: number) => (a === b ? 1 : 0),
  Less: (a: number, b: number) => (a < b ? 1 : 0),
  Greater: (a: number, b: number) => (a > b ? 1 : 0),
  LessOrEqual: (a: number, b: number) => (a <= b ? 1 : 0),
  GreaterOrEqual: (a: number, b: number) => (a >= b ? 1 : 0),
  And: (a: number, b: number) => (a && b ? 1 : 0),
  Or: (a: number, b: number) => (a || b ? 1 : 0),
  Xor: (a: number, b: number) => (a ? 1 : 0) ^ (b ? 1 : 0),
}

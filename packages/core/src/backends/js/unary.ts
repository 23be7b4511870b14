/** Reference scalar functions for the element-wise kernels. Formulas follow https://onnx.ai/onnx/operators/. */
import type { UnaryOpName } from '../../kernel-table.js'

type Attrs = { alpha?: number; beta?: number; gamma?: number; approximate?: string }

/**
 * erf to float64 accuracy from its series (slow: tens of terms; `erf` uses it to build its table).
 * Below 3: erf x = (2/sqrt(pi)) e^(-x^2) sum_n 2^n x^(2n+1) / (1 * 3 * ... * (2n+1)) (Abramowitz & Stegun 7.1.6),
 * whose terms are all positive (the alternating Maclaurin series loses ~e^(x^2) ulps to cancellation);
 * above, erfc by its continued fraction.
 * NOTE: Abramowitz-Stegun 7.1.26 is only 1e-7 accurate, too coarse for float64 gradient checks.
 */
export function erfReference(x: number): number {
  const ax = Math.abs(x)
  if (ax < 3) {
    const x2 = x * x
    let term = x
    let sum = x
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1)
      sum += term
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break
    }
    return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum
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

/**
 * erf as a Taylor polynomial around the nearest of the nodes x0 = k/64 in [0, 6]:
 * erf(x0 + h) = erf(x0) + (2/sqrt(pi)) e^(-x0^2) sum_n (-1)^n H_n(x0) h^(n+1) / (n+1)!, since the n-th
 * derivative of e^(-x^2) is (-1)^n H_n(x) e^(-x^2) (H_n the physicists' Hermite polynomials). With |h| <= 1/128
 * ten terms reach float64 rounding; the table (erf(x0) from `erfReference`, then the ten coefficients) is
 * built once at load. Beyond 6, erf is +-1 to float64 precision (the continued fraction says so exactly).
 */
const ERF_PER_UNIT = 64
const ERF_LIMIT = 6
const ERF_TERMS = 10
const ERF_TABLE = (() => {
  const nodes = ERF_LIMIT * ERF_PER_UNIT + 1
  const t = new Float64Array(nodes * (ERF_TERMS + 1))
  for (let k = 0; k < nodes; k++) {
    const x0 = k / ERF_PER_UNIT
    const at = k * (ERF_TERMS + 1)
    t[at] = erfReference(x0)
    const scale = (2 / Math.sqrt(Math.PI)) * Math.exp(-x0 * x0)
    let [hPrev, h] = [0, 1] // H_{n-1}, H_n
    let fact = 1 // (n+1)!
    for (let n = 0; n < ERF_TERMS; n++) {
      fact *= n + 1
      t[at + 1 + n] = (scale * (n % 2 === 0 ? h : -h)) / fact
      ;[hPrev, h] = [h, 2 * x0 * h - 2 * n * hPrev]
    }
  }
  return t
})()

export function erf(x: number): number {
  const ax = Math.abs(x)
  if (!(ax < ERF_LIMIT)) return erfReference(x)
  const k = Math.round(ax * ERF_PER_UNIT)
  const h = ax - k / ERF_PER_UNIT
  const at = k * (ERF_TERMS + 1)
  let p = ERF_TABLE[at + ERF_TERMS]!
  for (let n = ERF_TERMS - 1; n >= 1; n--) p = p * h + ERF_TABLE[at + n]!
  const r = ERF_TABLE[at]! + p * h
  return x < 0 ? -r : r
}

export const SELU_ALPHA = 1.6732632423543772
export const SELU_GAMMA = 1.0507009873554805

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
  Mish: (x) => x * Math.tanh(Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))),
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

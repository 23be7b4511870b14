/**
 * Narrow number formats of ONNX: float16, bfloat16, the float8 family, float4e2m1 and float8e8m0.
 * `decodeSmallFloat` turns a bit pattern into its value; `roundToSmallFloat` rounds a value to the
 * nearest representable one (ties to even), saturating or overflowing as ONNX Cast specifies.
 * The 4- and 8-bit formats are handled by table: every code is decoded once, which keeps the rules
 * for NaN, infinity and negative zero in one place (the format parameters below).
 */
import { OnnxFormatError } from './errors.js'
import { OnnxDataType as DT } from './proto.js'

interface Format {
  bits: number
  exp: number
  man: number
  bias: number
  /** Has infinities (IEEE style: all-ones exponent with zero mantissa). */
  inf: boolean
  /** 'ieee': all-ones exponent + nonzero mantissa; 'ones': only S.1111.111; 'negzero': 0x80 (fnuz). */
  nan: 'ieee' | 'ones' | 'negzero' | 'none'
}

const formats: Record<number, Format> = {
  [DT.FLOAT16]: { bits: 16, exp: 5, man: 10, bias: 15, inf: true, nan: 'ieee' },
  [DT.FLOAT8E4M3FN]: { bits: 8, exp: 4, man: 3, bias: 7, inf: false, nan: 'ones' },
  [DT.FLOAT8E4M3FNUZ]: { bits: 8, exp: 4, man: 3, bias: 8, inf: false, nan: 'negzero' },
  [DT.FLOAT8E5M2]: { bits: 8, exp: 5, man: 2, bias: 15, inf: true, nan: 'ieee' },
  [DT.FLOAT8E5M2FNUZ]: { bits: 8, exp: 5, man: 2, bias: 16, inf: false, nan: 'negzero' },
  [DT.FLOAT4E2M1]: { bits: 4, exp: 2, man: 1, bias: 1, inf: false, nan: 'none' },
}

function decodeWith(f: Format, code: number): number {
  const sign = (code >> (f.bits - 1)) & 1 ? -1 : 1
  const e = (code >> f.man) & ((1 << f.exp) - 1)
  const m = code & ((1 << f.man) - 1)
  const eMax = (1 << f.exp) - 1
  if (f.nan === 'negzero' && code === 1 << (f.bits - 1)) return NaN
  if (f.nan === 'ones' && e === eMax && m === (1 << f.man) - 1) return NaN
  if (f.nan === 'ieee' && e === eMax) return m === 0 ? sign * Infinity : NaN
  if (e === 0) return sign * m * 2 ** (1 - f.bias - f.man)
  return sign * (1 + m / (1 << f.man)) * 2 ** (e - f.bias)
}

export function decodeSmallFloat(dataType: number, code: number): number {
  if (dataType === DT.BFLOAT16) {
    const b = new DataView(new ArrayBuffer(4))
    b.setUint32(0, (code & 0xffff) << 16)
    return b.getFloat32(0)
  }
  if (dataType === DT.FLOAT8E8M0) return code === 0xff ? NaN : 2 ** (code - 127)
  const f = formats[dataType]
  if (!f)
    throw new OnnxFormatError(
      `ONNX data type ${dataType} is not a small float type (float16, bfloat16, float8 or float4)`,
    )
  return decodeWith(f, code)
}

/** Finite non-negative values with their codes, ascending (built once per format). */
const tables = new Map<number, { values: Float64Array; codes: Uint16Array }>()
function table(dataType: number) {
  let t = tables.get(dataType)
  if (!t) {
    const f = formats[dataType]!
    const half = 1 << (f.bits - 1)
    const pairs: [number, number][] = []
    for (let c = 0; c < half; c++) {
      const v = decodeWith(f, c)
      if (Number.isFinite(v)) pairs.push([v, c])
    }
    pairs.sort((a, b) => a[0] - b[0])
    t = { values: Float64Array.from(pairs, (p) => p[0]), codes: Uint16Array.from(pairs, (p) => p[1]) }
    tables.set(dataType, t)
  }
  return t
}

/**
 * Round `x` to the format `dataType`, returning the value (as a JS number). Ties go to the even code.
 * saturate: out-of-range values (and infinities, for formats without them) become the largest
 * finite value; otherwise they become infinity (formats that have it) or NaN.
 */
export function roundToSmallFloat(
  dataType: number,
  x: number,
  saturate = true,
  roundMode: 'up' | 'down' | 'nearest' = 'up',
): number {
  // NOTE: float4e2m1 has no NaN; the ONNX reference maps NaN to the code 0x8 (-0).
  if (Number.isNaN(x)) return dataType === DT.FLOAT4E2M1 ? -0 : NaN
  if (dataType === DT.BFLOAT16) return decodeSmallFloat(dataType, smallFloatBits(dataType, x))
  if (dataType === DT.FLOAT8E8M0) {
    // e8m0 holds only positive powers of two: 0 and negatives go to the smallest, 2^-127.
    if (x === Infinity) return saturate ? 2 ** 127 : NaN
    if (x <= 0) return 2 ** -127
    const l = Math.log2(x)
    let e = roundMode === 'up' ? Math.ceil(l) : roundMode === 'down' ? Math.floor(l) : Math.round(l)
    if (e > 127) e = saturate ? 127 : NaN
    if (e < -127) e = -127
    return 2 ** e
  }
  const f = formats[dataType]!
  const { values, codes } = table(dataType)
  const max = values[values.length - 1]!
  const a = Math.abs(x)
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1
  const overflow = () => (saturate ? sign * max : f.inf ? sign * Infinity : NaN)
  // With saturation even formats that have infinities map +-Inf to +-max (ONNX Cast, saturate=1).
  if (a === Infinity) return saturate ? sign * max : f.inf ? sign * Infinity : NaN
  // Binary search for the neighbours of a.
  let lo = 0
  let hi = values.length - 1
  if (a >= max) {
    // Beyond the largest finite value: round against the next (virtual) step.
    const step = max - values[values.length - 2]!
    if (a - max < step / 2 || (a - max === step / 2 && (codes[values.length - 1]! & 1) === 0)) return sign * max
    return overflow()
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (values[mid]! <= a) lo = mid
    else hi = mid
  }
  const dl = a - values[lo]!
  const dh = values[hi]! - a
  const pick = dl < dh || (dl === dh && (codes[lo]! & 1) === 0) ? lo : hi
  const v = values[pick]!
  // Negative zero exists only in formats with a sign bit that is not the fnuz NaN.
  if (v === 0) return f.nan === 'negzero' ? 0 : sign * 0
  return sign * v
}

/** Bit pattern of float16 / bfloat16 (round to nearest even, IEEE overflow to infinity). */
export function smallFloatBits(dataType: number, x: number): number {
  if (dataType === DT.BFLOAT16) {
    const b = new DataView(new ArrayBuffer(4))
    b.setFloat32(0, x)
    const u = b.getUint32(0)
    if (Number.isNaN(x)) return 0x7fc0
    return ((u + 0x7fff + ((u >> 16) & 1)) >>> 16) & 0xffff
  }
  const f = formats[dataType]!
  if (Number.isNaN(x)) return ((1 << (f.exp + f.man)) - 1) | (1 << (f.man - 1))
  const v = roundToSmallFloat(dataType, x, false)
  const sign = v < 0 || Object.is(v, -0) ? 1 << (f.bits - 1) : 0
  if (!Number.isFinite(v)) return sign | (((1 << f.exp) - 1) << f.man)
  const { values, codes } = table(dataType)
  let lo = 0
  let hi = values.length - 1
  const a = Math.abs(v)
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (values[mid]! < a) lo = mid + 1
    else hi = mid
  }
  return sign | codes[lo]!
}

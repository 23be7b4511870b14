/**
 * TensorProto <-> typed arrays. Data comes either as little-endian `raw_data` (field 9) or in the
 * typed repeated fields (float_data, int32_data, int64_data, double_data, uint64_data); small types
 * (int8/16, uint8/16, bool, float16, bfloat16) travel in int32_data when not raw. Sub-byte types
 * (int4/uint4/int2/uint2/float4e2m1) are packed, first element in the least significant bits.
 * Float16, bfloat16, float8 and float4 decode to float32 values.
 */
import { OnnxFormatError } from './errors.js'
import { OnnxDataType as DT, type TensorProto } from './proto.js'
import { decodeSmallFloat, smallFloatBits } from './small-floats.js'

export type ProtoArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[]

export interface DecodedTensor {
  dataType: number
  dims: number[]
  data: ProtoArray
}

const byteSize: Record<number, number> = {
  [DT.FLOAT]: 4,
  [DT.UINT8]: 1,
  [DT.INT8]: 1,
  [DT.UINT16]: 2,
  [DT.INT16]: 2,
  [DT.INT32]: 4,
  [DT.INT64]: 8,
  [DT.BOOL]: 1,
  [DT.FLOAT16]: 2,
  [DT.DOUBLE]: 8,
  [DT.UINT32]: 4,
  [DT.UINT64]: 8,
  [DT.BFLOAT16]: 2,
  [DT.FLOAT8E4M3FN]: 1,
  [DT.FLOAT8E4M3FNUZ]: 1,
  [DT.FLOAT8E5M2]: 1,
  [DT.FLOAT8E5M2FNUZ]: 1,
  [DT.FLOAT8E8M0]: 1,
}
/** Bits per element of the packed sub-byte types. */
const packedBits: Record<number, number> = {
  [DT.UINT4]: 4,
  [DT.INT4]: 4,
  [DT.FLOAT4E2M1]: 4,
  [DT.UINT2]: 2,
  [DT.INT2]: 2,
}

const isSmallFloat = (t: number) =>
  t === DT.FLOAT16 ||
  t === DT.BFLOAT16 ||
  (t >= DT.FLOAT8E4M3FN && t <= DT.FLOAT8E5M2FNUZ) ||
  t === DT.FLOAT4E2M1 ||
  t === DT.FLOAT8E8M0

function fromBits(dataType: number, bits: ArrayLike<number>, n: number): ProtoArray {
  if (isSmallFloat(dataType)) return Float32Array.from({ length: n }, (_, i) => decodeSmallFloat(dataType, bits[i]!))
  switch (dataType) {
    case DT.INT8:
      return Int8Array.from({ length: n }, (_, i) => bits[i]!)
    case DT.UINT8:
    case DT.BOOL:
      return Uint8Array.from({ length: n }, (_, i) => bits[i]!)
    case DT.INT16:
      return Int16Array.from({ length: n }, (_, i) => bits[i]!)
    case DT.UINT16:
      return Uint16Array.from({ length: n }, (_, i) => bits[i]!)
    case DT.INT4:
      return Int8Array.from({ length: n }, (_, i) => ((bits[i]! & 15) ^ 8) - 8)
    case DT.INT2:
      return Int8Array.from({ length: n }, (_, i) => ((bits[i]! & 3) ^ 2) - 2)
    case DT.UINT4:
    case DT.UINT2:
      return Uint8Array.from({ length: n }, (_, i) => bits[i]!)
    default:
      throw new OnnxFormatError(`ONNX data type ${dataType} is not supported`)
  }
}

export function tensorProtoToArray(t: TensorProto): DecodedTensor {
  const dataType = t.dataType ?? 0
  const dims = (t.dims ?? []).map(Number)
  const n = dims.reduce((a, b) => a * b, 1)
  const name = t.name ? `'${t.name}'` : '(unnamed)'
  // NOTE: every allocation below is sized by n, so n must be checked against the data actually
  // present before anything is allocated (a file of a few bytes may claim dims [1e9, 1e9]).
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(n))
    throw new OnnxFormatError(`tensor ${name}: dims must be non-negative integers with a safe product, got [${dims}]`)
  if (t.dataLocation === 1)
    throw new OnnxFormatError(`tensor ${name} stores its data in an external file, which refnets does not read`)
  if (dataType === DT.STRING)
    return { dataType, dims, data: (t.stringData ?? []).map((b) => new TextDecoder().decode(b)) }
  const raw = t.rawData
  if (raw && raw.length > 0) {
    const bits = packedBits[dataType]
    if (bits) {
      const need = Math.ceil((n * bits) / 8)
      if (raw.length !== need)
        throw new OnnxFormatError(`tensor ${name}: raw_data has ${raw.length} bytes, dims [${dims}] need ${need}`)
      const per = 8 / bits
      const vals = Array.from(
        { length: n },
        (_, i) => (raw[Math.floor(i / per)]! >> ((i % per) * bits)) & ((1 << bits) - 1),
      )
      return { dataType, dims, data: fromBits(dataType, vals, n) }
    }
    const size = byteSize[dataType]
    if (!size) throw new OnnxFormatError(`tensor ${name}: ONNX data type ${dataType} is not supported`)
    if (raw.length !== n * size)
      throw new OnnxFormatError(
        `tensor ${name}: raw_data has ${raw.length} bytes, dims [${dims}] of type ${dataType} need ${n * size}`,
      )
    const buf = new Uint8Array(raw).buffer // an aligned copy (a Node Buffer may be a view into a shared pool)
    switch (dataType) {
      case DT.FLOAT:
        return { dataType, dims, data: new Float32Array(buf) }
      case DT.DOUBLE:
        return { dataType, dims, data: new Float64Array(buf) }
      case DT.INT32:
        return { dataType, dims, data: new Int32Array(buf) }
      case DT.UINT32:
        return { dataType, dims, data: new Uint32Array(buf) }
      case DT.INT64:
        return { dataType, dims, data: new BigInt64Array(buf) }
      case DT.UINT64:
        return { dataType, dims, data: new BigUint64Array(buf) }
      case DT.FLOAT16:
      case DT.BFLOAT16:
      case DT.UINT16:
      case DT.INT16:
        return {
          dataType,
          dims,
          data: fromBits(
            dataType === DT.INT16 ? DT.INT16 : dataType,
            dataType === DT.INT16 ? new Int16Array(buf) : new Uint16Array(buf),
            n,
          ),
        }
      default:
        return { dataType, dims, data: fromBits(dataType, new Uint8Array(buf), n) }
    }
  }
  // Typed fields.
  const check = (len: number) => {
    if (len !== n) throw new OnnxFormatError(`tensor ${name}: has ${len} values, dims [${dims}] need ${n}`)
  }
  if (n === 0)
    return {
      dataType,
      dims,
      data:
        dataType === DT.DOUBLE
          ? new Float64Array(0)
          : dataType === DT.INT64
            ? new BigInt64Array(0)
            : new Float32Array(0),
    }
  switch (dataType) {
    case DT.FLOAT:
      check(t.floatData?.length ?? 0)
      return { dataType, dims, data: Float32Array.from(t.floatData!) }
    case DT.DOUBLE:
      check(t.doubleData?.length ?? 0)
      return { dataType, dims, data: Float64Array.from(t.doubleData!) }
    case DT.INT64:
      check(t.int64Data?.length ?? 0)
      return { dataType, dims, data: BigInt64Array.from(t.int64Data!, (v) => BigInt(v)) }
    case DT.UINT64:
    case DT.UINT32:
      check(t.uint64Data?.length ?? 0)
      return { dataType, dims, data: BigUint64Array.from(t.uint64Data!, (v) => BigInt(v)) }
    case DT.INT32:
      check(t.int32Data?.length ?? 0)
      return { dataType, dims, data: Int32Array.from(t.int32Data!) }
    default: {
      const bits = packedBits[dataType]
      const vals = t.int32Data ?? []
      if (bits) {
        const per = 8 / bits
        if (vals.length !== Math.ceil(n / per))
          throw new OnnxFormatError(
            `tensor ${name}: has ${vals.length} packed values, dims [${dims}] need ${Math.ceil(n / per)}`,
          )
        const unpacked = Array.from(
          { length: n },
          (_, i) => (vals[Math.floor(i / per)]! >> ((i % per) * bits)) & ((1 << bits) - 1),
        )
        return { dataType, dims, data: fromBits(dataType, unpacked, n) }
      }
      check(vals.length)
      return { dataType, dims, data: fromBits(dataType, vals, n) }
    }
  }
}

/** Build a TensorProto with little-endian raw_data. */
export function arrayToTensorProto(
  name: string,
  dataType: number,
  dims: number[],
  data: ArrayLike<number> | BigInt64Array,
): TensorProto {
  let raw: Uint8Array
  const n = dims.reduce((a, b) => a * b, 1)
  if (data.length !== n)
    throw new OnnxFormatError(`tensor '${name}': ${data.length} values for dims [${dims}] (${n} elements)`)
  // An array of the proto's own type is copied whole by slice (a memcpy; `from` converts element by element).
  switch (dataType) {
    case DT.FLOAT:
      raw = new Uint8Array(
        (data instanceof Float32Array ? data.slice() : Float32Array.from(data as ArrayLike<number>)).buffer,
      )
      break
    case DT.DOUBLE:
      raw = new Uint8Array(
        (data instanceof Float64Array ? data.slice() : Float64Array.from(data as ArrayLike<number>)).buffer,
      )
      break
    case DT.INT32:
      raw = new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer)
      break
    case DT.INT64:
      raw = new Uint8Array(
        (data instanceof BigInt64Array
          ? data
          : BigInt64Array.from(data as ArrayLike<number>, (v) => BigInt(Math.trunc(v)))
        ).slice().buffer,
      )
      break
    case DT.BOOL:
    case DT.UINT8:
      raw = Uint8Array.from(data as ArrayLike<number>, (v) => (dataType === DT.BOOL ? (v ? 1 : 0) : v))
      break
    case DT.INT8:
      raw = new Uint8Array(Int8Array.from(data as ArrayLike<number>).buffer)
      break
    case DT.FLOAT16:
    case DT.BFLOAT16:
      raw = new Uint8Array(Uint16Array.from(data as ArrayLike<number>, (v) => smallFloatBits(dataType, v)).buffer)
      break
    default:
      throw new OnnxFormatError(`tensor '${name}': writing ONNX data type ${dataType} is not supported`)
  }
  return { name, dataType, dims, rawData: raw }
}

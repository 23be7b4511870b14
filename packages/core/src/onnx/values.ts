/**
 * Values flowing through an imported graph: TensorProto <-> Tensor. refnets computes in float32,
 * float64, int32 and bool; other ONNX types are mapped on import (int8..uint32 and int64 to int32,
 * with a range check; float16/bfloat16 to float32) and the declared type is kept for export/compare.
 */
import type { DType } from '../dtype.js'
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { type TensorProto, OnnxDataType } from './proto.js'
import { tensorProtoToArray } from './tensor-data.js'

/** ONNX type number -> the refnets dtype that carries it. */
export function carrierDType(dataType: number): DType | null {
  switch (dataType) {
    case OnnxDataType.FLOAT:
    case OnnxDataType.FLOAT16:
    case OnnxDataType.BFLOAT16:
    case OnnxDataType.FLOAT8E4M3FN:
    case OnnxDataType.FLOAT8E4M3FNUZ:
    case OnnxDataType.FLOAT8E5M2:
    case OnnxDataType.FLOAT8E5M2FNUZ:
    case OnnxDataType.FLOAT4E2M1:
    case OnnxDataType.FLOAT8E8M0:
      return 'float32'
    case OnnxDataType.DOUBLE:
      return 'float64'
    case OnnxDataType.BOOL:
      return 'bool'
    case OnnxDataType.INT8:
    case OnnxDataType.UINT8:
    case OnnxDataType.INT16:
    case OnnxDataType.UINT16:
    case OnnxDataType.INT32:
    case OnnxDataType.UINT32:
    case OnnxDataType.INT64:
    case OnnxDataType.UINT64:
    case OnnxDataType.INT4:
    case OnnxDataType.UINT4:
    case OnnxDataType.INT2:
    case OnnxDataType.UINT2:
      return 'int32'
    default:
      return null
  }
}

/**
 * The ONNX type a value was declared with, when it differs from what its carrier dtype says
 * (an int64 carried as int32, a float16 carried as float32). CastLike reads it.
 */
export const declaredType = new WeakMap<Tensor, number>()

const I32_MAX = 2147483647
const I32_MIN = -2147483648

const I64_MAX = 9223372036854775807n
const I64_MIN = -9223372036854775808n

export interface TensorProtoOptions {
  /**
   * Map the int64 sentinels INT64_MAX and INT64_MIN (ONNX's "to the end" in Slice ends/starts and
   * similar) to the int32 bounds, which keeps their meaning there (default true). Off, they are out
   * of range like any other value (the conformance runner compares expected outputs exactly).
   */
  int64Sentinels?: boolean
}

/**
 * Convert a TensorProto to a Tensor. Integer values must fit the int32 carrier: any other value is
 * an OnnxImportError (never a silent clamp), except the int64 sentinels (see TensorProtoOptions).
 */
export function tensorProtoToTensor(t: TensorProto, opts: TensorProtoOptions = {}): Tensor {
  const { dataType, dims, data } = tensorProtoToArray(t)
  const dtype = carrierDType(dataType)
  if (!dtype)
    throw new OnnxImportError(
      `tensor '${t.name ?? ''}': ONNX data type ${dataType} is not supported by refnets (float32/64, float16, bfloat16, bool and integer types are)`,
    )
  const n = dims.reduce((a, b) => a * b, 1)
  if (typeof data[0] === 'string')
    throw new OnnxImportError(`tensor '${t.name ?? ''}': string tensors are not supported`)
  let out: Float32Array | Float64Array | Int32Array | Uint8Array
  if (dtype === 'int32') {
    out = new Int32Array(n)
    const sentinels = opts.int64Sentinels ?? true
    for (let i = 0; i < n; i++) {
      const raw = (data as ArrayLike<number | bigint>)[i]!
      const v = Number(raw)
      if (v > I32_MAX || v < I32_MIN) {
        if (sentinels && dataType === OnnxDataType.INT64 && (raw === I64_MAX || raw === I64_MIN)) {
          out[i] = raw === I64_MAX ? I32_MAX : I32_MIN
          continue
        }
        throw new OnnxImportError(
          `tensor '${t.name ?? ''}': element ${i} is ${raw}, outside the int32 range refnets carries integers in ([${I32_MIN}, ${I32_MAX}]; only INT64_MAX/INT64_MIN as sentinels are mapped)`,
        )
      }
      out[i] = v
    }
  } else if (dtype === 'bool') {
    out = Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0))
  } else if (dtype === 'float64') {
    out = data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>)
  } else {
    out = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>)
  }
  const result = new Tensor(out, dims)
  declaredType.set(result, dataType)
  return result
}

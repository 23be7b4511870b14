/**
 * Element types. Indices are int32 (ONNX int64 tensors are narrowed on import and widened on export);
 * masks are bool, stored one byte per element.
 */
export type DType = 'float32' | 'float64' | 'int32' | 'bool'

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array

export interface ArrayFor {
  float32: Float32Array
  float64: Float64Array
  int32: Int32Array
  bool: Uint8Array
}

const ctors = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
} as const

export function allocate<D extends DType>(dtype: D, size: number): ArrayFor[D] {
  return new ctors[dtype](size) as ArrayFor[D]
}

/** Copy (and convert) any array-like into a fresh array of `dtype`. Bool maps non-zero to 1. */
export function toTypedArray<D extends DType>(dtype: D, values: ArrayLike<number | boolean>): ArrayFor[D] {
  const out = allocate(dtype, values.length)
  if (dtype === 'bool') for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0
  else if (dtype === 'int32') for (let i = 0; i < values.length; i++) out[i] = Math.trunc(Number(values[i]))
  else for (let i = 0; i < values.length; i++) out[i] = Number(values[i])
  return out
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32'
  if (data instanceof Float64Array) return 'float64'
  if (data instanceof Int32Array) return 'int32'
  return 'bool'
}

export const isFloat = (d: DType): d is 'float32' | 'float64' => d === 'float32' || d === 'float64'

/** Type promotion for binary ops, as in PyTorch for these four types: bool < int32 < float32 < float64. */
const rank: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 }
export function promote(a: DType, b: DType): DType {
  return rank[a] >= rank[b] ? a : b
}

/**
 * Cast and CastLike across every ONNX numeric type. Values are carried in refnets dtypes (float32,
 * float64, int32, bool); a cast to a narrower format rounds (or wraps, for integers) to what that
 * format can hold, so the carried value equals the value ONNX would store.
 */
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrInt, attrString, input } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'
import { OnnxDataType as DT } from './proto.js'
import { roundToSmallFloat } from './small-floats.js'
import { carrierDType, declaredType } from './values.js'

/** Integer ranges; conversion from float truncates toward zero, then wraps like a C cast (numpy astype), 4- and 2-bit types included. */
const intRange: Record<number, [number, number]> = {
  [DT.INT8]: [-128, 127],
  [DT.UINT8]: [0, 255],
  [DT.INT16]: [-32768, 32767],
  [DT.UINT16]: [0, 65535],
  [DT.INT32]: [-2147483648, 2147483647],
  [DT.UINT32]: [0, 4294967295],
  [DT.INT64]: [-2147483648, 2147483647],
  [DT.UINT64]: [0, 2147483647],
  [DT.INT4]: [-8, 7],
  [DT.UINT4]: [0, 15],
  [DT.INT2]: [-2, 1],
  [DT.UINT2]: [0, 3],
}

function convert(to: number, x: number, saturate: boolean, roundMode: 'up' | 'down' | 'nearest'): number {
  switch (to) {
    case DT.FLOAT:
      return Math.fround(x)
    case DT.DOUBLE:
      return x
    case DT.BOOL:
      return x !== 0 && !Number.isNaN(x) ? 1 : 0
    case DT.FLOAT16:
    case DT.BFLOAT16:
    case DT.FLOAT8E4M3FN:
    case DT.FLOAT8E4M3FNUZ:
    case DT.FLOAT8E5M2:
    case DT.FLOAT8E5M2FNUZ:
    case DT.FLOAT4E2M1:
    case DT.FLOAT8E8M0:
      return roundToSmallFloat(to, x, saturate, roundMode)
  }
  const range = intRange[to]
  if (!range) throw new OnnxImportError(`Cast to ONNX type ${to} is not supported`)
  const [lo, hi] = range
  if (!Number.isFinite(x)) return 0
  const t = Math.trunc(x)
  const span = hi - lo + 1
  return ((((t - lo) % span) + span) % span) + lo
}

export function castTo(x: Tensor, to: number, saturate = true, roundMode: 'up' | 'down' | 'nearest' = 'up'): Tensor {
  const dtype = carrierDType(to)
  if (!dtype) throw new OnnxImportError(`Cast to ONNX type ${to} is not supported by refnets`)
  const src = x.data
  const out = new Tensor(
    dtype === 'float32'
      ? new Float32Array(src.length)
      : dtype === 'float64'
        ? new Float64Array(src.length)
        : dtype === 'int32'
          ? new Int32Array(src.length)
          : new Uint8Array(src.length),
    x.shape,
  )
  const dst = out.storage
  for (let i = 0; i < src.length; i++) dst[i] = convert(to, Number(src[i]), saturate, roundMode)
  declaredType.set(out, to)
  return out
}

const cast = (ctx: NodeContext, to: number) =>
  castTo(
    input(ctx, 0),
    to,
    attrInt(ctx, 'saturate', 1) === 1,
    attrString(ctx, 'round_mode', 'up') as 'up' | 'down' | 'nearest',
  )

const typeOf = (t: Tensor): number =>
  declaredType.get(t) ?? { float32: DT.FLOAT, float64: DT.DOUBLE, int32: DT.INT32, bool: DT.BOOL }[t.dtype]

export const castOps: Record<string, OnnxOpImpl> = {
  Cast: (ctx) => cast(ctx, attrInt(ctx, 'to', DT.FLOAT)),
  CastLike: (ctx) => cast(ctx, typeOf(input(ctx, 1))),
}

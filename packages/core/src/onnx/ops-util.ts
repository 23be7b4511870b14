/** Reading inputs and attributes of an ONNX node, with errors that name what was expected. */
import { DTypeError } from '../errors.js'
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { type NodeContext, type OnnxValue, OnnxSequence } from './node.js'

/** Required tensor input i. */
export function input(ctx: NodeContext, i: number): Tensor {
  const v = ctx.inputs[i]
  if (!(v instanceof Tensor))
    throw new OnnxImportError(
      `${ctx.node.opType} '${ctx.node.name ?? ''}': input ${i} must be a tensor, got ${v === null || v === undefined ? 'nothing' : 'a sequence'}`,
    )
  return v
}

/** Optional tensor input i (absent or empty name -> undefined). */
export function optional(ctx: NodeContext, i: number): Tensor | undefined {
  const v = ctx.inputs[i]
  return v instanceof Tensor ? v : undefined
}

export function sequence(ctx: NodeContext, i: number): OnnxValue[] {
  const v = ctx.inputs[i]
  if (!(v instanceof OnnxSequence)) throw new OnnxImportError(`${ctx.node.opType}: input ${i} must be a sequence`)
  return v.items
}

/** An integer tensor (int64 shapes, axes, pads) as plain numbers. */
export function ints(t: Tensor | undefined): number[] | undefined {
  if (!t) return undefined
  if (t.dtype !== 'int32' && t.dtype !== 'bool') throw new DTypeError(`expected an integer tensor, got ${t.dtype}`)
  return Array.from(t.data as Int32Array)
}

export const attrInt = (ctx: NodeContext, name: string, def: number): number => {
  const v = ctx.attrs[name]
  return v === undefined ? def : Number(v)
}
export const attrFloat = attrInt
export const attrInts = (ctx: NodeContext, name: string): number[] | undefined => {
  const v = ctx.attrs[name]
  return v === undefined ? undefined : (v as (number | bigint)[]).map(Number)
}
export const attrString = (ctx: NodeContext, name: string, def: string): string => {
  const v = ctx.attrs[name]
  return v === undefined ? def : String(v)
}

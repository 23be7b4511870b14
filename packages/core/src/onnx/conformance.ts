/**
 * Run one ONNX backend node-test case (model.onnx + test_data_set_0/{input,output}_N.pb) through
 * loadOnnx and compare with the expected outputs the way the ONNX runner does:
 * |actual - expected| <= atol + rtol * |expected|, rtol 1e-3, atol 1e-7 (onnx/backend/test/loader).
 * File access is the caller's (see scripts/conformance.ts), so this stays platform-neutral.
 */
import { Tensor } from '../tensor.js'
import { loadOnnx } from './import.js'
import { type OnnxValue, OnnxSequence } from './node.js'
import { onnxDataType } from './export.js'
import {
  type ModelProto,
  type TensorProto,
  type TypeProto,
  decodeModel,
  decodeOptionalProto,
  decodeSequenceProto,
  decodeTensorProto,
} from './proto.js'
import { type TensorProtoOptions, declaredType, tensorProtoToTensor } from './values.js'

export interface CaseFiles {
  model: Uint8Array
  inputs: Uint8Array[]
  outputs: Uint8Array[]
}

export interface CaseResult {
  status: 'passed' | 'failed' | 'error'
  /** The op type of the (single) node, for grouping. */
  op: string
  message?: string
  maxAbsError?: number
}

export const DEFAULT_RTOL = 1e-3
export const DEFAULT_ATOL = 1e-7

/** Decode a .pb file as the graph value type says: a tensor, a sequence or an optional. */
export function decodeValue(bytes: Uint8Array, type: TypeProto | undefined, opts: TensorProtoOptions = {}): OnnxValue {
  const tensor = (t: TensorProto) => tensorProtoToTensor(t, opts)
  if (type?.sequenceType) return new OnnxSequence(decodeSequenceProto(bytes).tensorValues?.map(tensor) ?? [])
  if (type?.optionalType) {
    const o = decodeOptionalProto(bytes)
    if (o.tensorValue) return tensor(o.tensorValue)
    if (o.sequenceValue) return new OnnxSequence(o.sequenceValue.tensorValues?.map(tensor) ?? [])
    return null
  }
  return tensor(decodeTensorProto(bytes))
}

/** The ONNX element type of a value: the declared one it was imported with, else its carrier's. */
function onnxType(t: Tensor): number {
  return declaredType.get(t) ?? onnxDataType[t.dtype]
}

/**
 * Compare actual with expected; returns null when they match, else a message. Element types must
 * agree: the same carrier dtype, and the same ONNX type where both sides declare one.
 */
export function compareValues(
  actual: OnnxValue,
  expected: OnnxValue,
  rtol = DEFAULT_RTOL,
  atol = DEFAULT_ATOL,
  path = 'output',
): { message: string | null; maxAbs: number } {
  if (expected === null || actual === null)
    return {
      message:
        expected === actual
          ? null
          : `${path}: expected ${expected === null ? 'an empty optional' : 'a value'}, got ${actual === null ? 'an empty optional' : 'a value'}`,
      maxAbs: 0,
    }
  if (expected instanceof OnnxSequence || actual instanceof OnnxSequence) {
    if (
      !(expected instanceof OnnxSequence) ||
      !(actual instanceof OnnxSequence) ||
      expected.items.length !== actual.items.length
    )
      return { message: `${path}: expected a sequence of the same length`, maxAbs: 0 }
    let maxAbs = 0
    for (let i = 0; i < expected.items.length; i++) {
      const r = compareValues(actual.items[i]!, expected.items[i]!, rtol, atol, `${path}[${i}]`)
      if (r.message) return r
      maxAbs = Math.max(maxAbs, r.maxAbs)
    }
    return { message: null, maxAbs }
  }
  const a = actual as Tensor
  const e = expected as Tensor
  if (a.dtype !== e.dtype || (declaredType.has(a) && declaredType.has(e) && onnxType(a) !== onnxType(e)))
    return {
      message: `${path}: element type ${a.dtype} (ONNX ${onnxType(a)}) differs from expected ${e.dtype} (ONNX ${onnxType(e)})`,
      maxAbs: Infinity,
    }
  if (a.rank !== e.rank || a.shape.some((d, i) => d !== e.shape[i]))
    return { message: `${path}: shape [${a.shape}] differs from expected [${e.shape}]`, maxAbs: Infinity }
  const ad = a.data
  const ed = e.data
  let maxAbs = 0
  for (let i = 0; i < ed.length; i++) {
    const x = Number(ad[i])
    const y = Number(ed[i])
    if (Number.isNaN(y) && Number.isNaN(x)) continue
    if (x === y) continue
    const d = Math.abs(x - y)
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d)
    if (!(d <= atol + rtol * Math.abs(y))) return { message: `${path}: element ${i} is ${x}, expected ${y}`, maxAbs }
  }
  return { message: null, maxAbs }
}

/**
 * A training-mode Dropout with a ratio above 0: its outputs depend on the random stream of the
 * implementation that made the expected data (numpy's, in the ONNX node tests), so no exact match
 * is possible. Every such case is checked the same way, by the property the ONNX spec states
 * instead: each output element is 0 or x / (1 - ratio), and the mask output (when asked for) is a
 * bool tensor of the input's shape that is true exactly where the element was kept.
 * Returns the ratio, or null for a deterministic case.
 */
export function randomDropoutRatio(proto: ModelProto, inputs: OnnxValue[]): number | null {
  const node = proto.graph?.node?.[0]
  if (proto.graph?.node?.length !== 1 || node?.opType !== 'Dropout') return null
  const names = (proto.graph?.input ?? []).map((i) => i.name)
  const inits = new Map((proto.graph?.initializer ?? []).map((t) => [t.name, t]))
  const constantInput = (k: number): number | undefined => {
    const name = node.input?.[k]
    if (!name) return undefined
    const i = names.indexOf(name)
    const v = i >= 0 ? inputs[i] : inits.has(name) ? tensorProtoToTensor(inits.get(name)!) : undefined
    return v instanceof Tensor ? Number(v.data[0]) : undefined
  }
  const training = (constantInput(2) ?? 0) !== 0
  const ratio = constantInput(1) ?? 0.5
  return training && ratio > 0 ? ratio : null
}

function checkRandomDropout(x: Tensor, ratio: number, actual: OnnxValue[], expected: OnnxValue[]): string | null {
  const [y, mask] = actual
  if (!(y instanceof Tensor) || y.dtype !== x.dtype || y.shape.join() !== x.shape.join())
    return "output 0: expected a tensor of the input's shape and type"
  const scale = 1 / (1 - ratio)
  for (let i = 0; i < x.size; i++) {
    const v = Number(y.data[i])
    const kept = Number(x.data[i]) * scale
    if (v !== 0 && !(Math.abs(v - kept) <= DEFAULT_ATOL + DEFAULT_RTOL * Math.abs(kept)))
      return `output 0: element ${i} is ${v}, neither 0 nor x / (1 - ratio) = ${kept}`
  }
  if (expected.length > 1) {
    if (!(mask instanceof Tensor) || mask.dtype !== 'bool' || mask.shape.join() !== x.shape.join())
      return "output 1: expected a bool mask of the input's shape"
    for (let i = 0; i < x.size; i++) {
      const v = Number(y.data[i])
      if (
        mask.data[i]
          ? Number(x.data[i]) * scale !== v && !(Math.abs(v - Number(x.data[i]) * scale) <= DEFAULT_ATOL)
          : v !== 0
      )
        return `output 1: mask element ${i} is ${mask.data[i] ? 'true' : 'false'} but output 0 there is ${v}`
    }
  }
  return null
}

/**
 * Run one case. A case without test data (no test_data_set_0 outputs) is an error: there would be
 * nothing to compare. Expected int64 values are decoded exactly (no sentinel mapping), so one
 * that int32 cannot carry fails the case instead of being narrowed on both sides.
 */
export function runCase(name: string, files: CaseFiles): CaseResult {
  let op = '?'
  try {
    const proto = decodeModel(files.model)
    op = proto.graph?.node?.[0]?.opType ?? '?'
    const outputTypes = (proto.graph?.output ?? []).map((o) => o.type)
    if (files.outputs.length === 0 || files.outputs.length < outputTypes.length)
      return {
        status: 'error',
        op,
        message: `${name}: no test data (expected ${outputTypes.length} output files in test_data_set_0, found ${files.outputs.length})`,
      }
    const model = loadOnnx(files.model)
    // Node tests exercise training-mode ops (Dropout with training_mode) through their inputs.
    model.train(true)
    const inputTypes = (proto.graph?.input ?? []).map((i) => i.type)
    const inputs = files.inputs.map((b, i) => decodeValue(b, inputTypes[i]))
    const expected = files.outputs.map((b, i) => decodeValue(b, outputTypes[i], { int64Sentinels: false }))
    const actual = model.run(inputs)
    const ratio = randomDropoutRatio(proto, inputs)
    if (ratio !== null) {
      const message = checkRandomDropout(inputs[0] as Tensor, ratio, actual, expected)
      return message ? { status: 'failed', op, message } : { status: 'passed', op, maxAbsError: 0 }
    }
    let maxAbs = 0
    for (let i = 0; i < expected.length; i++) {
      const r = compareValues(actual[i]!, expected[i]!, DEFAULT_RTOL, DEFAULT_ATOL, `output ${i}`)
      if (r.message) return { status: 'failed', op, message: r.message, maxAbsError: r.maxAbs }
      maxAbs = Math.max(maxAbs, r.maxAbs)
    }
    return { status: 'passed', op, maxAbsError: maxAbs }
  } catch (e) {
    return { status: 'error', op, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
  }
}

/**
 * Run one ONNX backend node-test case (model.onnx + test_data_set_0/{input,output}_N.pb) through
 * loadOnnx and compare with the expected outputs the way the ONNX runner does:
 * |actual - expected| <= atol + rtol * |expected|, rtol 1e-3, atol 1e-7 (onnx/backend/test/loader).
 * File access is the caller's (see scripts/conformance.ts), so this stays platform-neutral.
 */
import { Tensor } from '../tensor.js'
import { loadOnnx } from './import.js'
import { type OnnxValue, OnnxSequence } from './ops-table.js'
import { type TypeProto, decodeModel, decodeOptionalProto, decodeSequenceProto, decodeTensorProto } from './proto.js'
import { tensorProtoToTensor } from './values.js'

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
export function decodeValue(bytes: Uint8Array, type: TypeProto | undefined): OnnxValue {
  if (type?.sequenceType) return new OnnxSequence(decodeSequenceProto(bytes).tensorValues?.map(tensorProtoToTensor) ?? [])
  if (type?.optionalType) {
    const o = decodeOptionalProto(bytes)
    if (o.tensorValue) return tensorProtoToTensor(o.tensorValue)
    if (o.sequenceValue) return new OnnxSequence(o.sequenceValue.tensorValues?.map(tensorProtoToTensor) ?? [])
    return null
  }
  return tensorProtoToTensor(decodeTensorProto(bytes))
}

/** Compare actual with expected; returns null when they match, else a message. */
export function compareValues(actual: OnnxValue, expected: OnnxValue, rtol = DEFAULT_RTOL, atol = DEFAULT_ATOL, path = 'output'): { message: string | null; maxAbs: number } {
  if (expected === null || actual === null) return { message: expected === actual ? null : `${path}: expected ${expected === null ? 'an empty optional' : 'a value'}, got ${actual === null ? 'an empty optional' : 'a value'}`, maxAbs: 0 }
  if (expected instanceof OnnxSequence || actual instanceof OnnxSequence) {
    if (!(expected instanceof OnnxSequence) || !(actual instanceof OnnxSequence) || expected.items.length !== actual.items.length)
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
 * Cases whose outputs depend on another implementation's random numbers: compare shapes only.
 * (conformance README: training dropout with ratio > 0 uses numpy's RNG.)
 */
export const SHAPE_ONLY_CASES = new Set(['test_training_dropout_default', 'test_training_dropout'])

export function runCase(name: string, files: CaseFiles): CaseResult {
  let op = '?'
  try {
    const proto = decodeModel(files.model)
    op = proto.graph?.node?.[0]?.opType ?? '?'
    const model = loadOnnx(files.model)
    // Node tests exercise training-mode ops (Dropout with training_mode) through their inputs.
    model.train(true)
    const inputTypes = (proto.graph?.input ?? []).map((i) => i.type)
    const outputTypes = (proto.graph?.output ?? []).map((o) => o.type)
    const inputs = files.inputs.map((b, i) => decodeValue(b, inputTypes[i]))
    const expected = files.outputs.map((b, i) => decodeValue(b, outputTypes[i]))
    const actual = model.run(inputs)
    let maxAbs = 0
    for (let i = 0; i < expected.length; i++) {
      if (SHAPE_ONLY_CASES.has(name)) {
        const a = actual[i]
        const e = expected[i]
        if (!(a instanceof Tensor) || !(e instanceof Tensor) || a.shape.join() !== e.shape.join())
          return { status: 'failed', op, message: `output ${i}: shape differs from expected` }
        continue
      }
      const r = compareValues(actual[i]!, expected[i]!, DEFAULT_RTOL, DEFAULT_ATOL, `output ${i}`)
      if (r.message) return { status: 'failed', op, message: r.message, maxAbsError: r.maxAbs }
      maxAbs = Math.max(maxAbs, r.maxAbs)
    }
    return { status: 'passed', op, maxAbsError: maxAbs }
  } catch (e) {
    return { status: 'error', op, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
  }
}

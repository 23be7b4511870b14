/**
 * exportOnnx: trace one forward pass into an ONNX ModelProto.
 *
 * Every op goes through `apply` (op.ts); while tracing, each op with a lowering becomes graph nodes
 * (a composite such as LayerNorm becomes its one native node). Tensors flow by identity: example
 * inputs become graph inputs, parameters and buffers become initializers named by their module path
 * (`layer1.0.conv1.weight`), any other tensor an op reads is a constant initializer, and the forward
 * result becomes the graph output. The module is exported in eval mode.
 */
import { noGrad } from '../autograd.js'
import type { DType } from '../dtype.js'
import { OnnxExportError } from '../errors.js'
import type { Module } from '../nn/module.js'
import { type AttrValue, type LoweringContext, type OpDef, withTracer } from '../op.js'
import { Tensor } from '../tensor.js'
import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
  AttributeType,
  OnnxDataType,
  encodeModel,
} from './proto.js'
import { arrayToTensorProto } from './tensor-data.js'

export interface ExportOptions {
  /** Target opset (default 17); ops that need newer ones (Gelu 20, Attention 23) raise it when used. */
  opset?: number
  inputNames?: string[]
  outputNames?: string[]
  /** Symbolic dims: `{ input: { 0: 'batch' } }` marks dim 0 of `input` dynamic. */
  dynamicAxes?: Record<string, Record<number, string>>
  /** Model doc string. */
  docString?: string
}

export const DEFAULT_OPSET = 17

export const onnxDataType: Record<DType, number> = {
  float32: OnnxDataType.FLOAT,
  float64: OnnxDataType.DOUBLE,
  int32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
}

/**
 * Attribute names whose ONNX type is FLOAT even when the value is a whole number (alpha = 1).
 * Every other number becomes INT, number[] INTS, string STRING.
 */
const FLOAT_ATTRS = new Set([
  'alpha',
  'beta',
  'gamma',
  'epsilon',
  'momentum',
  'bias',
  'lambd',
  'ratio',
  'spatial_scale',
  'extrapolation_value',
  'cubic_coeff_a',
  'scale',
  'k',
  'value_float',
  'min',
  'max',
  'fmod_float',
  'iou_threshold',
  'score_threshold',
  'softcap',
])
const FLOATS_ATTRS = new Set(['scales', 'activation_alpha', 'activation_beta', 'value_floats'])

function toAttribute(name: string, v: AttrValue): AttributeProto | null {
  if (v === undefined) return null
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) }
  if (typeof v === 'number')
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v)
      ? { name, type: AttributeType.FLOAT, f: v }
      : { name, type: AttributeType.INT, i: v }
  if (v instanceof Tensor) return { name, type: AttributeType.TENSOR, t: tensorToProto(name, v) }
  if (v.length > 0 && typeof v[0] === 'string')
    return { name, type: AttributeType.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) }
  const nums = v as number[]
  return FLOATS_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x))
    ? { name, type: AttributeType.FLOATS, floats: nums }
    : { name, type: AttributeType.INTS, ints: nums }
}

/**
 * A TensorProto holding a copy of `t`'s values, or with `share`, a view of them (float tensors; for a proto that
 * is serialized at once and dropped, as exportOnnx's are: a large model's weights are then copied only into the
 * serialized bytes).
 */
export function tensorToProto(name: string, t: Tensor, share = false): TensorProto {
  const d = t.data
  if (
    share &&
    ((t.dtype === 'float32' && d instanceof Float32Array) || (t.dtype === 'float64' && d instanceof Float64Array))
  )
    return {
      name,
      dataType: onnxDataType[t.dtype],
      dims: [...t.shape],
      rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
    }
  return arrayToTensorProto(name, onnxDataType[t.dtype], [...t.shape], d)
}

interface Recorded {
  op: OpDef<any>
  inputs: Tensor[]
  attrs: unknown
  outputs: Tensor[]
}

/** Trace `module` on `inputs` and return the serialized ModelProto. */
export function exportOnnx<I extends Tensor[]>(
  module: Module<I, Tensor | Tensor[]>,
  inputs: I,
  opts: ExportOptions = {},
): Uint8Array {
  return encodeModel(traceModel(module, inputs, opts, true))
}

/** Like exportOnnx, but returns the ModelProto object (for inspection and tests); its initializers own their data. */
export function exportOnnxModel<I extends Tensor[]>(
  module: Module<I, Tensor | Tensor[]>,
  inputs: I,
  opts: ExportOptions = {},
): ModelProto {
  return traceModel(module, inputs, opts, false)
}

/** The traced ModelProto; with `shareData` the weights' initializers are views of the parameters (see tensorToProto). */
function traceModel<I extends Tensor[]>(
  module: Module<I, Tensor | Tensor[]>,
  inputs: I,
  opts: ExportOptions,
  shareData: boolean,
): ModelProto {
  const wasTraining = module.training
  module.eval()
  const recorded: Recorded[] = []
  let result: Tensor | Tensor[]
  try {
    result = noGrad(() =>
      withTracer(
        {
          record: (op, ins, attrs, out) =>
            recorded.push({ op, inputs: ins, attrs, outputs: Array.isArray(out) ? out : [out] }),
        },
        () => module.call(...inputs),
      ),
    )
  } finally {
    module.train(wasTraining)
  }
  const outputs = Array.isArray(result) ? result : [result]

  const names = new Map<Tensor, string>()
  const used = new Set<string>()
  const unique = (base: string) => {
    let n = base
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`
    used.add(n)
    return n
  }
  const graphInputs: ValueInfoProto[] = []
  const inputNames = inputs.map((_t, i) => opts.inputNames?.[i] ?? (inputs.length === 1 ? 'input' : `input_${i}`))
  inputs.forEach((t, i) => {
    names.set(t, unique(inputNames[i]!))
    graphInputs.push(valueInfo(inputNames[i]!, t, opts.dynamicAxes?.[inputNames[i]!]))
  })
  const initializers: TensorProto[] = []
  for (const [k, t] of Object.entries(module.stateDict())) if (!names.has(t)) names.set(t, unique(k))
  const stateNames = new Set(Object.keys(module.stateDict()))

  const nodes: NodeProto[] = []
  let opset = opts.opset ?? DEFAULT_OPSET
  const constants = new Map<Tensor, string>()
  let counter = 0
  const nameOf = (t: Tensor): string => {
    const n = names.get(t)
    if (n !== undefined) return n
    // A tensor no traced op produced: a constant (a mask, a scalar operand, a creation op's result).
    const c = unique(`const_${constants.size}`)
    constants.set(t, c)
    names.set(t, c)
    return c
  }

  const ctx: LoweringContext = {
    get opset() {
      return opset
    },
    requireOpset(v) {
      opset = Math.max(opset, v)
    },
    node(opType, ins, attrs = {}, o = {}) {
      const outs = Array.from({ length: o.outputs ?? 1 }, () => unique(`${opType.toLowerCase()}_${counter}`))
      counter++
      const attribute = Object.entries(attrs).flatMap(([k, v]) => toAttribute(k, v) ?? [])
      nodes.push({
        input: ins,
        output: outs,
        name: unique(`${opType}_${nodes.length}`),
        opType,
        attribute,
        domain: o.domain ?? '',
      })
      return outs
    },
    constant(values, dtype = 'float32', shape) {
      const name = unique(`const_${constants.size + initializers.length}`)
      if (values instanceof Tensor) {
        initializers.push(tensorToProto(name, values))
      } else {
        const type = {
          float32: OnnxDataType.FLOAT,
          float64: OnnxDataType.DOUBLE,
          int64: OnnxDataType.INT64,
          int32: OnnxDataType.INT32,
          bool: OnnxDataType.BOOL,
        }[dtype]
        const data =
          dtype === 'int64'
            ? BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))))
            : dtype === 'float64'
              ? Float64Array.from(values)
              : dtype === 'int32'
                ? Int32Array.from(values)
                : dtype === 'bool'
                  ? Uint8Array.from(values)
                  : Float32Array.from(values)
        initializers.push(arrayToTensorProto(name, type, shape ?? [values.length], data))
      }
      return name
    },
  }

  for (const r of recorded) {
    if (r.op.onnx === undefined)
      throw new OnnxExportError(
        `op ${r.op.name} has no ONNX lowering, so ${module.constructor.name} cannot be exported`,
      )
    const ins = r.inputs.map(nameOf)
    const lowered =
      typeof r.op.onnx === 'string'
        ? ctx.node(r.op.onnx, ins, r.attrs as Record<string, AttrValue>)
        : r.op.onnx(ctx, ins, {
            inputs: r.inputs,
            output: r.outputs.length === 1 ? r.outputs[0]! : r.outputs,
            attrs: r.attrs,
          })
    const outNames = Array.isArray(lowered) ? lowered : [lowered]
    r.outputs.forEach((t, i) => {
      names.set(t, outNames[i]!)
    })
  }

  // Graph outputs: rename the producing node's output (or add an Identity for a pass-through).
  const outputNames = outputs.map((_t, i) => opts.outputNames?.[i] ?? (outputs.length === 1 ? 'output' : `output_${i}`))
  outputs.forEach((t, i) => {
    const from = nameOf(t)
    const to = outputNames[i]!
    const producer = nodes.find((n) => n.output.includes(from))
    if (producer && !inputNames.includes(from) && !outputNames.slice(0, i).includes(from)) {
      producer.output = producer.output.map((o) => (o === from ? to : o))
      for (const n of nodes) n.input = n.input.map((x) => (x === from ? to : x))
    } else {
      nodes.push({
        input: [from],
        output: [to],
        name: unique(`Identity_${nodes.length}`),
        opType: 'Identity',
        attribute: [],
        domain: '',
      })
    }
    names.set(t, to)
  })

  // Keep only what the outputs need.
  const needed = new Set(outputNames)
  const live: NodeProto[] = []
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!
    if (!n.output.some((o) => needed.has(o))) continue
    live.unshift(n)
    for (const x of n.input) if (x) needed.add(x)
  }
  for (const [t, k] of names) if (stateNames.has(k) && needed.has(k)) initializers.push(tensorToProto(k, t, shareData))
  for (const [t, k] of constants) if (needed.has(k)) initializers.push(tensorToProto(k, t))

  const graph: GraphProto = {
    name: module.constructor.name,
    node: live,
    initializer: initializers.filter((t) => needed.has(t.name ?? '')),
    input: graphInputs,
    output: outputs.map((t, i) => valueInfo(outputNames[i]!, t, opts.dynamicAxes?.[outputNames[i]!])),
  }
  return {
    irVersion: opset >= 21 ? 10 : 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'refnets',
    producerVersion: '0.1.0',
    docString: opts.docString ?? '',
    graph,
  }
}

function valueInfo(name: string, t: Tensor, dynamic?: Record<number, string>): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxDataType[t.dtype],
        shape: {
          dim: t.shape.map((d, i) => (dynamic?.[i] !== undefined ? { dimParam: dynamic[i] } : { dimValue: d })),
        },
      },
    },
  }
}

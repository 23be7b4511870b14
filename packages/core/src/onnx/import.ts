/**
 * loadOnnx: run an ONNX graph on refnets kernels. Initializers become tensors (float ones become
 * Parameters, so a loaded graph can be fine-tuned where every op has a backward); each node is
 * evaluated by the op table in `ops-table.ts`, in graph order. Model files are data: loading one
 * parses protobuf and never executes code from it.
 */
import { noGrad } from '../autograd.js'
import type { DType } from '../dtype.js'
import { DTypeError, RefnetsError, ShapeError } from '../errors.js'
import { Module, Parameter } from '../nn/module.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { type NodeOutput, type OnnxValue, onnxOps } from './ops-table.js'
import {
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
  attributeValue,
  decodeModel,
} from './proto.js'
import { tensorProtoToTensor } from './values.js'

export interface OnnxIO {
  name: string
  /** ONNX elem type number (1 float, 7 int64, ...) as declared. */
  elemType: number
  /** Declared dims: a number, or a symbolic name for a dynamic dim. */
  shape: (number | string)[]
}

function ioInfo(v: ValueInfoProto): OnnxIO {
  const tt = v.type?.tensorType
  return {
    name: v.name ?? '',
    elemType: tt?.elemType ?? 0,
    shape: (tt?.shape?.dim ?? []).map((d) =>
      d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : (d.dimParam ?? '?'),
    ),
  }
}

/** An ONNX graph as a refnets Module: `forward(...inputs)` returns the graph outputs in order. */
export class OnnxModule extends Module<Tensor[], Tensor[]> {
  readonly inputs: OnnxIO[]
  readonly outputs: OnnxIO[]
  readonly opset: number
  /** Initializers by name (float ones are Parameters). */
  readonly initializers: Map<string, Tensor>

  constructor(readonly model: ModelProto) {
    super()
    const g = model.graph
    if (!g) throw new OnnxImportError('the model has no graph (ModelProto field 7 is empty)')
    this.opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 1
    this.initializers = new Map()
    for (const t of g.initializer ?? []) {
      const v = tensorProtoToTensor(t)
      this.initializers.set(t.name ?? '', v.dtype === 'float32' || v.dtype === 'float64' ? new Parameter(v) : v)
    }
    this.inputs = (g.input ?? []).filter((i) => !this.initializers.has(i.name ?? '')).map(ioInfo)
    this.outputs = (g.output ?? []).map(ioInfo)
    for (const n of g.node ?? []) {
      if (n.domain && n.domain !== 'ai.onnx')
        throw new OnnxImportError(
          `node ${describe(n)}: domain '${n.domain}' is not supported (only the default ai.onnx domain)`,
        )
      if (!onnxOps[n.opType ?? ''])
        throw new OnnxImportError(`node ${describe(n)}: op ${n.opType} is not supported by refnets`)
    }
  }

  /** Parameters are the float initializers, named by their ONNX names. */
  override *namedParameters(): Iterable<[string, Parameter]> {
    for (const [k, v] of this.initializers) if (v instanceof Parameter) yield [k, v]
  }

  forward(...inputs: OnnxValue[]): Tensor[] {
    return this.run(inputs) as Tensor[]
  }

  /** Run with inputs in graph order or by name; returns outputs in graph order. */
  run(feeds: OnnxValue[] | Record<string, OnnxValue>): OnnxValue[] {
    const values = new Map<string, OnnxValue>()
    for (const [k, v] of this.initializers) values.set(k, v)
    this.inputs.forEach((io, i) => {
      const v = Array.isArray(feeds) ? feeds[i] : feeds[io.name]
      if (v === undefined)
        throw new OnnxImportError(
          `missing input '${io.name}' (expected ${this.inputs.length} inputs: ${this.inputs.map((x) => x.name).join(', ')})`,
        )
      if (v instanceof Tensor) checkInput(io, v)
      values.set(io.name, v)
    })
    runGraph(this.model.graph!, values, this.opset, !this.training)
    return this.outputs.map((o) => {
      const v = values.get(o.name)
      if (v === undefined) throw new OnnxImportError(`graph output '${o.name}' was never produced`)
      return v
    })
  }
}

const elemDType: Record<number, DType> = {
  1: 'float32',
  10: 'float32',
  16: 'float32',
  11: 'float64',
  9: 'bool',
  2: 'int32',
  3: 'int32',
  4: 'int32',
  5: 'int32',
  6: 'int32',
  7: 'int32',
  12: 'int32',
}

function checkInput(io: OnnxIO, t: Tensor): void {
  const want = elemDType[io.elemType]
  if (want && want !== t.dtype)
    throw new DTypeError(`input '${io.name}': expected ${want} (ONNX type ${io.elemType}), got ${t.dtype}`)
  if (io.shape.length && io.shape.length !== t.rank)
    throw new ShapeError(
      `input '${io.name}': expected rank ${io.shape.length} (${fmt(io.shape as number[])}), got shape ${fmt(t.shape)}`,
    )
  io.shape.forEach((d, i) => {
    if (typeof d === 'number' && d > 0 && t.shape[i] !== d)
      throw new ShapeError(
        `input '${io.name}': expected dim ${i} to be ${d} (shape ${fmt(io.shape as number[])}), got shape ${fmt(t.shape)}`,
      )
  })
}

const describe = (n: NodeProto) => `'${n.name || '(unnamed)'}' (${n.opType})`

/** Evaluate every node of `g` in order, reading and writing `values` by name. */
export function runGraph(g: GraphProto, values: Map<string, OnnxValue>, opset: number, inference: boolean): void {
  for (const n of g.node ?? []) {
    const impl = onnxOps[n.opType ?? '']
    if (!impl) throw new OnnxImportError(`node ${describe(n)}: op ${n.opType} is not supported by refnets`)
    const inputs = (n.input ?? []).map((name) => {
      if (!name) return null
      const v = values.get(name)
      if (v === undefined)
        throw new OnnxImportError(
          `node ${describe(n)}: input '${name}' is not defined by any graph input, initializer or earlier node`,
        )
      return v
    })
    const attrs: Record<string, unknown> = {}
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = attributeValue(a)
    let out: NodeOutput
    try {
      const call = () =>
        impl({
          inputs,
          attrs,
          opset,
          node: n,
          inference,
          outputCount: (n.output ?? []).length,
          runSubgraph: (sub, bound) => {
            const scope = new Map(values)
            for (const [k, v] of Object.entries(bound)) scope.set(k, v)
            runGraph(sub, scope, opset, inference)
            return (sub.output ?? []).map((o) => scope.get(o.name ?? '')!)
          },
        })
      out = inference ? noGrad(call) : call()
    } catch (e) {
      if (e instanceof OnnxImportError) throw e
      if (e instanceof RefnetsError) throw new OnnxImportError(`node ${describe(n)}: ${e.message}`)
      throw e
    }
    const outs = Array.isArray(out) ? out : [out]
    ;(n.output ?? []).forEach((name, i) => {
      if (name && outs[i] !== undefined && outs[i] !== null) values.set(name, outs[i]!)
    })
  }
}

/** Parse ONNX bytes and return a runnable module. A malformed file or unsupported op throws. */
export function loadOnnx(bytes: Uint8Array): OnnxModule {
  return new OnnxModule(decodeModel(bytes))
}

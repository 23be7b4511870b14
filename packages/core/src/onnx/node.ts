/**
 * What an ONNX operator implementation of loadOnnx sees and returns: the node's inputs, attributes
 * and opset (NodeContext), and its outputs (tensors, sequences, or null for an absent optional).
 * The implementations live in ops-*.ts, merged by ops-table.ts.
 */
import type { Tensor } from '../tensor.js'
import type { GraphProto, NodeProto } from './proto.js'

/** An ONNX sequence value (SplitToSequence, SequenceProto inputs). */
export class OnnxSequence {
  constructor(readonly items: OnnxValue[]) {}
}

/** A value in a graph: a tensor, a sequence, or null (an absent optional). */
export type OnnxValue = Tensor | OnnxSequence | null
/** What a node returns: its one output, or an array of its outputs in order. */
export type NodeOutput = OnnxValue | OnnxValue[]

export interface NodeContext {
  inputs: (OnnxValue | null)[]
  attrs: Record<string, unknown>
  opset: number
  node: NodeProto
  /** True when running for inference (Dropout is identity, BatchNormalization uses running stats). */
  inference: boolean
  outputCount: number
  runSubgraph: (g: GraphProto, bound: Record<string, OnnxValue>) => OnnxValue[]
}

export type OnnxOpImpl = (ctx: NodeContext) => NodeOutput

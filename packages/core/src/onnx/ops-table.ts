/**
 * The ONNX operator table of loadOnnx: op type -> implementation on refnets ops. Each entry reads
 * its inputs and attributes as the ONNX spec defines them for the model's opset, and returns its
 * outputs. Families live in ops-*.ts files; this file merges them.
 */
import type { Tensor } from '../tensor.js'
import type { GraphProto, NodeProto } from './proto.js'
import { basicOps } from './ops-basic.js'
import { lossOps } from './ops-loss.js'
import { miscOps } from './ops-misc.js'
import { castOps } from './ops-cast.js'
import { attentionOps } from './ops-attention.js'
import { resizeOps } from './ops-resize.js'
import { convOps } from './ops-conv.js'
import { rnnOps } from './ops-rnn.js'
import { detectionOps } from './ops-detection.js'

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

export const onnxOps: Record<string, OnnxOpImpl> = {
  ...basicOps,
  ...lossOps,
  ...miscOps,
  ...castOps,
  ...attentionOps,
  ...resizeOps,
  ...convOps,
  ...rnnOps,
  ...detectionOps,
}

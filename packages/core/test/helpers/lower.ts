/** Export a function of tensors to ONNX and read back its graph nodes, for tests of what an op exports as. */
import { Module, type Tensor, onnx } from '../../src/index.js'

export interface LoweredNode {
  /** The ONNX op type. */
  op: string
  /** How many inputs and outputs the node has. */
  inputs: number
  outputs: number
  /** The node's attributes, decoded (numbers, lists, strings). */
  attrs: Record<string, unknown>
}

/** Trace `fn` on `inputs` through the ONNX export and return the exported nodes in graph order. */
export function lower(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor | Tensor[]): LoweredNode[] {
  class Fn extends Module<Tensor[], Tensor> {
    forward(...xs: Tensor[]) {
      return fn(...xs)
    }
  }
  const model = onnx.exportOnnxModel(new Fn(), Array.isArray(inputs) ? inputs : [inputs])
  return model.graph!.node!.map((n) => ({
    op: n.opType!,
    inputs: n.input.length,
    outputs: n.output.length,
    attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name!, onnx.attributeValue(a)])),
  }))
}

/** Build one-node ONNX models in tests, the way the ONNX node tests are laid out. */
import {
  type AttributeProto,
  type TensorProto,
  AttributeType,
  OnnxDataType,
  encodeModel,
  encodeTensorProto,
} from '../../src/onnx/proto.js'
import { arrayToTensorProto } from '../../src/onnx/tensor-data.js'

export type IO = [name: string, elemType: number, dims: number[]]

export function intsAttr(name: string, ints: number[]): AttributeProto {
  return { name, type: AttributeType.INTS, ints }
}

export function floatAttr(name: string, f: number): AttributeProto {
  return { name, type: AttributeType.FLOAT, f }
}

/** A model with one node `opType` reading `inputs` (in order) and writing `outputs`. */
export function nodeModel(
  opType: string,
  inputs: IO[],
  outputs: IO[],
  attribute: AttributeProto[] = [],
  opset = 17,
  initializer: TensorProto[] = [],
): Uint8Array {
  const vi = ([name, elemType, dims]: IO) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  })
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'g',
      node: [
        {
          opType,
          input: [...inputs.map((i) => i[0]), ...initializer.map((t) => t.name!)],
          output: outputs.map((o) => o[0]),
          attribute,
        },
      ],
      input: inputs.map(vi),
      output: outputs.map(vi),
      initializer,
    },
  })
}

/** A serialized TensorProto (.pb file of a node test). */
export function pb(dataType: number, dims: number[], data: ArrayLike<number> | BigInt64Array): Uint8Array {
  return encodeTensorProto(arrayToTensorProto('', dataType, dims, data))
}

export { OnnxDataType }

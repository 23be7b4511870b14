/**
 * The subset of onnx.proto / onnx-data.proto that refnets reads and writes, as plain TypeScript
 * objects. The wire format is handled by the maintained protobufjs library; the schema below is
 * written out with the official field numbers (onnx/onnx.proto, IR version 10+).
 */
import protobuf from 'protobufjs/light.js'
import { OnnxFormatError } from './errors.js'

/** TensorProto.DataType */
export const OnnxDataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const

/** AttributeProto.AttributeType */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const

export interface OperatorSetId {
  domain?: string
  version?: number
}
export interface StringStringEntry {
  key?: string
  value?: string
}
export interface TensorProto {
  dims?: number[]
  dataType?: number
  floatData?: number[]
  int32Data?: number[]
  stringData?: Uint8Array[]
  int64Data?: (number | bigint)[]
  name?: string
  rawData?: Uint8Array
  doubleData?: number[]
  uint64Data?: (number | bigint)[]
  docString?: string
  dataLocation?: number
  externalData?: StringStringEntry[]
}
export interface Dimension {
  dimValue?: number
  dimParam?: string
  denotation?: string
}
export interface TypeProto {
  tensorType?: { elemType?: number; shape?: { dim?: Dimension[] } }
  sequenceType?: { elemType?: TypeProto }
  mapType?: { keyType?: number; valueType?: TypeProto }
  optionalType?: { elemType?: TypeProto }
  denotation?: string
}
export interface ValueInfoProto {
  name?: string
  type?: TypeProto
  docString?: string
}
export interface AttributeProto {
  name?: string
  refAttrName?: string
  docString?: string
  type?: number
  f?: number
  i?: number
  s?: Uint8Array
  t?: TensorProto
  g?: GraphProto
  floats?: number[]
  ints?: number[]
  strings?: Uint8Array[]
  tensors?: TensorProto[]
  graphs?: GraphProto[]
  tp?: TypeProto
}
export interface NodeProto {
  input: string[]
  output: string[]
  name?: string
  opType?: string
  domain?: string
  attribute?: AttributeProto[]
  docString?: string
}
export interface GraphProto {
  node?: NodeProto[]
  name?: string
  initializer?: TensorProto[]
  docString?: string
  input?: ValueInfoProto[]
  output?: ValueInfoProto[]
  valueInfo?: ValueInfoProto[]
}
export interface ModelProto {
  irVersion?: number
  opsetImport?: OperatorSetId[]
  producerName?: string
  producerVersion?: string
  domain?: string
  modelVersion?: number
  docString?: string
  graph?: GraphProto
  metadataProps?: StringStringEntry[]
}
export interface SequenceProto {
  name?: string
  elemType?: number
  tensorValues?: TensorProto[]
  sequenceValues?: SequenceProto[]
  optionalValues?: OptionalProto[]
}
export interface OptionalProto {
  name?: string
  elemType?: number
  tensorValue?: TensorProto
  sequenceValue?: SequenceProto
  optionalValue?: OptionalProto
}

const f = (id: number, type: string, rule?: 'repeated') => (rule ? { id, type, rule } : { id, type })

/** onnx.proto field numbers. Packed repeated scalars decode either packed or not (protobufjs accepts both). */
const schema = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: f(1, 'string'), value: f(2, 'string') } },
        OperatorSetIdProto: { fields: { domain: f(1, 'string'), version: f(2, 'int64') } },
        TensorProto: {
          fields: {
            dims: f(1, 'int64', 'repeated'),
            dataType: f(2, 'int32'),
            floatData: f(4, 'float', 'repeated'),
            int32Data: f(5, 'int32', 'repeated'),
            stringData: f(6, 'bytes', 'repeated'),
            int64Data: f(7, 'int64', 'repeated'),
            name: f(8, 'string'),
            rawData: f(9, 'bytes'),
            doubleData: f(10, 'double', 'repeated'),
            uint64Data: f(11, 'uint64', 'repeated'),
            docString: f(12, 'string'),
            externalData: f(13, 'StringStringEntryProto', 'repeated'),
            dataLocation: f(14, 'int32'),
          },
        },
        TensorShapeProto: {
          fields: { dim: f(1, 'Dimension', 'repeated') },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: f(1, 'int64'), dimParam: f(2, 'string'), denotation: f(3, 'string') },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType', 'sequenceType', 'mapType', 'optionalType'] } },
          fields: {
            tensorType: f(1, 'Tensor'),
            sequenceType: f(4, 'Sequence'),
            mapType: f(5, 'Map'),
            optionalType: f(9, 'Optional'),
            denotation: f(6, 'string'),
          },
          nested: {
            Tensor: { fields: { elemType: f(1, 'int32'), shape: f(2, 'TensorShapeProto') } },
            Sequence: { fields: { elemType: f(1, 'TypeProto') } },
            Map: { fields: { keyType: f(1, 'int32'), valueType: f(2, 'TypeProto') } },
            Optional: { fields: { elemType: f(1, 'TypeProto') } },
          },
        },
        ValueInfoProto: { fields: { name: f(1, 'string'), type: f(2, 'TypeProto'), docString: f(3, 'string') } },
        AttributeProto: {
          fields: {
            name: f(1, 'string'),
            refAttrName: f(21, 'string'),
            docString: f(13, 'string'),
            type: f(20, 'int32'),
            f: f(2, 'float'),
            i: f(3, 'int64'),
            s: f(4, 'bytes'),
            t: f(5, 'TensorProto'),
            g: f(6, 'GraphProto'),
            floats: f(7, 'float', 'repeated'),
            ints: f(8, 'int64', 'repeated'),
            strings: f(9, 'bytes', 'repeated'),
            tensors: f(10, 'TensorProto', 'repeated'),
            graphs: f(11, 'GraphProto', 'repeated'),
            tp: f(14, 'TypeProto'),
          },
        },
        NodeProto: {
          fields: {
            input: f(1, 'string', 'repeated'),
            output: f(2, 'string', 'repeated'),
            name: f(3, 'string'),
            opType: f(4, 'string'),
            domain: f(7, 'string'),
            attribute: f(5, 'AttributeProto', 'repeated'),
            docString: f(6, 'string'),
          },
        },
        GraphProto: {
          fields: {
            node: f(1, 'NodeProto', 'repeated'),
            name: f(2, 'string'),
            initializer: f(5, 'TensorProto', 'repeated'),
            docString: f(10, 'string'),
            input: f(11, 'ValueInfoProto', 'repeated'),
            output: f(12, 'ValueInfoProto', 'repeated'),
            valueInfo: f(13, 'ValueInfoProto', 'repeated'),
          },
        },
        ModelProto: {
          fields: {
            irVersion: f(1, 'int64'),
            opsetImport: f(8, 'OperatorSetIdProto', 'repeated'),
            producerName: f(2, 'string'),
            producerVersion: f(3, 'string'),
            domain: f(4, 'string'),
            modelVersion: f(5, 'int64'),
            docString: f(6, 'string'),
            graph: f(7, 'GraphProto'),
            metadataProps: f(14, 'StringStringEntryProto', 'repeated'),
          },
        },
        // onnx-data.proto
        SequenceProto: {
          fields: {
            name: f(1, 'string'),
            elemType: f(2, 'int32'),
            tensorValues: f(3, 'TensorProto', 'repeated'),
            sequenceValues: f(5, 'SequenceProto', 'repeated'),
            optionalValues: f(7, 'OptionalProto', 'repeated'),
          },
        },
        OptionalProto: {
          fields: {
            name: f(1, 'string'),
            elemType: f(2, 'int32'),
            tensorValue: f(3, 'TensorProto'),
            sequenceValue: f(5, 'SequenceProto'),
            optionalValue: f(7, 'OptionalProto'),
          },
        },
      },
    },
  },
}

const root = protobuf.Root.fromJSON(schema)
const type = (name: string) => root.lookupType(`onnx.${name}`)
const T = {
  Model: type('ModelProto'),
  Graph: type('GraphProto'),
  Tensor: type('TensorProto'),
  Sequence: type('SequenceProto'),
  Optional: type('OptionalProto'),
}

// int64 fields come back as numbers (exact up to 2^53; INT64_MAX-style sentinels round to 2^63,
// which keeps their meaning "to the end" for Slice and friends).
const toObjectOptions: protobuf.IConversionOptions = { longs: Number, arrays: true, defaults: false }

function decode<R>(t: protobuf.Type, bytes: Uint8Array, what: string): R {
  try {
    return t.toObject(t.decode(bytes), toObjectOptions) as R
  } catch (e) {
    throw new OnnxFormatError(`not a valid ONNX ${what}: ${(e as Error).message} (${bytes.length} bytes)`)
  }
}

function encode(t: protobuf.Type, obj: object): Uint8Array {
  return t.encode(t.fromObject(obj)).finish()
}

export const decodeModel = (bytes: Uint8Array): ModelProto => {
  const m = decode<ModelProto>(T.Model, bytes, 'ModelProto')
  if (!m.graph)
    throw new OnnxFormatError(`not a valid ONNX ModelProto: it has no graph (field 7) (${bytes.length} bytes)`)
  return m
}
/**
 * Serialize a ModelProto. The graph's initializers are most of a model's bytes, and protobufjs would copy each
 * of them several times (growing its buffer by doubling, then shifting everything after a message's start to fit
 * each enclosing message's length prefix: VGG-16's 553 MB took ~6 s). So protobufjs encodes everything but the
 * initializers' raw_data, and the bytes are assembled once into a buffer of the exact size: the model without
 * its graph, then the graph (field 7) as its own fields followed by each initializer (field 5), each being its
 * fields followed by raw_data (field 9). Protobuf fields may come in any order, so this decodes to the same
 * message as protobufjs' own encoding.
 */
export function encodeModel(m: ModelProto): Uint8Array {
  const inits = m.graph?.initializer ?? []
  if (!inits.some((t) => t.rawData?.length)) return encode(T.Model, m)
  const graph = [encode(T.Graph, { ...m.graph, initializer: [] })]
  for (const { rawData, ...rest } of inits) {
    const tensor = [encode(T.Tensor, rest), ...(rawData ? [fieldPrefix(9, rawData.length), rawData] : [])]
    graph.push(fieldPrefix(5, totalLength(tensor)), ...tensor)
  }
  const parts = [encode(T.Model, { ...m, graph: undefined }), fieldPrefix(7, totalLength(graph)), ...graph]
  const out = new Uint8Array(totalLength(parts))
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

/** A length-delimited field's key (field number << 3 | wire type 2) and its length, as protobufjs writes them. */
const fieldPrefix = (field: number, length: number) =>
  protobuf.Writer.create()
    .uint32((field << 3) | 2)
    .uint32(length)
    .finish()
const totalLength = (parts: Uint8Array[]) => parts.reduce((n, p) => n + p.length, 0)

export const decodeTensorProto = (bytes: Uint8Array): TensorProto => decode(T.Tensor, bytes, 'TensorProto')
export const encodeTensorProto = (t: TensorProto): Uint8Array => encode(T.Tensor, t)
export const decodeSequenceProto = (bytes: Uint8Array): SequenceProto => decode(T.Sequence, bytes, 'SequenceProto')
export const decodeOptionalProto = (bytes: Uint8Array): OptionalProto => decode(T.Optional, bytes, 'OptionalProto')

/** The JS value of an attribute, by its declared type. Strings are UTF-8 decoded. */
export function attributeValue(a: AttributeProto): unknown {
  const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b ?? new Uint8Array())
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f ?? 0
    case AttributeType.INT:
      return a.i ?? 0
    case AttributeType.STRING:
      return text(a.s)
    case AttributeType.TENSOR:
      return a.t
    case AttributeType.GRAPH:
      return a.g
    case AttributeType.FLOATS:
      return a.floats ?? []
    case AttributeType.INTS:
      return a.ints ?? []
    case AttributeType.STRINGS:
      return (a.strings ?? []).map(text)
    case AttributeType.TENSORS:
      return a.tensors ?? []
    case AttributeType.GRAPHS:
      return a.graphs ?? []
    default:
      throw new OnnxFormatError(`attribute '${a.name}': type ${a.type} is not supported`)
  }
}

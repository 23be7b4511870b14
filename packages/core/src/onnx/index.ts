export {
  exportOnnx,
  exportOnnxModel,
  DEFAULT_OPSET,
  onnxDataType,
  tensorToProto,
  type ExportOptions,
} from './export.js'
export { loadOnnx, OnnxModule, runGraph, type OnnxIO } from './import.js'
export { onnxOps, OnnxSequence, type OnnxOpImpl, type OnnxValue, type NodeContext } from './ops-table.js'
export { OnnxExportError } from '../errors.js'
export { OnnxFormatError, OnnxImportError } from './errors.js'
export { runCase, compareValues, decodeValue, type CaseFiles, type CaseResult } from './conformance.js'
export * from './proto.js'
export { tensorProtoToArray, arrayToTensorProto } from './tensor-data.js'
export { tensorProtoToTensor, declaredType } from './values.js'
export { castTo } from './ops-cast.js'

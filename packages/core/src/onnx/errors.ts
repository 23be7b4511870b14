/** Errors of the ONNX layer: malformed bytes, unsupported import, impossible export. */
import { RefnetsError } from '../errors.js'

/** The bytes are not a well-formed ONNX protobuf (or a tensor's data does not fit its dims). */
export class OnnxFormatError extends RefnetsError {
  override name = 'OnnxFormatError'
}

/** A model cannot be run by loadOnnx: an unsupported op or type, a missing input, ... */
export class OnnxImportError extends RefnetsError {
  override name = 'OnnxImportError'
}

/** A module cannot be exported: an op without an ONNX lowering, ... */
export class OnnxExportError extends RefnetsError {
  override name = 'OnnxExportError'
}

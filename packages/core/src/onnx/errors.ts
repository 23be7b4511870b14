/**
 * Errors of the ONNX reader: malformed bytes, unsupported import. The export error, which op
 * lowerings raise too, is OnnxExportError in ../errors.ts.
 */
import { RefnetsError } from '../errors.js'

/** The bytes are not a well-formed ONNX protobuf (or a tensor's data does not fit its dims). */
export class OnnxFormatError extends RefnetsError {
  override name = 'OnnxFormatError'
}

/** A model cannot be run by loadOnnx: an unsupported op or type, a missing input, ... */
export class OnnxImportError extends RefnetsError {
  override name = 'OnnxImportError'
}

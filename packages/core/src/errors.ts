/**
 * Typed errors. Each says what was expected and what came, so a user can act on it.
 * `where` is the module path (e.g. `layers.2`) when the error is raised inside a module.
 */
export class RefnetsError extends Error {
  override name = 'RefnetsError'
}

/** Shapes do not fit the operation: broadcasting, matmul inner dims, reshape sizes, ... */
export class ShapeError extends RefnetsError {
  override name = 'ShapeError'
}

/** The dtype is not one the operation accepts, or two operands disagree. */
export class DTypeError extends RefnetsError {
  override name = 'DTypeError'
}

/** An argument is out of range or of the wrong kind (an axis, a probability, an option). */
export class ArgumentError extends RefnetsError {
  override name = 'ArgumentError'
}

/** A state dict does not fit a module: missing, unexpected or mis-shaped tensors. */
export class StateDictError extends RefnetsError {
  override name = 'StateDictError'
  constructor(
    message: string,
    readonly missing: string[] = [],
    readonly unexpected: string[] = [],
    readonly mismatched: string[] = [],
  ) {
    super(message)
  }
}

/** A backend cannot run here (no WebAssembly SIMD, no shared memory, worker threads that did not start, memory exhausted). */
export class BackendError extends RefnetsError {
  override name = 'BackendError'
}

/** Autograd misuse: backward on a non-scalar without a gradient, a graph without grad, ... */
export class AutogradError extends RefnetsError {
  override name = 'AutogradError'
}

/**
 * A module cannot be exported to ONNX: an op without an ONNX lowering, an op whose attributes have
 * no ONNX form, ... Defined here rather than in onnx/ because op lowerings (ops/*) raise it too.
 */
export class OnnxExportError extends RefnetsError {
  override name = 'OnnxExportError'
}

/** Prefix an error raised inside a module with that module's path, keeping its class. */
export function withModulePath<E extends Error>(err: E, path: string): E {
  if (path && !err.message.startsWith('in ')) err.message = `in ${path}: ${err.message}`
  return err
}

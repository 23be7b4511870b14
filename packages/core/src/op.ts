/**
 * An op is defined once: how to compute it (a backend kernel, or other ops for a composite), its
 * backward (written with ops, so it works on every backend and can be differentiated again), and
 * its ONNX lowering. `apply` is the single door every op goes through: it records the autograd
 * node and, while an ONNX export is tracing, the graph node.
 */
import { isGradEnabled, noGrad } from './autograd.js'
import type { Tensor } from './tensor.js'

export type AttrValue = number | string | number[] | string[] | Tensor | undefined

/** What a lowering function can do while an export is in progress (implemented in onnx/export). */
export interface LoweringContext {
  /** Add a node; returns its output names. */
  node(
    opType: string,
    inputs: string[],
    attrs?: Record<string, AttrValue>,
    opts?: { outputs?: number; domain?: string },
  ): string[]
  /** Add a constant initializer and return its name. */
  constant(
    values: number[] | Tensor,
    dtype?: 'float32' | 'float64' | 'int64' | 'int32' | 'bool',
    shape?: number[],
  ): string
  /** The model needs at least this opset (e.g. Gelu needs 20). */
  requireOpset(version: number): void
  /** The opset the export targets. */
  readonly opset: number
}

export interface LoweringInfo<A> {
  inputs: Tensor[]
  output: Tensor | Tensor[]
  attrs: A
}

/** An ONNX op type (its attributes passed through as they are), or a function that emits nodes. */
export type OnnxLowering<A> =
  | string
  | ((ctx: LoweringContext, inputs: string[], info: LoweringInfo<A>) => string | string[])

export interface OpDef<A = Record<string, never>> {
  /**
   * The op's key: its ONNX op type where one exists (Conv, MaxPool, Attention), else a name of its
   * own (Linear, or a gradient-only op: ONNX type + Grad, as ConvWeightGrad). A primitive's kernel
   * has this key; it is also the op's label in autograd nodes and export errors. Ops of one ONNX
   * type may share it (conv1d is a composite over the 2-D Conv). See docs/architecture.md.
   */
  name: string
  /** Compute the output: dispatch to a kernel (primitive op) or call other ops (composite op). */
  forward: (inputs: Tensor[], attrs: A) => Tensor
  /**
   * Primitive ops: dL/d(input_i) from dL/d(output), written with ops. Composite ops leave this out:
   * their inner ops are recorded and differentiated one by one.
   */
  backward?: (dy: Tensor, ctx: { inputs: Tensor[]; output: Tensor; attrs: A }) => (Tensor | null)[]
  /** How the op exports to ONNX. A composite with a lowering exports as that one node. */
  onnx?: OnnxLowering<A>
}

/** The export tracer (set by onnx/export while tracing a forward pass). */
export interface Tracer {
  record(op: OpDef<any>, inputs: Tensor[], attrs: unknown, output: Tensor | Tensor[]): void
}

let tracer: Tracer | null = null
let traceDepth = 0

export function withTracer<T>(t: Tracer, fn: () => T): T {
  const prev = tracer
  const prevDepth = traceDepth
  tracer = t
  traceDepth = 0
  try {
    return fn()
  } finally {
    tracer = prev
    traceDepth = prevDepth
  }
}

const defined: OpDef<any>[] = []

/** Define an op. Its `name` is its key: see OpDef.name. */
export function defineOp<A = Record<string, never>>(def: OpDef<A>): OpDef<A> {
  defined.push(def)
  return def
}

/**
 * Every op defined so far (by the modules loaded), in definition order: what a test or a tool walks
 * to check that op keys are ONNX op types (docs/architecture.md). Multi-output ops recorded through
 * `applyMulti` are not listed.
 */
export function definedOps(): readonly OpDef<any>[] {
  return defined
}

/** Run `op` on `inputs`, recording autograd and (when exporting) the ONNX node. */
export function apply<A>(op: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  // While tracing, an op with a lowering is one graph node and the ops inside it are not recorded.
  // A composite without a lowering is traced through; a primitive without one is recorded so the
  // export can name it in its error (never silently baked in as a constant).
  const traced = tracer !== null && traceDepth === 0 && (op.onnx !== undefined || op.backward !== undefined)
  let needsGrad = false
  if (op.backward && isGradEnabled()) for (let i = 0; i < inputs.length; i++) needsGrad ||= inputs[i]!.requiresGrad
  // NOTE: the tape and the tracer keep the input list; copy it, so a caller that reuses its array
  // (a dense block pushes to the list it just concatenated) cannot rewrite the recorded graph. An op that
  // records nothing (inference) skips the copy.
  if (traced || needsGrad) inputs = [...inputs]
  if (traced) traceDepth++
  let out: Tensor
  try {
    if (op.backward) {
      // Ops inside a primitive's forward record nothing: without grad-requiring inputs they would not anyway.
      out = needsGrad ? noGrad(() => op.forward(inputs, attrs)) : op.forward(inputs, attrs)
      if (needsGrad) {
        const backward = op.backward
        out.setNode({ op: op.name, inputs, backward: (dy) => backward(dy, { inputs, output: out, attrs }) })
      }
    } else {
      out = op.forward(inputs, attrs)
    }
  } finally {
    if (traced) traceDepth--
  }
  if (traced) tracer!.record(op, inputs, attrs, out)
  return out
}

/**
 * Record an op with several outputs (LSTM, TopK, Split) as one export node. Autograd flows through
 * the ops `fn` is built from; only the export sees it as one node.
 */
export function applyMulti<A>(
  op: { name: string; onnx: OnnxLowering<A> },
  inputs: Tensor[],
  attrs: A,
  fn: () => Tensor[],
): Tensor[] {
  inputs = [...inputs]
  const traced = tracer !== null && traceDepth === 0
  if (traced) traceDepth++
  let outs: Tensor[]
  try {
    outs = fn()
  } finally {
    if (traced) traceDepth--
  }
  if (traced) tracer!.record({ name: op.name, forward: () => outs[0]!, onnx: op.onnx }, inputs, attrs, outs)
  return outs
}

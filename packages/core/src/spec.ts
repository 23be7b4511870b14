/**
 * ModelSpec: how an architecture package registers a model with the tests and the benchmark harness
 * (docs/architecture.md, "Specs, parity and the harness"). Every architecture package exports `specs: ModelSpec[]` from
 * its `src/index.ts`; the registry-driven test file and `pnpm bench` iterate over that array.
 * Registration is the exported array itself, never an import side effect.
 */
import type { Module } from './nn/module.js'
import type { Tensor } from './tensor.js'

/** Input sizes: `small` keeps unit tests fast; `bench` is the realistic size the harness times. */
export type SpecSize = 'small' | 'bench'

export interface ModelSpec {
  /** Unique within the package, kebab-case or the torchvision builder name: `resnet18`, `conv2d-same`. */
  name: string
  /** The family the model belongs to (`resnet`, `vgg`, `layer`, ...), for grouping in reports. */
  family: string
  /** The paper (short citation) that introduced it. */
  paper: string
  /** Build the module with its parameters initialised from `seed`. */
  build(seed: number): Module<any, any>
  /** Seeded example inputs, passed as `module.call(...inputs)`. */
  inputs(size: SpecSize, seed: number): Tensor[]
  /** The shape of the (first) output for `inputs(size)`, checked by the registry-driven tests. */
  outputShape?(size: SpecSize): number[]
  /**
   * Tolerances for cross-checks (ONNX Runtime parity); the harness default applies when absent.
   * Per element |ours - ref| <= atol + rtol |ref|; with `scaled`, the absolute term is
   * atol * max |ref| (scale-aware: max abs error / max |ref| <= atol when rtol is 0). Set them from
   * measured errors with a stated margin, not orders of magnitude above.
   */
  tolerance?: { atol: number; rtol: number; scaled?: boolean }
  /** Whether every parameter must receive a gradient after a backward pass (default true). */
  trainable?: boolean
}

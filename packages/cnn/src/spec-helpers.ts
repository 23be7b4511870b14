/**
 * Helpers for registry entries (ModelSpec): the seeded image spec, input and output shapes, and the
 * ONNX Runtime parity tolerance. src/specs.ts and the model files that export their own
 * `<family>Specs` use them; `imageSpec` is exported for other packages' registries (detection's).
 */
import {
  Generator,
  type Module,
  type ModelSpec,
  type SpecSize,
  type Tensor,
  manualSeed,
  nn,
  randn,
} from '@refnets/core'

export type Shapes = Record<SpecSize, number[]>

/** How far above its measured error a spec's parity bound sits. */
export const PARITY_MARGIN = 5
/** float32's machine epsilon: the smallest error a parity bound is built from (for specs that measure 0). */
const FLOAT32_EPS = 2 ** -23

/**
 * The parity tolerance of a spec from its measured error, scale-aware: an element passes when
 * |refnets - ORT| <= atol * max|ORT|, i.e. max abs error / max |reference| <= atol. `scaledError`
 * is that ratio measured at the small input and seeds of test/specs.test.ts
 * (`pnpm --filter @refnets/cnn parity-errors <name>`; the table is in docs/reliability.md); the
 * bound is PARITY_MARGIN times it (at least float32's epsilon), rounded up to one significant digit.
 * NOTE: the margin covers other CPUs and ONNX Runtime builds, which sum in other orders; the error
 * of a deep random network (ResNet-152: 3.5e-4) is chaotic rounding growth through 150 layers, while a
 * wrong layer gives errors of order 1e-1 to 1 on this scale.
 */
export function measured(scaledError: number): { atol: number; rtol: number; scaled: boolean } {
  const bound = PARITY_MARGIN * Math.max(scaledError, FLOAT32_EPS)
  const unit = 10 ** Math.floor(Math.log10(bound))
  const atol = Number((Math.ceil(Number((bound / unit).toPrecision(12))) * unit).toPrecision(6))
  return { atol, rtol: 0, scaled: true }
}

export const img = (c: number, h: number, w = h, b = 1): number[] => [b, c, h, w]
export const logits = (classes: number, smallBatch = 1, benchBatch = 1): Shapes => ({
  small: [smallBatch, classes],
  bench: [benchBatch, classes],
})
/** small: (1, 3, 64, 64); bench: (1, 3, 224, 224). */
export const imagenet: Shapes = { small: img(3, 64), bench: img(3, 224) }

/** A spec with one seeded N(0, 1) image input; `output` gives the expected output shape per size. */
export function imageSpec(
  name: string,
  family: string,
  paper: string,
  make: () => Module<any, any>,
  input: Shapes,
  output: Shapes,
  extra: Partial<Pick<ModelSpec, 'tolerance' | 'trainable'>> = {},
): ModelSpec {
  return {
    name,
    family,
    paper,
    build: (seed) => {
      manualSeed(seed)
      const m = make()
      // Batch norm with realistic statistics: a fresh model's running mean 0 / variance 1 let the
      // activations of a deep ResNet grow to 1e4 in eval mode, where a float32 parity check says
      // little. Estimate them from four N(0, 1) images at the small size, as after training.
      if ([...m.namedModules()].some(([, x]) => x instanceof nn.BatchNorm))
        nn.updateBatchNorm(m, [[randn([4, ...input.small.slice(1)], { generator: new Generator(seed + 1000) })]])
      return m
    },
    inputs: (size, seed): Tensor[] => [randn(input[size], { generator: new Generator(seed) })],
    outputShape: (size) => output[size],
    ...extra,
  }
}

/**
 * Parity tolerances, in one place: |refnets - ort| <= atol + rtol * |ort| per element, by provider
 * and dtype. CUDA float32 is looser: its GEMMs may use TF32 and reduce in a different order.
 * A spec may override them (ModelSpec.tolerance), usually scale-aware: with `scaled`, the absolute
 * term is atol * max |ort| over the output, so one bound serves logits of size 0.01 and of size 10
 * (max abs error / max |reference| <= atol when rtol is 0).
 */
export interface Tolerance {
  atol: number
  rtol: number
  /** Read atol relative to the output's scale: the absolute term becomes atol * max |reference|. */
  scaled?: boolean
}

export type Provider = 'cpu' | 'cuda'

export const tolerances: Record<Provider, Record<'float32' | 'float64' | 'int32' | 'bool', Tolerance>> = {
  cpu: {
    float32: { atol: 1e-4, rtol: 1e-3 },
    float64: { atol: 1e-10, rtol: 1e-8 },
    int32: { atol: 0, rtol: 0 },
    bool: { atol: 0, rtol: 0 },
  },
  cuda: {
    float32: { atol: 1e-3, rtol: 1e-2 },
    float64: { atol: 1e-8, rtol: 1e-6 },
    int32: { atol: 0, rtol: 0 },
    bool: { atol: 0, rtol: 0 },
  },
}

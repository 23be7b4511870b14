/**
 * Kernel dispatch. The `js` backend holds the reference kernel for every key of `KernelTable`; a
 * faster backend may provide any subset, and a missing kernel falls back to `js`.
 */
import { jsKernels } from './backends/js/kernels.js'
import type { KernelTable } from './kernel-table.js'

export interface Backend {
  name: string
  kernels: Partial<KernelTable>
}

export const jsBackend: Backend & { kernels: KernelTable } = { name: 'js', kernels: jsKernels }

let active: Backend = jsBackend

/** Use `b` for every kernel it has; the rest still run on the `js` reference backend. */
export function setBackend(b: Backend): void {
  active = b
}

export function getBackend(): Backend {
  return active
}

export function kernel<K extends keyof KernelTable>(name: K): KernelTable[K] {
  return (active.kernels[name] ?? jsKernels[name]) as KernelTable[K]
}

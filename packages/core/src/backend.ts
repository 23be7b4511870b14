/**
 * Kernel dispatch. The `js` backend holds the reference kernel for every key of `KernelTable`; a
 * faster backend may provide any subset, and a missing kernel falls back to `js`.
 *
 * The default is the `wasm` backend (WebAssembly SIMD, threaded) wherever the engine supports it, and
 * `js` elsewhere; the environment variable `REFNETS_BACKEND=js` (or `wasm`) chooses explicitly.
 */
import { jsKernels } from './backends/js/kernels.js'
import { type WasmBackend, compileKernels, createWasmBackend, warnOnce } from './backends/wasm/index.js'
import { WasmMemoryError } from './backends/wasm/runtime.js'
import type { TypedArray } from './dtype.js'
import { BackendError } from './errors.js'
import type { Backend, KernelTable } from './kernel-table.js'

export type { Backend } from './kernel-table.js'

export const jsBackend: Backend & { kernels: KernelTable } = { name: 'js', kernels: jsKernels }

let active: Backend | undefined
/** The active backend's kernels with the js ones filled in: one lookup per kernel call. */
let table: KernelTable | undefined
let wasm: WasmBackend | null | undefined

/** The process-wide wasm backend, created on first use; null where the engine cannot run it. */
export function wasmBackend(): WasmBackend | null {
  if (wasm === undefined) {
    try {
      wasm = createWasmBackend()
    } catch (e) {
      warnOnce(`the wasm backend is unavailable (${(e as Error).message}); using js`)
      wasm = null
    }
  }
  return wasm
}

function defaultBackend(): Backend {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  const want = env?.REFNETS_BACKEND ?? 'wasm'
  if (want !== 'js' && want !== 'wasm') warnOnce(`REFNETS_BACKEND=${want} is not 'js' or 'wasm'; using the default`)
  return (want !== 'js' && wasmBackend()) || jsBackend
}

/** Use `b` (a backend, or 'js' / 'wasm') for every kernel it has; the rest still run on `js`. */
export function setBackend(b: Backend | 'js' | 'wasm'): void {
  if (b === 'js') activate(jsBackend)
  else if (b === 'wasm') {
    const w = wasmBackend()
    if (!w) throw new BackendError('setBackend: the wasm backend is unavailable on this engine')
    activate(w)
  } else activate(b)
}

function activate(b: Backend): Backend {
  active = b
  table = { ...jsKernels, ...b.kernels } as KernelTable
  return b
}

export function getBackend(): Backend {
  return active ?? activate(defaultBackend())
}

/**
 * Get the wasm backend ready without blocking: compile its kernels and start its worker threads
 * asynchronously, then make it the active backend (unless REFNETS_BACKEND=js). In Node everything also
 * happens on first use; in a browser, call this first (the main thread may neither compile a module this
 * size synchronously nor wait for workers to start). Resolves to the backend in use.
 */
export async function initBackend(): Promise<Backend> {
  let compiled = true
  try {
    await compileKernels()
  } catch (e) {
    compiled = false
    warnOnce(`the wasm backend is unavailable (${(e as Error).message}); using js`)
  }
  // A synchronous first use may have failed only because the kernels were not compiled yet: try again.
  if (compiled && wasm === null) wasm = undefined
  await (compiled ? wasmBackend() : null)?.startThreads()
  active = undefined
  table = undefined
  return getBackend()
}

/**
 * Run `fn` with `arrays` held in the active backend's memory: kernel calls inside `fn` that take one of them
 * as an operand read it there instead of copying it in on every call (the wasm backend copies operands per
 * call; a recurrent layer multiplies by the same weight at every time step). The arrays must not be modified
 * inside `fn`. Where the backend cannot pin (js, or no memory left) `fn` simply runs. When `fn` returns a promise
 * the arrays stay pinned until it settles (an inference loop that awaits between calls); scopes nest, and must
 * end in the reverse order they began.
 */
export function withPinned<T>(arrays: readonly TypedArray[], fn: () => T): T {
  const b = getBackend()
  let release: (() => void) | undefined
  if (b.pin) {
    try {
      release = b.pin(arrays.filter((a): a is Float32Array => a instanceof Float32Array))
    } catch (e) {
      if (!(e instanceof WasmMemoryError)) throw e
    }
  }
  let result: T
  try {
    result = fn()
  } catch (e) {
    release?.()
    throw e
  }
  if (result instanceof Promise) return result.finally(() => release?.()) as T
  release?.()
  return result
}

/** Threads per kernel call of the wasm backend (the calling thread included). Default: available parallelism. */
export function setThreads(n: number): void {
  wasmBackend()?.setThreads(n)
}

export function getThreads(): number {
  return wasmBackend()?.threads ?? 1
}

export function kernel<K extends keyof KernelTable>(name: K): KernelTable[K] {
  if (!table) getBackend()
  return table![name]
}

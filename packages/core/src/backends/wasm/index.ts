/**
 * The `wasm` backend: WebAssembly SIMD kernels (relaxed SIMD where the engine has it), run on a pool of
 * worker threads over shared memory. It provides GEMM and the convolution kernels; every other kernel, and
 * float64 or tiny calls, run on `js`. A failure to start threads or to grow memory falls back (to one
 * thread, or to the js kernel) with a one-line warning, never a wrong result.
 */
import type { Backend } from '../../kernel-table.js'
import type { KernelTable } from '../../kernel-table.js'
import { jsKernels } from '../js/kernels.js'
import { wasmElementwiseKernels } from './elementwise.js'
import { wasmRecurrentKernels } from './recurrent.js'
import { WASM_MIN_MACS, wasmKernels } from './kernels.js'
import { ThreadPool, ThreadPoolError } from './pool.js'
import { WasmMemoryError, WasmRuntime, hasRelaxedSimd, hasSimd, nodeBuiltin } from './runtime.js'
import { ArgumentError, BackendError } from '../../errors.js'

export { compileKernels, hasRelaxedSimd, hasSimd } from './runtime.js'
export { WASM_MIN_MACS, THREADS_MIN_MACS } from './kernels.js'

export interface WasmBackendOptions {
  /** Use the relaxed-SIMD build (default: where the engine supports it). */
  relaxedSimd?: boolean
  /** Threads per kernel call, the calling one included (default: the machine's available parallelism). */
  threads?: number
  /** Calls below this many multiply-adds stay on the js kernels (default WASM_MIN_MACS). */
  minMacs?: number
  /** How long worker threads may take to start before the backend runs on one thread (default 10 s). */
  startTimeoutMs?: number
}

export interface WasmBackend extends Backend {
  readonly relaxedSimd: boolean
  readonly runtime: WasmRuntime
  /** Threads per kernel call, the calling one included. */
  threads: number
  setThreads(n: number): void
  /** Stop the worker threads (they are restarted on the next large call). */
  close(): void
  /** Start the worker threads now without blocking (a browser's main thread cannot block while they start). */
  startThreads(): Promise<void>
}

/**
 * Threads per kernel call when none are asked for: `REFNETS_THREADS` where it is set (a positive integer,
 * like OMP_NUM_THREADS for native libraries), else the machine's available parallelism (1 where it cannot
 * be known).
 */
export function defaultThreads(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  const asked = env?.REFNETS_THREADS
  if (asked !== undefined && asked !== '') {
    const n = Number(asked)
    if (Number.isInteger(n) && n >= 1) return n
    warnOnce(`REFNETS_THREADS=${asked} is not a positive integer; using the available parallelism`)
  }
  const os = nodeBuiltin<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os')
  if (os) return os.availableParallelism?.() ?? os.cpus().length
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1
}

const warned = new Set<string>()
/** One line on stderr, once per message. */
export function warnOnce(msg: string): void {
  if (warned.has(msg)) return
  warned.add(msg)
  console.warn(`refnets: ${msg}`)
}

/** Create a wasm backend; throws where WebAssembly SIMD or shared memory is missing. */
export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  if (!hasSimd()) throw new BackendError('this engine lacks WebAssembly SIMD or SharedArrayBuffer')
  const relaxedSimd = opts.relaxedSimd ?? hasRelaxedSimd()
  if (relaxedSimd && !hasRelaxedSimd()) throw new BackendError('this engine lacks WebAssembly relaxed SIMD')
  const rt = new WasmRuntime(relaxedSimd)
  let pool: ThreadPool | null = null
  const backend: WasmBackend = {
    name: 'wasm',
    relaxedSimd,
    runtime: rt,
    threads: Math.max(1, Math.floor(opts.threads ?? defaultThreads())),
    kernels: {},
    pin: (arrays) => rt.pin(arrays),
    setThreads(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`setThreads: expected a positive integer, got ${n}`)
      if (n !== backend.threads) backend.close()
      backend.threads = n
    },
    close() {
      pool?.close()
      pool = null
    },
    async startThreads() {
      if (backend.threads <= 1 || pool?.size === backend.threads) return
      pool?.close()
      try {
        pool = await ThreadPool.start(rt, backend.threads, opts.startTimeoutMs)
      } catch (e) {
        warnOnce(`wasm backend: ${(e as Error).message}; running on one thread`)
        backend.threads = 1
        pool = null
      }
    },
  }
  const getPool = (): ThreadPool | null => {
    if (backend.threads <= 1) return null
    if (pool?.size !== backend.threads) {
      pool?.close()
      try {
        pool = new ThreadPool(rt, backend.threads, opts.startTimeoutMs)
      } catch (e) {
        warnOnce(`wasm backend: ${(e as Error).message}; running on one thread`)
        backend.threads = 1
        pool = null
      }
    }
    return pool
  }
  const ctx = { rt, pool: getPool, minMacs: opts.minMacs ?? WASM_MIN_MACS }
  const products = wasmKernels(ctx)
  const fast = {
    ...products,
    ...wasmElementwiseKernels(ctx),
    ...wasmRecurrentKernels(ctx, products.MatMulTransB!),
  }
  // Each wasm kernel falls back: a failed worker -> one thread; memory exhausted -> the js kernel.
  const kernels: Partial<KernelTable> = {}
  for (const [name, k] of Object.entries(fast) as [keyof KernelTable, (...a: unknown[]) => void][]) {
    const ref = jsKernels[name] as (...a: unknown[]) => void
    ;(kernels as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        k(...args)
      } catch (e) {
        if (e instanceof ThreadPoolError) {
          warnOnce(`wasm backend: ${e.message}; running on one thread`)
          backend.close()
          backend.threads = 1
          k(...args)
        } else if (e instanceof WasmMemoryError) {
          warnOnce(`wasm backend: ${e.message}; using the js kernel`)
          ref(...args)
        } else throw e
      }
    }
  }
  Object.assign(backend.kernels, kernels)
  return backend
}

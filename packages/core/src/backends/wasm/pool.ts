/**
 * Threads for the kernels: worker threads (Node's worker_threads; Web Workers in a browser) that instantiate
 * the same module on the same shared memory and run their share of a kernel call.
 *
 * A call is synchronous, like every kernel: the caller writes the job (kernel index, parameter block, thread
 * count) into a small shared control array, bumps its generation and wakes the workers; it runs share 0
 * itself, then waits until every worker has reported. Workers and the caller spin briefly before sleeping
 * in `Atomics.wait`, because a wake-up through wait/notify costs ~14 us and most calls come in quick
 * succession (docs/performance.md). Each worker waits on the value it loaded, so no wake-up is lost.
 */
import { BackendError } from '../../errors.js'
import { nodeBuiltin, parallelKernels, type WasmRuntime } from './runtime.js'

// Control array slots.
const GEN = 0
const FN = 1
const PARAMS = 2
const THREADS = 3
const DONE = 4
const FAILED = 5
const READY = 6
const SLOTS = 8

const SPINS = 20000
/**
 * How long an idle worker spins before it sleeps: longer than the gaps between the parallel calls of a training
 * step (a ReLU and a max pooling on the calling thread, 1-2 ms in LeNet), so that the next call finds it awake.
 * With 20,000 spins (~50 us) it slept in every gap, and the wake-ups (up to a millisecond on a shared machine)
 * had the caller waiting 1.2-1.3 s in a LeNet epoch; with 5 ms, 0.7-1.0 s. Thread pools of native runtimes spin
 * likewise (OpenMP's default block time is 200 ms).
 */
const WORKER_SPIN_MS = 5

/** The worker's whole program: instantiate, report ready, then run jobs forever. */
const workerSource = (browser: boolean) => `
const start = ({ module, memory, ctl: sab, index, names }) => {
  const ctl = new Int32Array(sab)
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports
  const fns = names.map((n) => ex[n])
  let gen = Atomics.load(ctl, ${GEN})
  Atomics.add(ctl, ${READY}, 1)
  Atomics.notify(ctl, ${READY})
  for (;;) {
    let v
    let spins = 0
    let since = 0
    while ((v = Atomics.load(ctl, ${GEN})) === gen)
      if ((++spins & 1023) === 0) {
        if (since === 0) since = performance.now()
        else if (performance.now() - since > ${WORKER_SPIN_MS}) Atomics.wait(ctl, ${GEN}, v)
      }
    gen = v
    try {
      fns[Atomics.load(ctl, ${FN})](Atomics.load(ctl, ${PARAMS}), index, Atomics.load(ctl, ${THREADS}))
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, 1)
    }
    Atomics.add(ctl, ${DONE}, 1)
    Atomics.notify(ctl, ${DONE})
  }
}
${browser ? 'self.onmessage = (e) => start(e.data)' : "start(require('node:worker_threads').workerData)"}
`

interface NodeWorker {
  unref(): void
  terminate(): Promise<number>
}
type WorkerCtor = new (src: string, opts: { eval: boolean; workerData: unknown }) => NodeWorker

/** Error raised when the pool cannot start or a worker failed; the backend then falls back to js. */
export class ThreadPoolError extends BackendError {
  override name = 'ThreadPoolError'
}

export class ThreadPool {
  private readonly ctl: Int32Array
  private readonly workers: { terminate(): unknown }[] = []
  /** Threads that run a call: the workers and the calling thread. */
  readonly size: number
  /** Whether the calling thread may block in a wait (Node's may; a browser page's main thread may not). */
  readonly canWait: boolean

  /**
   * Start `threads - 1` workers on `rt`'s module and memory; waits (at most `timeoutMs`) until they run. On a
   * browser's main thread, which cannot block while workers start, use `ThreadPool.start` instead.
   */
  constructor(
    private readonly rt: WasmRuntime,
    threads: number,
    timeoutMs = 10_000,
    wait = true,
  ) {
    this.size = threads
    this.ctl = new Int32Array(new SharedArrayBuffer(SLOTS * 4))
    const init = (index: number) => ({
      module: rt.module,
      memory: rt.memory,
      ctl: this.ctl.buffer,
      index,
      names: parallelKernels,
    })
    const wt = nodeBuiltin<{ Worker: WorkerCtor; isMainThread: boolean }>('node:worker_threads')
    // The main thread of a browser page may not block in Atomics.wait; Node's may.
    this.canWait = wt !== undefined
    try {
      for (let i = 1; i < threads; i++) {
        if (wt) {
          const w = new wt.Worker(workerSource(false), { eval: true, workerData: init(i) })
          w.unref()
          this.workers.push(w)
        } else {
          const url = URL.createObjectURL(new Blob([workerSource(true)], { type: 'text/javascript' }))
          const w = new Worker(url)
          w.postMessage(init(i))
          this.workers.push(w)
        }
      }
      if (wait) this.awaitReady(timeoutMs)
    } catch (e) {
      this.close()
      throw e instanceof ThreadPoolError
        ? e
        : new ThreadPoolError(`cannot start worker threads: ${(e as Error).message}`)
    }
  }

  /** Start a pool without blocking the calling thread: resolves once every worker runs. */
  static async start(rt: WasmRuntime, threads: number, timeoutMs = 10_000): Promise<ThreadPool> {
    const pool = new ThreadPool(rt, threads, timeoutMs, false)
    const deadline = Date.now() + timeoutMs
    while (Atomics.load(pool.ctl, READY) < threads - 1) {
      if (Date.now() >= deadline) {
        pool.close()
        throw new ThreadPoolError(
          `only ${Atomics.load(pool.ctl, READY)} of ${threads - 1} worker threads started within ${timeoutMs} ms`,
        )
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    return pool
  }

  private awaitReady(timeoutMs: number): void {
    const deadline = Date.now() + timeoutMs
    for (let ready = Atomics.load(this.ctl, READY); ready < this.size - 1; ready = Atomics.load(this.ctl, READY)) {
      // NOTE: the wait never runs past the deadline, so a 0 ms timeout means no waiting at all.
      const left = deadline - Date.now()
      if (left <= 0)
        throw new ThreadPoolError(`only ${ready} of ${this.size - 1} worker threads started within ${timeoutMs} ms`)
      if (this.canWait) Atomics.wait(this.ctl, READY, ready, Math.min(50, left))
    }
  }

  /** Run kernel `name` with parameter block `params` on every thread of the pool; returns when all are done. */
  run(name: (typeof parallelKernels)[number], params: number): void {
    const fn = parallelKernels.indexOf(name)
    const n = this.size
    if (n === 1) {
      this.rt.exports[name](params, 0, 1)
      return
    }
    const ctl = this.ctl
    Atomics.store(ctl, FN, fn)
    Atomics.store(ctl, PARAMS, params)
    Atomics.store(ctl, THREADS, n)
    Atomics.store(ctl, DONE, 0)
    Atomics.add(ctl, GEN, 1)
    Atomics.notify(ctl, GEN)
    this.rt.exports[name](params, 0, n)
    let spins = 0
    for (let done = Atomics.load(ctl, DONE); done < n - 1; done = Atomics.load(ctl, DONE))
      if (++spins > SPINS && this.canWait) Atomics.wait(ctl, DONE, done, 1000)
    if (Atomics.exchange(ctl, FAILED, 0) !== 0) throw new ThreadPoolError(`a worker thread failed in ${name}`)
  }

  close(): void {
    for (const w of this.workers) void w.terminate()
    this.workers.length = 0
  }
}

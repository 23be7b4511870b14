/**
 * One harness run: for every selected spec, build it with a fixed seed, check parity against ONNX
 * Runtime on each provider (and TensorFlow.js on each backend), then time every engine on the same
 * inputs with tinybench. The result is a plain Report object; report.ts writes it out.
 */
import { spawnSync } from 'node:child_process'
import { cpus } from 'node:os'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type ModelSpec,
  type SpecSize,
  Tensor,
  countMacs,
  createWasmBackend,
  getBackend,
  getThreads,
  noGrad,
  withPinned,
  setBackend,
  setThreads,
  wasmBackend,
} from '@refnets/core'
import {
  type OrtSession,
  type ProviderInfo,
  type Tolerance,
  availableProviders,
  compareTensors,
  createSession,
  crossCheck,
  tolerances,
} from '@refnets/ort'
import { Bench } from 'tinybench'
import { type EngineInfo, type TfjsEngine, tfjsEngines } from './engines.js'
import { compileTfjs } from './tfjs.js'

export const REFNETS = 'refnets'
/** The reference every ratio is taken against: ONNX Runtime on the CPU (at the engine's thread count). */
export const BASELINE = 'ort-cpu'

/**
 * The refnets engines: the wasm backend at the default thread count (the machine's parallelism) and at
 * one thread, and the js reference backend (timed only when asked for: --engines refnets-js or --js).
 */
export const REFNETS_ENGINES = [
  { name: 'refnets', backend: 'wasm', threads: 0 },
  { name: 'refnets-1t', backend: 'wasm', threads: 1 },
  { name: 'refnets-js', backend: 'js', threads: 1 },
] as const

/**
 * Every ratio compares equal thread counts: an engine's median over ONNX Runtime's on the CPU with the same
 * number of threads. TensorFlow.js' wasm backend runs one thread in Node; its plain-JS cpu backend too.
 */
export const PEER: Record<string, string> = {
  refnets: 'ort-cpu',
  'refnets-1t': 'ort-cpu-1t',
  'refnets-js': 'ort-cpu-1t',
  'ort-cpu': 'ort-cpu',
  'ort-cpu-1t': 'ort-cpu-1t',
  'tfjs-wasm': 'ort-cpu-1t',
  'tfjs-cpu': 'ort-cpu-1t',
  'tfjs-node': 'ort-cpu',
}
/** Engines skipped on big cases unless --slow-limit 0 (see RunOptions.slowLimitMs). */
export const SLOW_ENGINES = ['tfjs-cpu']

export interface Parity {
  engine: string
  status: 'pass' | 'fail' | 'skipped' | 'n/a'
  reason?: string
  maxAbsError?: number
  maxRelError?: number
  tolerance?: Tolerance
}

export interface Timing {
  engine: string
  status: 'ok' | 'n/a' | 'error'
  reason?: string
  /** Milliseconds per forward pass. */
  medianMs?: number
  p25Ms?: number
  p75Ms?: number
  minMs?: number
  maxMs?: number
  samples?: number
  /** Calls timed together per sample (calls shorter than about 1 ms), each sample divided by this. */
  callsPerSample?: number
  /** median / the median of ONNX Runtime CPU at the same thread count (PEER). */
  ratio?: number
  /** Achieved GFLOP/s: 2 x the case's multiply-accumulates / median. */
  gflops?: number
}

export interface CaseResult {
  package: string
  name: string
  family: string
  paper: string
  size: SpecSize
  inputShapes: number[][]
  parameters: number
  /** Multiply-accumulates of one forward pass (GEMM and convolution kernels; core's countMacs). */
  macs?: number
  parity: Parity[]
  timings: Timing[]
  /** Peak memory of a forward pass, measured in a child process (cases named in RunOptions.memory). */
  memory?: MemoryUse
  /** Wall time of the whole case (build, parity, every engine's timing, memory), in seconds. */
  seconds?: number
  error?: string
}

export interface MemoryUse {
  /** Resident set size after building the model and its inputs, before the first forward pass. */
  rssBeforeBytes: number
  /** The process's peak resident set size over three forward passes. */
  maxRssBytes: number
  /** The wasm backend's linear memory (its high-water mark). */
  wasmBytes: number
}

export interface Calibration {
  /** Threads of the default refnets engine. */
  threads: number
  /** Whether the engine runs the relaxed-SIMD build. */
  relaxedSimd: boolean
  /** WebAssembly SIMD peak of one thread (register-only multiply-add chains), GFLOP/s, per build. */
  simdPeakGflops: { relaxed?: number; plain: number }
}

export interface Report {
  version: 1
  date: string
  createdAt: string
  machine: {
    cpus: number
    cpuModel: string
    node: string
    platform: string
    /** glibc allocator settings from the environment (scripts/run-tuned.mjs sets them for `pnpm bench`). */
    malloc?: string
  }
  options: RunOptions
  engines: EngineInfo[]
  /** The machine's WebAssembly SIMD peak, measured in the same run (absent where the wasm backend cannot run). */
  calibration?: Calibration
  cases: CaseResult[]
  /** Filled by compareReports when a previous report exists. */
  comparison?: Comparison
}

export interface Regression {
  case: string
  engine: string
  kind: 'slower' | 'parity'
  previous: number | string
  current: number | string
  change?: number
}

export interface Comparison {
  previous: string
  threshold: number
  regressions: Regression[]
  improvements: Regression[]
}

export interface RunOptions {
  size: SpecSize
  /** Upper bound on timed samples per engine and case. */
  samples: number
  /** Time budget per engine and case, in milliseconds (at least 2 samples are taken regardless). */
  timeMs: number
  /** An engine whose first (cold) run takes longer than this is timed by one more run alone (1 sample). */
  maxRunMs: number
  /**
   * Slow reference engines (tfjs-cpu: plain-JS kernels, several times slower than refnets) are
   * skipped, with the reason, on cases where refnets' forward took longer than this (0: never).
   */
  slowLimitMs: number
  providers: ('cpu' | 'cuda')[]
  /** Engines to time; the default is every one this machine has, except refnets-js. */
  engines?: string[]
  /** Cases (`package/name`) whose peak memory is measured in a child process. */
  memory?: string[]
  seed: number
}

export interface SelectedSpec {
  package: string
  spec: ModelSpec
}

export type Progress = (event: { index: number; total: number; case: CaseResult }) => void

const round = (x: number) => Number(x.toPrecision(4))

/** First calls faster than this are repeated before the number of samples is chosen (see `time`). */
export const WARM_CALIBRATION_MS = 100
/** Calls from 1 ms up to this are warmed up until their time is steady (see `time`). */
export const STEADY_CALL_MS = 10
/** The shortest and the longest such warm-up; it counts against the case's budget and takes at most half of it. */
export const STEADY_WARMUP_MIN_MS = 250
export const STEADY_WARMUP_MS = 400
/** Blocks of calls (each ~STEADY_BLOCK_MS) that must agree before a warm-up is over. */
const STEADY_BLOCKS = 4
const STEADY_BLOCK_MS = 25

/** Call `fn` (awaited when it returns a promise) `n` times; the time of each call. */
async function timeCalls(fn: () => unknown, n: number): Promise<number[]> {
  const ts: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = fn()
    if (r instanceof Promise) await r
    ts.push(performance.now() - t0)
  }
  return ts
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

/**
 * Warm a call of a few milliseconds up until its time is steady: blocks of ~STEADY_BLOCK_MS of calls for at least
 * STEADY_WARMUP_MIN_MS (a slow phase can be steady too), then until STEADY_BLOCKS in a row have medians within 5%
 * of the best block's, or `capMs` has passed. Returns the best block median and the time spent.
 */
async function warmUntilSteady(
  fn: () => unknown,
  once: number,
  capMs: number,
): Promise<{ ms: number; spentMs: number }> {
  const n = Math.max(2, Math.ceil(STEADY_BLOCK_MS / once))
  const t0 = performance.now()
  let best = once
  let steady = 0
  const minMs = Math.min(STEADY_WARMUP_MIN_MS, capMs)
  for (let ms = 0; (steady < STEADY_BLOCKS || ms < minMs) && ms < capMs; ms = performance.now() - t0) {
    const m = median(await timeCalls(fn, n))
    steady = m <= best * 1.05 ? steady + 1 : 0
    best = Math.min(best, m)
  }
  return { ms: best, spentMs: performance.now() - t0 }
}

/**
 * Time `fn` with tinybench: a first run (or the caller's measurement of one), then, if it took over maxRunMs, one
 * more run (the one sample); else a warm-up and as many samples as the budget allows (2..samples).
 */
export async function time(
  fn: () => unknown,
  opts: RunOptions,
  firstRunMs?: number,
): Promise<Omit<Timing, 'engine' | 'status'>> {
  let once = firstRunMs
  if (once === undefined) {
    const t0 = performance.now()
    await fn()
    once = performance.now() - t0
  }
  if (once > opts.maxRunMs) {
    // A first run is cold, and on a large model the cold part is large: TensorFlow.js-wasm's first VGG-16 pass
    // (packing every weight for XNNPACK) took 5-7 s against 1.3-2.5 s warm, and timing it by that run alone had
    // made refnets look 2-4x faster than tfjs on VGG. So a slow engine is timed by one more, warm, run.
    const t0 = performance.now()
    await fn()
    const ms = round(performance.now() - t0)
    return { medianMs: ms, p25Ms: ms, p75Ms: ms, minMs: ms, maxMs: ms, samples: 1 }
  }
  // The first call of an engine on a model is cold (code not yet compiled or optimised, weights being copied into
  // place): an LSTM layer's took 60 ms where its warm calls take 0.5, which left it 8 samples taken before the JIT
  // had caught up (median 1.3 ms). A first call under WARM_CALIBRATION_MS is repeated and the count of samples
  // set by the repeat; slower models keep their first call's measure (one more VGG pass is a second or more).
  if (once < WARM_CALIBRATION_MS) {
    const t0 = performance.now()
    await fn()
    once = Math.min(once, performance.now() - t0)
  }
  // A call much shorter than the timer's own per-sample cost (a few microseconds) is timed in repeats of
  // `inner` calls per sample, each sample divided by `inner`; synchronous and asynchronous engines alike.
  // The first (cold) call overestimates a short call: calibrate on warm calls, which also warm it up. The warm-up
  // must outlast the JIT's tiering: a 2-us model call measured 2 us after ~20,000 warm calls but 10-17 us in some
  // processes after 20 ms of them (the optimised code not yet in place), so short calls get 100 ms (or half the
  // case's budget, if smaller).
  if (once < 1) {
    let calls = 0
    const warm = Math.min(100, opts.timeMs / 2)
    const t0 = performance.now()
    while (performance.now() - t0 < warm) {
      const r = fn()
      if (r instanceof Promise) await r
      calls++
    }
    once = (performance.now() - t0) / calls
  }
  // A call of a few milliseconds can take hundreds of calls to reach its steady time: an LSTM layer's (T 32,
  // H 256) allocates 160 KB a call, and until the garbage collector first frees its arrays (external memory
  // triggers it every ~64 MB) the allocator hands out pages the process has never touched. Each first touch is a
  // page fault, and on the virtual machines this runs on a fault costs ~10 us (touching fresh mappings: 10-11 us a
  // 4 KB page): that layer ran at 1.0 ms, not 0.5, for its first 300-500 calls, and a warm-up of 10 calls timed it
  // at the slow speed. Such calls are warmed up until they are steady, within the case's budget.
  let budgetMs = opts.timeMs
  let warmed = false
  if (once >= 1 && once < STEADY_CALL_MS) {
    const w = await warmUntilSteady(fn, once, Math.min(STEADY_WARMUP_MS, opts.timeMs / 2))
    once = w.ms
    budgetMs -= w.spentMs
    warmed = true
  }
  const inner = once < 1 ? Math.min(100_000, Math.ceil(1 / Math.max(once, 1e-5))) : 1
  const sample =
    inner === 1
      ? fn
      : async () => {
          for (let i = 0; i < inner; i++) {
            const r = fn()
            if (r instanceof Promise) await r
          }
        }
  const iterations = Math.max(2, Math.min(opts.samples, Math.floor(budgetMs / Math.max(once * inner, 1e-3))))
  const bench = new Bench({
    iterations,
    time: 0,
    // Calls under 50 ms get up to 10 warm-up runs, within a tenth of the budget (the first run has warmed them too).
    warmup: !warmed && once * inner < 50,
    warmupIterations: Math.min(10, iterations, Math.max(1, Math.ceil((0.1 * opts.timeMs) / (once * inner)))),
    warmupTime: 0,
    throws: true,
  })
  bench.add('case', sample)
  await bench.run()
  const l = bench.tasks[0]!.result!.latency
  const sorted = [...l.samples].sort((a, b) => a - b).map((x) => x / inner)
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!
  return {
    medianMs: round(l.p50! / inner),
    p25Ms: round(q(0.25)),
    p75Ms: round(q(0.75)),
    minMs: round(l.min / inner),
    maxMs: round(l.max / inner),
    samples: sorted.length,
    ...(inner > 1 ? { callsPerSample: inner } : {}),
  }
}

function compareOutputs(ours: Tensor[], theirs: Tensor[], tol: Tolerance) {
  const cs = ours.map((o, i) => compareTensors(o, theirs[i]!, tol))
  const ok = theirs.length === ours.length && cs.every((c) => c.shapeMatches && c.mismatches === 0)
  return {
    ok,
    maxAbsError: Math.max(...cs.map((c) => c.maxAbsError)),
    maxRelError: Math.max(...cs.map((c) => c.maxRelError)),
  }
}

/** Whether `engine` is selected: by default every engine but refnets-js; else by name or name prefix. */
export function engineFilter(engines: string[] | undefined): (engine: string) => boolean {
  if (!engines) return (e) => e !== 'refnets-js'
  return (e) => engines.some((w) => e === w || (e.startsWith(`${w}-`) && !(w === 'refnets' && e === 'refnets-js')))
}

/** The WebAssembly SIMD peak of one thread: the best of five runs of a register-only multiply-add loop. */
export function calibrate(): Calibration | undefined {
  const wasm = wasmBackend()
  if (!wasm) return undefined
  const peak = (relaxedSimd: boolean) => {
    const rt = relaxedSimd ? wasm.runtime : createPlainRuntime()
    const iters = 2_000_000
    for (let i = 0; i < 20; i++) rt.exports.peak(1000) // tier up to the optimising compiler
    let best = 0
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now()
      rt.exports.peak(iters)
      best = Math.max(best, (iters * 96) / (performance.now() - t0) / 1e6)
    }
    return round(best)
  }
  const createPlainRuntime = () =>
    wasm.relaxedSimd ? createWasmBackend({ relaxedSimd: false, threads: 1 }).runtime : wasm.runtime
  return {
    threads: wasm.threads,
    relaxedSimd: wasm.relaxedSimd,
    simdPeakGflops: { ...(wasm.relaxedSimd ? { relaxed: peak(true) } : {}), plain: peak(false) },
  }
}

/** The glibc allocator variables in effect ("default" when none is set). */
function mallocSettings(): string {
  const set = Object.entries(process.env).filter(([k]) => /^MALLOC_[A-Z_]+_$/.test(k) || k === 'GLIBC_TUNABLES')
  return set.length ? set.map(([k, v]) => `${k}=${v}`).join(' ') : 'default'
}

export async function runHarness(selected: SelectedSpec[], opts: RunOptions, progress?: Progress): Promise<Report> {
  const wanted = engineFilter(opts.engines)
  const providers = await availableProviders()
  const tfjs = await tfjsEngines(wanted)
  const wasm = wasmBackend()
  const engines: EngineInfo[] = [
    ...REFNETS_ENGINES.filter((e) => wanted(e.name)).map((e) =>
      e.backend === 'wasm' && !wasm
        ? { name: e.name, available: false, reason: 'the wasm backend cannot run on this engine' }
        : {
            name: e.name,
            available: true,
            version: `${e.backend}${e.backend === 'wasm' ? `, ${e.threads || wasm!.threads} thread(s), ${wasm!.relaxedSimd ? 'relaxed SIMD' : 'SIMD'}` : ''}`,
          },
    ),
    ...providers.flatMap((p: ProviderInfo) =>
      opts.providers.includes(p.name)
        ? [{ name: `ort-${p.name}`, available: p.available, ...(p.reason ? { reason: p.reason } : {}) }]
        : [],
    ),
    ...tfjs.infos,
  ]
  const calibration = calibrate()
  const cases: CaseResult[] = []
  for (const [index, { package: pkg, spec }] of selected.entries()) {
    const t0 = performance.now()
    const c = await runCase(pkg, spec, opts, providers, tfjs.engines, wanted)
    if (!c.error && opts.memory?.includes(`${pkg}/${spec.name}`)) c.memory = measureMemory(pkg, spec.name, opts)
    c.seconds = round((performance.now() - t0) / 1000)
    cases.push(c)
    progress?.({ index, total: selected.length, case: c })
  }
  const now = new Date()
  return {
    version: 1,
    date: now.toISOString().slice(0, 10),
    createdAt: now.toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      malloc: mallocSettings(),
    },
    options: opts,
    engines,
    ...(calibration ? { calibration } : {}),
    cases,
  }
}

/** Peak memory of `package/name`'s forward pass, in a fresh process (peak-memory.ts) so nothing else counts. */
function measureMemory(pkg: string, name: string, opts: RunOptions): MemoryUse | undefined {
  const script = fileURLToPath(new URL('./peak-memory.ts', import.meta.url))
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', script, pkg, name, opts.size, String(opts.seed)],
    {
      encoding: 'utf8',
      cwd: dirname(script),
    },
  )
  if (r.status !== 0) return undefined
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as MemoryUse
}

/** Run `fn` with refnets on the given engine's backend and thread count; restores the defaults after. */
async function withEngineAsync<T>(engine: (typeof REFNETS_ENGINES)[number], fn: () => Promise<T>): Promise<T> {
  const [backend, threads] = [getBackend(), getThreads()]
  setBackend(engine.backend)
  if (engine.threads) setThreads(engine.threads)
  try {
    return await fn()
  } finally {
    setThreads(threads)
    setBackend(backend)
  }
}

async function runCase(
  pkg: string,
  spec: ModelSpec,
  opts: RunOptions,
  _providers: ProviderInfo[],
  tfjs: TfjsEngine[],
  wanted: (e: string) => boolean,
): Promise<CaseResult> {
  const base = { package: pkg, name: spec.name, family: spec.family, paper: spec.paper, size: opts.size }
  let inputs: Tensor[] = []
  // ONNX Runtime sessions the parity check left open for timing: released however the case ends.
  const kept: OrtSession[] = []
  try {
    const module = spec.build(opts.seed)
    module.eval()
    inputs = spec.inputs(opts.size, opts.seed + 1)
    const parameters = [...module.parameters()].reduce((n, p) => n + p.size, 0)
    const check = await crossCheck(module, inputs, {
      providers: opts.providers,
      keepSessions: true,
      ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
    })
    for (const p of check.providers) if (p.session) kept.push(p.session)
    const parity: Parity[] = check.providers.map((p) => ({
      engine: `ort-${p.provider}`,
      status: p.status,
      ...(p.reason ? { reason: p.reason } : {}),
      ...(p.maxAbsError !== undefined
        ? { maxAbsError: p.maxAbsError, maxRelError: p.maxRelError!, tolerance: p.tolerance! }
        : {}),
    }))
    const timings: Timing[] = []
    const forward = () => noGrad(() => module.call(...inputs))
    // Multiply-accumulates are counted on the first timed engine's first run (countMacs observes the kernel calls
    // and the call's time is that run's), so no forward pass is spent on counting alone.
    let macs = -1 // not counted yet
    const countedRun = () => {
      const t0 = performance.now()
      macs = countMacs(forward)
      return performance.now() - t0
    }
    // The parameters are held in the backend's memory while refnets is timed (`withPinned`), as an ONNX Runtime
    // session and TensorFlow.js hold theirs: a large fully connected layer then no longer copies its weight in
    // on every call.
    const weights = [...module.parameters()].map((p) => p.data)
    const wasm = wasmBackend()
    for (const engine of REFNETS_ENGINES) {
      if (!wanted(engine.name)) continue
      if (engine.backend === 'wasm' && !wasm) {
        timings.push({ engine: engine.name, status: 'n/a', reason: 'the wasm backend cannot run on this engine' })
        continue
      }
      // Each engine's first run is its own (tinybench then warms up and samples).
      const t = await withEngineAsync(engine, () =>
        withPinned(weights, () => time(forward, opts, macs < 0 ? countedRun() : undefined)),
      )
      timings.push({ engine: engine.name, status: 'ok', ...t })
    }
    if (macs < 0) countedRun()
    const ours = timings.find((t) => t.medianMs !== undefined) ?? { medianMs: 0 }

    for (const p of check.providers) {
      if (p.status === 'skipped' || (p.status === 'fail' && p.maxAbsError === undefined)) {
        timings.push({ engine: `ort-${p.provider}`, status: 'n/a', reason: p.reason ?? 'skipped' })
        continue
      }
      const variants: [string, number | undefined][] =
        p.provider === 'cpu'
          ? [
              ['ort-cpu-1t', 1],
              ['ort-cpu', undefined],
            ]
          : [[`ort-${p.provider}`, undefined]]
      for (const [engine, threads] of variants) {
        if (!wanted(engine)) continue
        // The parity check's session (default threads) is timed as it is; a thread count of its own gets a new one.
        const reuse = threads === undefined ? p.session : undefined
        const s = reuse ?? (await createSession(check.onnx, { provider: p.provider, ...(threads ? { threads } : {}) }))
        try {
          const feeds = s.feeds(inputs)
          timings.push({ engine, status: 'ok', ...(await time(() => s.runRaw(feeds), opts)) })
        } finally {
          if (!reuse) await s.release()
        }
      }
    }

    for (const e of tfjs) {
      if (SLOW_ENGINES.includes(e.name) && opts.slowLimitMs > 0 && ours.medianMs! > opts.slowLimitMs) {
        const reason = `not run: refnets' forward took ${ours.medianMs} ms, over the ${opts.slowLimitMs} ms limit for slow engines (--slow-limit 0 includes it)`
        parity.push({ engine: e.name, status: 'n/a', reason })
        timings.push({ engine: e.name, status: 'n/a', reason })
        continue
      }
      await e.tf.setBackend(e.backend)
      let model: ReturnType<typeof compileTfjs>
      try {
        model = compileTfjs(e.tf, check.onnx)
      } catch (err) {
        parity.push({ engine: e.name, status: 'n/a', reason: (err as Error).message })
        timings.push({ engine: e.name, status: 'n/a', reason: (err as Error).message })
        continue
      }
      const xs = inputs.map((t) =>
        e.tf.tensor(Float32Array.from(t.contiguous().data as Float32Array), [...t.shape], 'float32'),
      )
      try {
        const t0 = performance.now()
        const ys = model.run(xs)
        const values = ys.map((y) => y.dataSync() as Float32Array)
        const firstRunMs = performance.now() - t0
        const theirs = ys.map((y, i) => new Tensor(Float32Array.from(values[i]!), [...y.shape]))
        // An identity graph (dropout in eval mode) returns its input: dispose only what the run created.
        ys.forEach((y) => {
          if (!xs.includes(y)) y.dispose()
        })
        const tol = spec.tolerance ?? tolerances.cpu.float32
        const cmp = compareOutputs(check.outputs, theirs, tol)
        parity.push({
          engine: e.name,
          status: cmp.ok ? 'pass' : 'fail',
          maxAbsError: cmp.maxAbsError,
          maxRelError: cmp.maxRelError,
          tolerance: tol,
        })
        timings.push({
          engine: e.name,
          status: 'ok',
          ...(await time(
            () => {
              for (const y of model.run(xs)) {
                y.dataSync()
                if (!xs.includes(y)) y.dispose()
              }
            },
            opts,
            firstRunMs,
          )),
        })
      } catch (err) {
        timings.push({ engine: e.name, status: 'error', reason: (err as Error).message.split('\n')[0]! })
      } finally {
        xs.forEach((x) => {
          x.dispose()
        })
        model.dispose()
      }
    }

    for (const t of timings) {
      const peer = timings.find((p) => p.engine === PEER[t.engine] && p.status === 'ok')?.medianMs
      if (peer && t.medianMs !== undefined) t.ratio = round(t.medianMs / peer)
      if (macs > 0 && t.medianMs) t.gflops = round((2 * macs) / t.medianMs / 1e6)
    }
    return { ...base, inputShapes: inputs.map((t) => [...t.shape]), parameters, macs, parity, timings }
  } catch (err) {
    return {
      ...base,
      inputShapes: inputs.map((t) => [...t.shape]),
      parameters: 0,
      parity: [],
      timings: [],
      error: (err as Error).message.split('\n')[0]!,
    }
  } finally {
    for (const s of kept) await s.release()
  }
}

/**
 * Loading the kernels: feature detection, compilation, the shared linear memory and its arena.
 *
 * The kernels (wasm/kernels.ts, AssemblyScript) are compiled twice by scripts/build-wasm.mjs: with relaxed
 * SIMD (one fused multiply-add per step of the GEMM micro-kernel) and with plain SIMD (a multiply and an add).
 * The relaxed build is used where the engine validates it. Node 20 has relaxed SIMD behind
 * `--experimental-wasm-relaxed-simd`, which a library may set itself before compiling (`v8.setFlagsFromString`);
 * Node 22+ and current browsers have it on.
 *
 * Memory: tensors stay ordinary JS typed arrays. A kernel call copies its operands into this memory, runs,
 * and copies the result out (except operands pinned for a scope, such as a recurrent layer's weights over its time
 * steps: see `pin`) (docs/performance.md has the measurements behind that choice: the copies cost
 * O(n^2) against the kernels' O(n^3), and nothing a user holds can be detached by memory growth). The memory
 * is shared (a SharedArrayBuffer), so the worker threads of pool.ts run the same kernels on it.
 */
import { BackendError } from '../../errors.js'
import { relaxed as relaxedBase64, simd as simdBase64 } from './binary.generated.js'

/** The kernel exports: the parallel ones take (parameter block pointer, thread id, thread count). */
export interface KernelExports {
  gemm(p: number, tid: number, nt: number): void
  conv2d(p: number, tid: number, nt: number): void
  conv2dBackwardInput(p: number, tid: number, nt: number): void
  conv2dBackwardWeight(p: number, tid: number, nt: number): void
  binaryRows(
    op: number,
    a: number,
    aOffs: number,
    aCol: number,
    b: number,
    bOffs: number,
    bCol: number,
    out: number,
    rows: number,
    n: number,
  ): void
  relu(x: number, y: number, n: number): void
  /** dst = the `chunks` arrays of n floats at part, added in order (the chunked conv weight gradient). */
  sumChunks(part: number, dst: number, n: number, chunks: number): void
  packWeights(W: number, rows: number, K: number, groups: number, dst: number): void
  unary(op: number, x: number, y: number, n: number, alpha: number, gamma: number): void
  softmaxRows(x: number, y: number, rows: number, n: number, log: number): void
  layerNormRows(x: number, y: number, rows: number, n: number, w: number, b: number, eps: number): void
  channelAffine(x: number, y: number, scale: number, shift: number, rows: number, channels: number, n: number): void
  reluGrad(dy: number, x: number, dx: number, n: number): void
  geluGrad(dy: number, x: number, dx: number, n: number): void
  recurrentScan(p: number, tid: number, nt: number): void
  maxPool2d(
    x: number,
    y: number,
    indices: number,
    planes: number,
    inH: number,
    inW: number,
    outH: number,
    outW: number,
    kW: number,
    strideH: number,
    strideW: number,
    padTop: number,
    padLeft: number,
    dilationH: number,
    dilationW: number,
    iLo: number,
    iHi: number,
    jLo: number,
    jHi: number,
  ): void
  maxPool2dPadded(p: number, tid: number, nt: number): void
  leakyRelu(x: number, y: number, n: number, alpha: number): void
  peak(iters: number): number
  heapBase(): number
  GEMM_SCRATCH: WebAssembly.Global
}

/** The names of the parallel kernels, in the order the thread pool indexes them. */
export const parallelKernels = [
  'gemm',
  'conv2d',
  'conv2dBackwardInput',
  'conv2dBackwardWeight',
  'recurrentScan',
  'maxPool2dPadded',
] as const
export type ParallelKernel = (typeof parallelKernels)[number]

const PAGE = 65536
const MAX_PAGES = 32768

const decode = (b64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))

let relaxedSupport: boolean | undefined
const compiled = new Map<boolean, WebAssembly.Module>()

/** Compile the kernels asynchronously (the relaxed-SIMD build where supported, and the plain one). */
export async function compileKernels(): Promise<void> {
  for (const relaxed of hasRelaxedSimd() ? [true, false] : [false])
    if (!compiled.has(relaxed))
      compiled.set(relaxed, await WebAssembly.compile(decode(relaxed ? relaxedBase64 : simdBase64)))
}

/** Whether this engine runs relaxed SIMD (turning on Node 20's flag for it first, where there is one). */
export function hasRelaxedSimd(): boolean {
  if (relaxedSupport !== undefined) return relaxedSupport
  const bytes = decode(relaxedBase64)
  relaxedSupport = WebAssembly.validate(bytes)
  if (!relaxedSupport) {
    const v8 = nodeBuiltin<{ setFlagsFromString(flags: string): void }>('node:v8')
    if (v8) {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd')
      relaxedSupport = WebAssembly.validate(bytes)
    }
  }
  return relaxedSupport
}

/** Whether this engine runs the plain-SIMD build with shared memory (WebAssembly SIMD and threads). */
export function hasSimd(): boolean {
  try {
    return WebAssembly.validate(decode(simdBase64)) && typeof SharedArrayBuffer === 'function'
  } catch {
    return false
  }
}

/** A Node built-in module, loaded synchronously, or undefined outside Node. */
export function nodeBuiltin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process
  return proc?.getBuiltinModule?.(name) as T | undefined
}

/**
 * One compiled and instantiated kernel module with its memory. `reserve(bytes)` makes sure the arena above
 * the module's static data holds that many bytes and returns its start; views are refreshed after growth.
 */
export class WasmRuntime {
  readonly module: WebAssembly.Module
  readonly memory: WebAssembly.Memory
  readonly exports: KernelExports
  /** First free byte above the module's static data and any pinned operands (16-aligned): the arena's start. */
  base: number
  /** Operands copied in once for a scope (see `pin`): each array and the byte offset of its copy. */
  readonly pinned = new Map<Float32Array, number>()
  /**
   * Kernel-specific copies of pinned operands (see `derived`), by operand and kind: the byte offset of each.
   * Each belongs to the innermost pin scope at the time it was made and goes with it.
   */
  private readonly derivedCopies = new Map<Float32Array, Map<string, number>>()
  /** Open pin scopes, innermost last: what each must drop when it ends. */
  private readonly scopes: { arrays: Float32Array[]; derived: [Float32Array, string][] }[] = []
  /** Bytes of scratch one thread needs for GEMM packing. */
  readonly gemmScratch: number
  f32: Float32Array
  i32: Int32Array

  constructor(readonly relaxedSimd: boolean) {
    // NOTE: browsers refuse to compile modules over 4 KB synchronously on the main thread; `compileKernels`
    // (called by initWasm) compiles them asynchronously first, and the compiled module is used here.
    this.module = compiled.get(relaxedSimd) ?? new WebAssembly.Module(decode(relaxedSimd ? relaxedBase64 : simdBase64))
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true })
    this.exports = new WebAssembly.Instance(this.module, { env: { memory: this.memory } })
      .exports as unknown as KernelExports
    this.base = this.exports.heapBase()
    this.gemmScratch = this.exports.GEMM_SCRATCH.value as number
    this.f32 = new Float32Array(this.memory.buffer)
    this.i32 = new Int32Array(this.memory.buffer)
  }

  /**
   * Copy `arrays` into memory once, below the arena, and keep them there until the returned function is
   * called: kernel calls in between read those operands in place instead of copying them in. The arrays must
   * not change meanwhile. Scopes nest (release them in reverse order); an array already pinned is not copied
   * again. Throws a WasmMemoryError (and pins nothing) past the 2 GiB maximum.
   */
  pin(arrays: readonly Float32Array[]): () => void {
    const start = this.base
    const fresh = [...new Set(arrays)].filter((a) => !this.pinned.has(a))
    const size = (a: Float32Array) => (a.length * 4 + 15) & ~15
    this.reserve(fresh.reduce((n, a) => n + size(a), 0))
    let at = start
    for (const a of fresh) {
      this.f32.set(a, at >> 2)
      this.pinned.set(a, at)
      at += size(a)
    }
    this.base = at
    const scope = { arrays: fresh, derived: [] as [Float32Array, string][] }
    this.scopes.push(scope)
    return () => {
      for (const a of scope.arrays) this.pinned.delete(a)
      for (const [a, kind] of scope.derived) this.derivedCopies.get(a)?.delete(kind)
      this.scopes.splice(this.scopes.indexOf(scope), 1)
      this.base = start
    }
  }

  /**
   * A kernel's own layout of a pinned operand (the recurrent kernel's W_hh in panels; ONNX Runtime prepacks
   * weights likewise when a session loads): `floats` float32 slots kept below the arena until the innermost
   * open pin scope ends, so that calls within the scope reuse it. Returns its byte offset and whether it was
   * just made (the caller then fills it), or undefined when `owner` is not pinned. Throws a WasmMemoryError
   * past the 2 GiB maximum.
   */
  derived(owner: Float32Array, kind: string, floats: number): { at: number; fresh: boolean } | undefined {
    if (!this.pinned.has(owner)) return undefined
    const copies = this.derivedCopies.get(owner) ?? new Map<string, number>()
    const have = copies.get(kind)
    if (have !== undefined) return { at: have, fresh: false }
    const bytes = (floats * 4 + 15) & ~15
    const at = this.reserve(bytes)
    this.base = at + bytes
    copies.set(kind, at)
    this.derivedCopies.set(owner, copies)
    this.scopes[this.scopes.length - 1]!.derived.push([owner, kind])
    return { at, fresh: true }
  }

  /** Make room for `bytes` bytes at `base`; throws a WasmMemoryError past the 2 GiB maximum. */
  reserve(bytes: number): number {
    const need = this.base + bytes
    const have = this.memory.buffer.byteLength
    if (need > have) {
      const pages = Math.ceil((need - have) / PAGE)
      if (have / PAGE + pages > MAX_PAGES)
        throw new WasmMemoryError(`wasm backend: a kernel needs ${need} bytes of memory, more than the 2 GiB maximum`)
      this.memory.grow(pages)
      this.f32 = new Float32Array(this.memory.buffer)
      this.i32 = new Int32Array(this.memory.buffer)
    }
    return this.base
  }
}

/** A kernel call needs more than the 2 GiB the wasm memory may grow to (the call then runs on js). */
export class WasmMemoryError extends BackendError {
  override name = 'WasmMemoryError'
}

/** Bump allocation of one kernel call's operands inside the arena (16-byte aligned), sized before use. */
export class Layout {
  bytes = 0
  /** Reserve `floats` float32 slots; returns their byte offset relative to the arena start. */
  take(floats: number): number {
    const at = this.bytes
    this.bytes += (floats * 4 + 15) & ~15
    return at
  }
}

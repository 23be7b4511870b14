/**
 * ONNX Runtime through onnxruntime-node: providers, sessions, tensors in and out.
 * onnxruntime-node ships its CPU library inside the npm package; the CUDA provider is a separate
 * download its install script makes, which does not run here (see docs/cuda.md).
 */
import { ArgumentError, type DType, DTypeError, Tensor, onnx } from '@refnets/core'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import type { Provider } from './tolerances.js'

export interface ProviderInfo {
  name: Provider
  available: boolean
  /** Why a provider cannot run, e.g. no GPU or the CUDA provider not installed. */
  reason?: string
}

/** A one-node model (Identity on float[1]) used to probe whether a provider can create a session. */
function probeModel(): Uint8Array {
  const io = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } })
  return onnx.encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'refnets',
    graph: {
      name: 'probe',
      node: [{ input: ['x'], output: ['y'], opType: 'Identity' }],
      input: [io('x')],
      output: [io('y')],
    },
  })
}

/**
 * The CUDA provider lives in libonnxruntime_providers_cuda.so beside the binding; when it is absent,
 * say so without asking ONNX Runtime (which would print a load error to stderr).
 */
function missingCudaLibrary(): string | null {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'))
    const bin = join(pkg, 'bin', 'napi-v6', process.platform, process.arch)
    for (const lib of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'])
      if (process.platform === 'linux' && !existsSync(join(bin, lib))) return lib
    return null
  } catch {
    return null
  }
}

let cached: Promise<ProviderInfo[]> | null = null

/** cpu and cuda, each with whether it can run here and why not. */
export function availableProviders(): Promise<ProviderInfo[]> {
  cached ??= (async () => {
    const cpu: ProviderInfo = { name: 'cpu', available: true }
    const backends =
      (ort as unknown as { listSupportedBackends?: () => { name: string }[] }).listSupportedBackends?.() ?? []
    if (!backends.some((b) => b.name === 'cuda'))
      return [cpu, { name: 'cuda', available: false, reason: 'this onnxruntime-node build lists no CUDA backend' }]
    const missing = missingCudaLibrary()
    if (missing)
      return [
        cpu,
        {
          name: 'cuda',
          available: false,
          reason: `the CUDA execution provider is not installed (${missing} is absent: onnxruntime-node's install script, which downloads it, does not run by default; see docs/cuda.md)`,
        },
      ]
    try {
      const s = await ort.InferenceSession.create(probeModel(), { executionProviders: ['cuda'] })
      await s.release()
      return [cpu, { name: 'cuda', available: true }]
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!
      const reason = /libonnxruntime_providers_cuda|providers_shared|cannot open shared object/i.test(msg)
        ? `the CUDA execution provider is not installed (onnxruntime-node's install script did not download it; see docs/cuda.md): ${msg}`
        : /no CUDA-capable device|CUDA driver|cudaGetDeviceCount|libcuda/i.test(msg)
          ? `no usable NVIDIA GPU: ${msg}`
          : `creating a CUDA session failed: ${msg}`
      return [cpu, { name: 'cuda', available: false, reason }]
    }
  })()
  return cached
}

const ortType: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int32: 'int32', bool: 'bool' }

export function toOrt(t: Tensor): ort.Tensor {
  const d = t.contiguous().data
  const data = t.dtype === 'bool' ? Uint8Array.from(d) : d
  return new ort.Tensor(ortType[t.dtype], data as Float32Array, [...t.shape])
}

/**
 * Back to a refnets tensor; int64 (ONNX Runtime's index type) is carried as int32, and a value
 * outside int32's range is a DTypeError, never a silent wrap.
 */
export function fromOrt(t: ort.Tensor): Tensor {
  const shape = [...t.dims]
  switch (t.type) {
    case 'float32':
      return new Tensor(Float32Array.from(t.data as Float32Array), shape)
    case 'float64':
      return new Tensor(Float64Array.from(t.data as Float64Array), shape)
    case 'int32':
      return new Tensor(Int32Array.from(t.data as Int32Array), shape)
    case 'int64':
      return new Tensor(
        Int32Array.from(t.data as BigInt64Array, (v, i) => {
          if (v > 2147483647n || v < -2147483648n)
            throw new DTypeError(
              `ONNX Runtime returned int64 ${v} at element ${i}, outside the int32 range refnets carries integers in`,
            )
          return Number(v)
        }),
        shape,
      )
    case 'bool':
      return new Tensor(Uint8Array.from(t.data as Uint8Array), shape)
    default:
      throw new DTypeError(
        `ONNX Runtime returned a ${t.type} tensor; refnets reads float32, float64, int32, int64 and bool`,
      )
  }
}

export interface SessionOptions {
  provider?: Provider
  /** Intra-op threads (0 or undefined: ONNX Runtime's default). */
  threads?: number
}

export interface OrtSession {
  inputNames: readonly string[]
  outputNames: readonly string[]
  run(feeds: Tensor[]): Promise<Tensor[]>
  /** Run with pre-converted feeds (what the harness times: ONNX Runtime's run and nothing else). */
  runRaw(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType>
  feeds(inputs: Tensor[]): Record<string, ort.Tensor>
  release(): Promise<void>
}

export async function createSession(
  bytes: Uint8Array,
  { provider = 'cpu', threads }: SessionOptions = {},
): Promise<OrtSession> {
  const s = await ort.InferenceSession.create(bytes, {
    executionProviders: [provider],
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    graphOptimizationLevel: 'all',
  })
  const feeds = (inputs: Tensor[]) => {
    if (inputs.length !== s.inputNames.length)
      throw new ArgumentError(
        `the model has ${s.inputNames.length} inputs (${s.inputNames.join(', ')}), got ${inputs.length}`,
      )
    return Object.fromEntries(s.inputNames.map((n, i) => [n, toOrt(inputs[i]!)]))
  }
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    feeds,
    runRaw: (f) => s.run(f),
    async run(inputs) {
      const out = await s.run(feeds(inputs))
      return s.outputNames.map((n) => fromOrt(out[n]!))
    },
    release: () => s.release(),
  }
}

/** Run an ONNX model once in ONNX Runtime. */
export async function runOrt(bytes: Uint8Array, feeds: Tensor[], opts: SessionOptions = {}): Promise<Tensor[]> {
  const s = await createSession(bytes, opts)
  try {
    return await s.run(feeds)
  } finally {
    await s.release()
  }
}

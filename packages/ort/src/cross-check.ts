/**
 * crossCheck: export a module, run the export in ONNX Runtime on each provider, and compare every
 * output with refnets' own forward pass. A provider that cannot run is reported as skipped with the
 * reason — never as a pass.
 */
import { type ExportOptions, type Module, type Tensor, exportOnnx, noGrad } from '@refnets/core'
import { type OrtSession, availableProviders, createSession } from './runtime.js'
import { type Provider, type Tolerance, tolerances } from './tolerances.js'

export interface OutputComparison {
  maxAbsError: number
  /** max |a - b| / |b| over elements where |b| > atol (relative error is meaningless near zero). */
  maxRelError: number
  /** Elements outside atol + rtol |b| (atol * max |b| + rtol |b| for a scaled tolerance). */
  mismatches: number
  shapeMatches: boolean
  /** max |b|: the output's scale. */
  scale: number
  /** maxAbsError / scale: the scale-aware error (0 when both are 0). */
  scaledError: number
}

export interface ProviderResult {
  provider: Provider
  status: 'pass' | 'fail' | 'skipped'
  reason?: string
  maxAbsError?: number
  maxRelError?: number
  /** The largest scale-aware error (max abs error / max |reference|) over the outputs. */
  scaledError?: number
  tolerance?: Tolerance
  perOutput?: OutputComparison[]
  /**
   * With `keepSessions`, the session the check ran (default threads), still open: the caller times it and
   * releases it. Building a session for a large model costs seconds (VGG-16: ~8 s, mostly parsing and
   * copying 550 MB of weights), so a harness that times the same provider should not build it twice.
   */
  session?: OrtSession
}

export interface CrossCheckResult {
  /** refnets' outputs (eval mode). */
  outputs: Tensor[]
  providers: ProviderResult[]
  /** The exported model, for reuse (timing). */
  onnx: Uint8Array
}

export interface CrossCheckOptions {
  providers?: Provider[]
  /** Override the per-provider table (e.g. a spec's tolerance). */
  tolerance?: Tolerance
  exportOptions?: ExportOptions
  /** Keep each provider's session open and return it (ProviderResult.session); the caller releases it. */
  keepSessions?: boolean
}

export function compareTensors(a: Tensor, b: Tensor, tol: Tolerance): OutputComparison {
  const shapeMatches = a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i])
  if (!shapeMatches)
    return {
      maxAbsError: Infinity,
      maxRelError: Infinity,
      mismatches: Math.max(a.size, b.size),
      shapeMatches,
      scale: NaN,
      scaledError: Infinity,
    }
  const x = a.data
  const y = b.data
  let scale = 0
  for (let i = 0; i < y.length; i++) {
    const v = Math.abs(Number(y[i]))
    if (v > scale && v !== Infinity) scale = v
  }
  const atol = tol.scaled ? tol.atol * scale : tol.atol
  let maxAbsError = 0
  let maxRelError = 0
  let mismatches = 0
  for (let i = 0; i < y.length; i++) {
    const xi = Number(x[i])
    const yi = Number(y[i])
    // Equal values (including equal infinities) match; NaN matches only NaN.
    if (xi === yi || (Number.isNaN(xi) && Number.isNaN(yi))) continue
    const d = Math.abs(xi - yi)
    const ref = Math.abs(yi)
    if (Number.isNaN(d)) {
      mismatches++
      maxAbsError = Infinity
      continue
    }
    if (d > maxAbsError) maxAbsError = d
    if (ref > atol && d / ref > maxRelError) maxRelError = d / ref
    if (d > atol + tol.rtol * ref) mismatches++
  }
  const scaledError = maxAbsError === 0 ? 0 : maxAbsError / scale
  return { maxAbsError, maxRelError, mismatches, shapeMatches, scale, scaledError }
}

export async function crossCheck(
  module: Module<any, any>,
  inputs: Tensor[],
  opts: CrossCheckOptions = {},
): Promise<CrossCheckResult> {
  const wasTraining = module.training
  module.eval()
  let outputs: Tensor[]
  let onnx: Uint8Array
  try {
    const y = noGrad(() => module.call(...inputs)) as Tensor | Tensor[]
    outputs = Array.isArray(y) ? y : [y]
    onnx = exportOnnx(module, inputs, opts.exportOptions)
  } finally {
    module.train(wasTraining)
  }
  const infos = await availableProviders()
  const providers: ProviderResult[] = []
  for (const provider of opts.providers ?? ['cpu', 'cuda']) {
    const info = infos.find((p) => p.name === provider)
    if (!info?.available) {
      providers.push({ provider, status: 'skipped', reason: info?.reason ?? 'unknown provider' })
      continue
    }
    let theirs: Tensor[]
    let session: OrtSession | undefined
    try {
      session = await createSession(onnx, { provider })
      theirs = await session.run(inputs)
      if (!opts.keepSessions) await session.release()
    } catch (e) {
      await session?.release()
      providers.push({
        provider,
        status: 'fail',
        reason: `ONNX Runtime could not run the export: ${(e as Error).message.split('\n')[0]}`,
      })
      continue
    }
    const perOutput = outputs.map((o, i) => {
      const tol = opts.tolerance ?? tolerances[provider][o.dtype]
      return theirs[i]
        ? compareTensors(o, theirs[i]!, tol)
        : {
            maxAbsError: Infinity,
            maxRelError: Infinity,
            mismatches: o.size,
            shapeMatches: false,
            scale: NaN,
            scaledError: Infinity,
          }
    })
    const ok = theirs.length === outputs.length && perOutput.every((c) => c.shapeMatches && c.mismatches === 0)
    providers.push({
      provider,
      status: ok ? 'pass' : 'fail',
      ...(ok
        ? {}
        : {
            reason:
              theirs.length !== outputs.length
                ? `ONNX Runtime returned ${theirs.length} outputs, refnets ${outputs.length}`
                : 'outputs differ beyond the tolerance',
          }),
      maxAbsError: Math.max(...perOutput.map((c) => c.maxAbsError)),
      maxRelError: Math.max(...perOutput.map((c) => c.maxRelError)),
      scaledError: Math.max(...perOutput.map((c) => c.scaledError)),
      tolerance: opts.tolerance ?? tolerances[provider][outputs[0]!.dtype],
      perOutput,
      ...(opts.keepSessions ? { session } : {}),
    })
  }
  return { outputs, providers, onnx }
}

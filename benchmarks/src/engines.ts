/**
 * The engines the harness times besides refnets: ONNX Runtime (through @refnets/ort) and
 * TensorFlow.js backends. Each engine is either available or reported with the reason it is not;
 * none is ever silently left out.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type * as TF from '@tensorflow/tfjs'

export interface EngineInfo {
  name: string
  available: boolean
  reason?: string
  version?: string
}

export interface TfjsEngine {
  name: string
  tf: typeof TF
  /** The tfjs backend to select before running (engines share one tfjs instance per package). */
  backend: string
}

const require = createRequire(import.meta.url)

/**
 * TensorFlow.js engines: the pure-JS cpu and the wasm backend always (they are dependencies);
 * tfjs-node and tfjs-node-gpu only when someone installed them (they download libtensorflow).
 */
export async function tfjsEngines(
  wanted: (name: string) => boolean,
): Promise<{ engines: TfjsEngine[]; infos: EngineInfo[] }> {
  const engines: TfjsEngine[] = []
  const infos: EngineInfo[] = []
  const tf = (await import('@tensorflow/tfjs')) as typeof TF
  // Production mode: no per-op debug checks (what a deployed tfjs model runs with), and no
  // "install tfjs-node" banner on first use.
  tf.enableProdMode()
  if (wanted('tfjs-cpu')) {
    await tf.setBackend('cpu')
    engines.push({ name: 'tfjs-cpu', tf, backend: 'cpu' })
    infos.push({ name: 'tfjs-cpu', available: true, version: tf.version.tfjs })
  }
  if (wanted('tfjs-wasm')) {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`)
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false')
      engines.push({ name: 'tfjs-wasm', tf, backend: 'wasm' })
      infos.push({ name: 'tfjs-wasm', available: true, version: wasm.version_wasm })
    } catch (e) {
      infos.push({
        name: 'tfjs-wasm',
        available: false,
        reason: `the wasm backend did not start: ${(e as Error).message}`,
      })
    }
  }
  for (const [name, pkg, backend] of [
    ['tfjs-node', '@tensorflow/tfjs-node', 'tensorflow'],
    ['tfjs-node-gpu', '@tensorflow/tfjs-node-gpu', 'tensorflow'],
  ] as const) {
    if (!wanted(name)) continue
    try {
      const tfn = (await import(pkg)) as typeof TF
      tfn.enableProdMode()
      await tfn.setBackend(backend)
      engines.push({ name, tf: tfn, backend })
      infos.push({ name, available: true, version: tfn.version.tfjs })
    } catch (e) {
      const missing = /Cannot find (module|package)/.test((e as Error).message)
      infos.push({
        name,
        available: false,
        reason: missing
          ? `${pkg} is not installed (optional: it downloads libtensorflow at install time)`
          : `${pkg} failed to load: ${(e as Error).message.split('\n')[0]}`,
      })
    }
  }
  return { engines, infos }
}

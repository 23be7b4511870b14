/**
 * Saving and loading weights as safetensors files on Node (node:fs). Kept out of the browser-safe
 * index: import from `@refnets/core/io/node`. In a browser, use `saveSafetensors` / `loadSafetensors`
 * on bytes (fetch, File, IndexedDB) and `module.loadStateDict`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { Module } from '../nn/module.js'
import type { Tensor } from '../tensor.js'
import { type SaveSafetensorsOptions, loadSafetensors, saveSafetensors } from './safetensors.js'

/** Write named tensors to a .safetensors file. */
export function saveSafetensorsFile(
  path: string,
  tensors: Record<string, Tensor>,
  opts?: SaveSafetensorsOptions,
): void {
  writeFileSync(path, saveSafetensors(tensors, opts))
}

/** Read every tensor of a .safetensors file. */
export function loadSafetensorsFile(path: string): Record<string, Tensor> {
  const buf = readFileSync(path)
  return loadSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength))
}

/** Save a module's state dict (parameters and buffers, PyTorch names) as safetensors. */
export function saveWeights(module: Module<any, any>, path: string, opts?: SaveSafetensorsOptions): void {
  saveSafetensorsFile(path, module.stateDict(), opts)
}

/**
 * Load a safetensors file into a module (a PyTorch state dict saved with safetensors loads directly).
 * A malformed file raises SafetensorsError; missing, unexpected (with `strict`, the default) or
 * mis-shaped tensors raise StateDictError. Either way the module is left unchanged.
 */
export function loadWeights(
  module: Module<any, any>,
  path: string,
  { strict = true }: { strict?: boolean } = {},
): { missing: string[]; unexpected: string[] } {
  return module.loadStateDict(loadSafetensorsFile(path), { strict })
}

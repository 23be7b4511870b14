/**
 * Peak memory of one spec's forward pass, in a process of its own (spawned by run.ts):
 *   node --import tsx --conditions=source peak-memory.ts <package> <spec> <size> <seed>
 * Prints one JSON line: RSS before the first forward pass, the process's peak RSS over three passes, and the
 * wasm backend's linear memory.
 */
import { noGrad, wasmBackend } from '@refnets/core'
import { selectSpecs } from './registry.js'

const [pkg, name, size, seed] = process.argv.slice(2)
const [{ spec }] = selectSpecs([pkg!], [name!])
const module = spec!.build(Number(seed))
module.eval()
const inputs = spec!.inputs(size as 'small' | 'bench', Number(seed) + 1)
const rssBeforeBytes = process.memoryUsage().rss
for (let i = 0; i < 3; i++) noGrad(() => module.call(...inputs))
console.log(
  JSON.stringify({
    rssBeforeBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    wasmBytes: wasmBackend()?.runtime.memory.buffer.byteLength ?? 0,
  }),
)
process.exit(0)

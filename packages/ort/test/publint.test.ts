/**
 * publint (https://publint.dev) passes on what this package would publish: the repository's
 * scripts/publint.mjs builds dist and reports any error, warning or suggestion about the exports
 * map, types, files and module format.
 */
import { execFile } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

it('passes publint', async () => {
  // Asynchronous, so the long build does not block the worker's event loop (vitest's RPC times out).
  const { stdout } = await promisify(execFile)('node', [resolve(pkgDir, '../../scripts/publint.mjs'), pkgDir], {
    encoding: 'utf8',
  })
  expect(stdout).toMatch(/publint passed/)
}, 300_000)

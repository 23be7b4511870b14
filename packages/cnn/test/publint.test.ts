/**
 * publint (https://publint.dev) passes on what this package would publish: the repository's
 * scripts/publint.mjs builds dist and reports any error, warning or suggestion about the exports
 * map, types, files and module format.
 */
import { execFileSync } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

it('passes publint', () => {
  const out = execFileSync('node', [resolve(pkgDir, '../../scripts/publint.mjs'), pkgDir], { encoding: 'utf8', stdio: 'pipe' })
  expect(out).toMatch(/publint passed/)
}, 300_000)

/**
 * `npm pack` of @refnets/core installs into an empty folder and `import { tensor, nn, optim }`
 * works there: the published package is complete (exports map, dist, dependencies). publint
 * (https://publint.dev, through the repository's scripts/publint.mjs) passes on it too; it runs in
 * this file, after the pack, because both build dist.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const work = mkdtempSync(join(tmpdir(), 'refnets-pack-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const run = promisify(execFile)

// Every step is asynchronous, so the long build and install do not block the worker's event loop
// (vitest's RPC times out otherwise).
it('packs, installs into an empty folder and imports', async () => {
  const env = { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false' }
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: pkgDir, env })
  await run('npm', ['pack', '--pack-destination', work], { cwd: pkgDir, env })
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!
  const app = join(work, 'app')
  await run('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  await run('npm', ['install', '--no-save', join(work, tgz)], { cwd: app, env })
  writeFileSync(
    join(app, 'main.js'),
    `import { tensor, nn, optim, getBackend } from '@refnets/core'
const m = new nn.Linear(2, 1)
const opt = new optim.SGD(m.parameters(), { lr: 0.1 })
const y = m.call(tensor([[1, 2]])).sum()
y.backward()
opt.step()
const a = tensor(Array.from({ length: 64 * 64 }, (_, i) => (i % 7) - 3), { shape: [64, 64] })
const p = a.matmul(a).sum().item()
console.log(JSON.stringify({ shape: tensor([[1, 2], [3, 4]]).shape, grad: m.weight.grad.shape, backend: getBackend().name, p }))
`,
  )
  const out = (await run('node', ['main.js'], { cwd: app, env })).stdout.toString().trim()
  // The wasm backend is active in the installed package (unless REFNETS_BACKEND=js chose the reference), and its GEMM (64^3, above the js threshold) is exact
  // on small integers: sum(A @ A) = sum_k (column sums of A)_k (row sums of A)_k.
  const a = Array.from({ length: 64 * 64 }, (_, i) => (i % 7) - 3)
  let p = 0
  for (let k = 0; k < 64; k++) {
    let col = 0
    let row = 0
    for (let i = 0; i < 64; i++) col += a[i * 64 + k]!
    for (let j = 0; j < 64; j++) row += a[k * 64 + j]!
    p += col * row
  }
  const backend = process.env.REFNETS_BACKEND === 'js' ? 'js' : 'wasm'
  expect(JSON.parse(out)).toEqual({ shape: [2, 2], grad: [1, 2], backend, p })
}, 300_000)

it('passes publint', async () => {
  const { stdout } = await run('node', [resolve(pkgDir, '../../scripts/publint.mjs'), pkgDir], { encoding: 'utf8' })
  expect(stdout).toMatch(/publint passed/)
}, 300_000)

/**
 * `npm pack` of @refnets/core installs into an empty folder and `import { tensor, nn, optim }`
 * works there: the published package is complete (exports map, dist, dependencies). publint
 * (https://publint.dev, through the repository's scripts/publint.mjs) passes on it too; it runs in
 * this file, after the pack, because both build dist.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const work = mkdtempSync(join(tmpdir(), 'refnets-pack-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

it('packs, installs into an empty folder and imports', async () => {
  // Asynchronous, so the long build and install do not block the worker's event loop (vitest's RPC times out).
  const run = (cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) => promisify(execFile)(cmd, args, { ...opts, encoding: 'utf8' })
  const env = { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false' }
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: pkgDir, env })
  await run('npm', ['pack', '--pack-destination', work], { cwd: pkgDir, env })
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!
  const app = join(work, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
  await run('npm', ['install', '--no-save', join(work, tgz)], { cwd: app, env })
  writeFileSync(
    join(app, 'main.js'),
    `import { tensor, nn, optim } from '@refnets/core'
const m = new nn.Linear(2, 1)
const opt = new optim.SGD(m.parameters(), { lr: 0.1 })
const y = m.call(tensor([[1, 2]])).sum()
y.backward()
opt.step()
console.log(JSON.stringify({ shape: tensor([[1, 2], [3, 4]]).shape, grad: m.weight.grad.shape }))
`,
  )
  const out = (await run('node', ['main.js'], { cwd: app, env })).stdout.trim()
  expect(JSON.parse(out)).toEqual({ shape: [2, 2], grad: [1, 2] })
}, 300_000)

it('passes publint', async () => {
  // Asynchronous, so the long build does not block the worker's event loop (vitest's RPC times out).
  const { stdout } = await promisify(execFile)('node', [resolve(pkgDir, '../../scripts/publint.mjs'), pkgDir], { encoding: 'utf8' })
  expect(stdout).toMatch(/publint passed/)
}, 300_000)

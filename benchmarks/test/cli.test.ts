/** `pnpm bench` as a user runs it: the table on stdout, the three reports, clear errors for bad options. */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'

const out = mkdtempSync(join(tmpdir(), 'refnets-cli-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))
const bench = (...args: string[]) =>
  spawnSync('npx', ['tsx', '--conditions=source', 'src/cli.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
  })

it('prints the parity and timing table and writes the reports', () => {
  const r = bench('--quick', '--specs', 'softmax-regression,relu', '--out', out)
  expect(r.status, r.stderr).toBe(0)
  expect(r.stdout).toMatch(/^case\s+parity\s+max abs err\s+refnets ms\s+refnets-1t ms\s+ort-cpu-1t ms\s+ort-cpu ms/m)
  expect(r.stdout).toMatch(/refnets-1t \/ ort-cpu-1t\s+refnets \/ ort-cpu\s+tfjs-wasm \/ refnets-1t$/m)
  expect(r.stdout).toMatch(/core\/softmax-regression\s+ort-cpu pass/)
  expect(r.stdout).toMatch(/2\/2 cases pass parity/)
  expect(r.stderr).toMatch(/\[1\/2\] core\/softmax-regression: ort-cpu pass/)
  const day = new Date().toISOString().slice(0, 10)
  for (const f of ['report.json', 'report.md', 'report.html']) expect(existsSync(join(out, day, f))).toBe(true)
  // The allocator settings are part of the machine description (scripts/run-tuned.mjs sets them for `pnpm bench`).
  expect(readFileSync(join(out, day, 'report.md'), 'utf8')).toMatch(
    /, allocator (default|(MALLOC_\w+|GLIBC_TUNABLES)=\S+)/,
  )
  // A second run compares with the first.
  const again = bench('--quick', '--specs', 'relu', '--out', out)
  expect(again.stdout).toMatch(/compared with .*report\.json: \d+ regression/)
}, 120_000)

it('rejects unknown options and values with what it expected', () => {
  expect(bench('--size', 'huge').stderr).toMatch(/--size expects small or bench, got 'huge'/)
  expect(bench('--providers', 'tpu').stderr).toMatch(/--providers expects cpu and\/or cuda, got 'tpu'/)
  expect(bench('--specs', 'nope').stderr).toMatch(/unknown spec\(s\) nope/)
  expect(bench('--specs', 'nope').status).toBe(2)
}, 60_000)

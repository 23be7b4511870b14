/** scripts/run-tuned.mjs, the launcher of `pnpm bench` and the examples: glibc allocator settings, the child's exit code. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const launcher = join(import.meta.dirname, '../../scripts/run-tuned.mjs')
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_') && k !== 'GLIBC_TUNABLES'),
  )
  return spawnSync(process.execPath, [launcher, ...args], { encoding: 'utf8', env: { ...clean, ...env } })
}
const printEnv = [
  process.execPath,
  '-e',
  'console.log(process.env.MALLOC_MMAP_THRESHOLD_, process.env.MALLOC_TRIM_THRESHOLD_)',
]

it('runs the command with freed memory kept for reuse: mmap threshold 32 MiB, trim threshold 256 MiB', () => {
  const r = run(printEnv)
  expect(r.status, r.stderr).toBe(0)
  expect(r.stdout.trim()).toBe(`${32 * 2 ** 20} ${256 * 2 ** 20}`)
})

const printTunables = [process.execPath, '-e', 'console.log(process.env.GLIBC_TUNABLES)']

it('advises the heap into transparent huge pages, adding to tunables already set and leaving a choice already made', () => {
  expect(run(printTunables).stdout.trim()).toBe('glibc.malloc.hugetlb=1')
  expect(run(printTunables, { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).stdout.trim()).toBe(
    'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1',
  )
  expect(run(printTunables, { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }).stdout.trim()).toBe('glibc.malloc.hugetlb=0')
})

it('leaves a value the environment already sets', () => {
  expect(run(printEnv, { MALLOC_TRIM_THRESHOLD_: '1000' }).stdout.trim()).toBe(`${32 * 2 ** 20} 1000`)
})

it("exits with the command's status, and with a usage line or a clear error when there is nothing to run", () => {
  expect(run([process.execPath, '-e', 'process.exit(3)']).status).toBe(3)
  const none = run([])
  expect(none.status).toBe(2)
  expect(none.stderr).toMatch(/usage: node scripts\/run-tuned\.mjs <command>/)
  const missing = run(['refnets-no-such-command'])
  expect(missing.status).toBe(127)
  expect(missing.stderr).toMatch(/cannot start refnets-no-such-command/)
})

#!/usr/bin/env node
/**
 * node scripts/publint.mjs <package dir> [...]
 * Build each public package (tsc -p tsconfig.build.json) and lint what it would publish with publint
 * (https://publint.dev: exports map, types, files, module format), counting suggestions, warnings
 * and errors alike. Exits 1 when any message is reported. Each public package's test suite runs it
 * (test/publint.test.ts; core: test/pack.test.ts), so `pnpm test` and CI check it.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const dirs = process.argv.slice(2)
if (dirs.length === 0) {
  console.error('usage: node scripts/publint.mjs <package dir> [...]')
  process.exit(2)
}
let problems = 0
for (const dir of dirs) {
  const pkgDir = resolve(dir)
  const pkg = JSON.parse(readFileSync(resolve(pkgDir, 'package.json'), 'utf8'))
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: pkgDir, stdio: 'inherit' })
  const { messages } = await publint({ pkgDir, level: 'suggestion', strict: true, pack: 'npm' })
  for (const m of messages) console.log(`${pkg.name}: ${m.type}: ${formatMessage(m, pkg) ?? m.code}`)
  console.log(`${pkg.name}: publint ${messages.length === 0 ? 'passed' : `reported ${messages.length} message(s)`}`)
  problems += messages.length
}
process.exitCode = problems === 0 ? 0 : 1

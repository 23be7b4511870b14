/**
 * pnpm conformance [dir] [--write-docs] [--report-only]
 * Runs every case folder of `dir` (default: conformance/onnx-node, the ONNX node tests) through loadOnnx, prints one
 * line per case and ends with a JSON summary line {"passed":N,"failed":N,"errors":N,"unexpected":N}.
 * Exits with status 1 when a case that test/conformance-exclusions.ts does not list fails or errors (a case
 * without test data is an error), so CI sees a new failure; --report-only always exits 0.
 */
import { writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { conformanceMarkdown, listCases, runCaseDir } from '../src/onnx/conformance-node.js'
import { exclusions } from '../test/conformance-exclusions.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '../../..')
const args = process.argv.slice(2)
const writeDocs = args.includes('--write-docs')
const reportOnly = args.includes('--report-only')
const dir = resolve(
  process.env.INIT_CWD ?? process.cwd(),
  args.find((a) => !a.startsWith('--')) ?? resolve(repoRoot, 'conformance/onnx-node'),
)

const results = listCases(dir).map((name) => {
  const r = runCaseDir(dir, name)
  const tag = r.status === 'passed' ? 'PASS ' : r.status === 'failed' ? 'FAIL ' : 'ERROR'
  console.log(`${tag} ${name}${r.message ? `: ${r.message}` : ''}`)
  return [name, r] as [string, typeof r]
})
if (writeDocs) {
  const out = resolve(repoRoot, 'docs/conformance.md')
  writeFileSync(out, conformanceMarkdown(results, exclusions, '`conformance/onnx-node`'))
  console.error(`wrote ${out}`)
}
const count = (s: string) => results.filter(([, r]) => r.status === s).length
const unexpected = results.filter(([name, r]) => r.status !== 'passed' && !exclusions[name]).map(([name]) => name)
console.log(
  JSON.stringify({
    passed: count('passed'),
    failed: count('failed'),
    errors: count('error'),
    unexpected: unexpected.length,
  }),
)
if (unexpected.length > 0) {
  console.error(`${unexpected.length} case(s) outside the exclusion list did not pass: ${unexpected.join(', ')}`)
  if (!reportOnly) process.exitCode = 1
}

/**
 * The ONNX project's own node tests (conformance/onnx-node at the repository root, a copy of the shared set; see conformance/README.md) through loadOnnx. Every case
 * must pass unless `exclusions` lists it with a reason; a listed case that starts passing fails
 * too, so the table stays honest. docs/conformance.md must match this run (regenerate it with
 * `pnpm conformance --write-docs`).
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { CaseResult } from '../src/onnx/conformance.js'
import { conformanceMarkdown, listCases, runCaseDir } from '../src/onnx/conformance-node.js'
import { exclusions } from './conformance-exclusions.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const dir = resolve(repoRoot, 'conformance/onnx-node')
const cases = listCases(dir)
const results = new Map<string, CaseResult>(cases.map((c) => [c, runCaseDir(dir, c)]))

describe('ONNX node-test conformance', () => {
  it('finds the shared cases', () => {
    expect(cases.length).toBe(531)
  })

  it('passes at least 85% of the cases', () => {
    const passed = [...results.values()].filter((r) => r.status === 'passed').length
    expect(passed / cases.length).toBeGreaterThanOrEqual(0.85)
  })

  it('lists only real cases as exclusions', () => {
    for (const name of Object.keys(exclusions)) expect(cases, `exclusion ${name} is not a case`).toContain(name)
  })

  it('excludes only real gaps that fail loudly: each excluded case raises a typed error, none returns a wrong value', () => {
    for (const name of Object.keys(exclusions)) {
      const r = results.get(name)!
      expect(r.status, `${name}: ${r.message}`).toBe('error')
      expect(r.message, name).toMatch(/^OnnxImportError: /)
    }
  })

  it.each(cases)('%s', (name) => {
    const r = results.get(name)!
    if (exclusions[name])
      expect(
        r.status,
        `${name} is listed as excluded (${exclusions[name]}) but now passes: remove it from the table`,
      ).not.toBe('passed')
    else expect(r.status, `${name}: ${r.message}`).toBe('passed')
  })

  it('docs/conformance.md matches this run', () => {
    const md = conformanceMarkdown([...results.entries()], exclusions, '`conformance/onnx-node`')
    expect(readFileSync(resolve(repoRoot, 'docs/conformance.md'), 'utf8')).toBe(md)
  })
})

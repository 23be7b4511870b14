/**
 * The conformance runner can fail: a case without test data is an error, output element types are
 * compared, int64 values are compared exactly (never narrowed to int32 on both sides), random
 * training-mode Dropout cases are checked by the property the spec states, and `pnpm conformance`
 * exits non-zero when a case outside the exclusion list fails (`--report-only` keeps exit 0).
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { runCase } from '../src/onnx/conformance.js'
import { OnnxDataType as DT, type IO, nodeModel, pb } from './helpers/onnx-node.js'

const relu = (outType: number = DT.FLOAT) => nodeModel('Relu', [['x', DT.FLOAT, [3]]], [['y', outType, [3]]])
const x3 = pb(DT.FLOAT, [3], [-1, 0, 2])

describe('runCase', () => {
  it('passes a matching case', () => {
    expect(runCase('relu', { model: relu(), inputs: [x3], outputs: [pb(DT.FLOAT, [3], [0, 0, 2])] }).status).toBe(
      'passed',
    )
  })

  it('fails a wrong value', () => {
    const r = runCase('relu', { model: relu(), inputs: [x3], outputs: [pb(DT.FLOAT, [3], [0, 0, 3])] })
    expect(r.status).toBe('failed')
    expect(r.message).toMatch(/element 2 is 2, expected 3/)
  })

  it('counts a case without test data as an error (nothing would be compared)', () => {
    const r = runCase('relu', { model: relu(), inputs: [], outputs: [] })
    expect(r.status).toBe('error')
    expect(r.message).toMatch(/no test data/)
  })

  it('compares the output element type, not only the values', () => {
    // Same numbers, but the expected output is float64 where Relu of float32 gives float32.
    const r = runCase('relu', { model: relu(DT.DOUBLE), inputs: [x3], outputs: [pb(DT.DOUBLE, [3], [0, 0, 2])] })
    expect(r.status).toBe('failed')
    expect(r.message).toMatch(/element type float32 .* differs from expected float64/)
  })

  it('compares int64 values exactly: one int32 cannot carry fails, even at the INT64_MAX sentinel', () => {
    const model = nodeModel('Identity', [['x', DT.INT64, [2]]], [['y', DT.INT64, [2]]])
    const input = pb(DT.INT64, [2], BigInt64Array.from([1n, 2147483647n]))
    expect(runCase('id', { model, inputs: [input], outputs: [input] }).status).toBe('passed')
    for (const big of [3000000000n, 9223372036854775807n]) {
      const expected = pb(DT.INT64, [2], BigInt64Array.from([1n, big]))
      const r = runCase('id', { model, inputs: [input], outputs: [expected] })
      expect(r.status, String(big)).not.toBe('passed')
      expect(r.message).toMatch(/outside the int32 range/)
    }
  })
})

describe('random training-mode Dropout cases (all checked the same way)', () => {
  const dropout = (withMask: boolean) => {
    const outs: IO[] = [['y', DT.FLOAT, [4, 5]]]
    if (withMask) outs.push(['mask', DT.BOOL, [4, 5]])
    return nodeModel(
      'Dropout',
      [
        ['x', DT.FLOAT, [4, 5]],
        ['r', DT.FLOAT, []],
        ['t', DT.BOOL, []],
      ],
      outs,
      [],
      13,
    )
  }
  const xs = Array.from({ length: 20 }, (_, i) => i + 1)
  const inputs = [pb(DT.FLOAT, [4, 5], xs), pb(DT.FLOAT, [], [0.75]), pb(DT.BOOL, [], [1])]
  // Another implementation's random draw: every other element kept.
  const other = xs.map((v, i) => (i % 2 ? 0 : v * 4))
  const otherMask = xs.map((_, i) => (i % 2 ? 0 : 1))

  for (const withMask of [false, true])
    it(`pass on the spec's property, not on the other implementation's random numbers (mask ${withMask})`, () => {
      const outputs = withMask
        ? [pb(DT.FLOAT, [4, 5], other), pb(DT.BOOL, [4, 5], otherMask)]
        : [pb(DT.FLOAT, [4, 5], other)]
      expect(runCase('test_training_dropout_x', { model: dropout(withMask), inputs, outputs })).toMatchObject({
        status: 'passed',
      })
    })

  it('still compare exactly when the ratio is 0 or training is off', () => {
    const off = [inputs[0]!, inputs[1]!, pb(DT.BOOL, [], [0])]
    expect(runCase('d', { model: dropout(false), inputs: off, outputs: [pb(DT.FLOAT, [4, 5], xs)] }).status).toBe(
      'passed',
    )
    expect(runCase('d', { model: dropout(false), inputs: off, outputs: [pb(DT.FLOAT, [4, 5], other)] }).status).toBe(
      'failed',
    )
  })
})

describe('pnpm conformance <dir>', () => {
  const root = mkdtempSync(join(tmpdir(), 'refnets-conformance-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const writeCase = (name: string, outputs: Uint8Array[]) => {
    const dir = join(root, name)
    mkdirSync(join(dir, 'test_data_set_0'), { recursive: true })
    writeFileSync(join(dir, 'model.onnx'), relu())
    writeFileSync(join(dir, 'test_data_set_0', 'input_0.pb'), x3)
    outputs.forEach((o, i) => {
      writeFileSync(join(dir, 'test_data_set_0', `output_${i}.pb`), o)
    })
  }
  const script = resolve(dirname(fileURLToPath(import.meta.url)), '../scripts/conformance.ts')
  // Asynchronous, so the worker's event loop (vitest's RPC) is not blocked while the script runs.
  const run = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const p = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', script, root, ...args], {
        env: { ...process.env, INIT_CWD: root },
      })
      let stdout = ''
      let stderr = ''
      p.stdout.on('data', (d) => (stdout += d))
      p.stderr.on('data', (d) => (stderr += d))
      p.on('close', (status) => done({ status, stdout, stderr }))
    })

  it('exits 0 when every case passes, 1 on a failure or a case without data, 0 with --report-only', async () => {
    writeCase('test_relu_ok', [pb(DT.FLOAT, [3], [0, 0, 2])])
    expect((await run()).status).toBe(0)
    writeCase('test_relu_no_data', [])
    const noData = await run()
    expect(noData.status).toBe(1)
    expect(noData.stdout).toMatch(/ERROR test_relu_no_data: .*no test data/)
    rmSync(join(root, 'test_relu_no_data'), { recursive: true })
    writeCase('test_relu_wrong', [pb(DT.FLOAT, [3], [0, 1, 2])])
    const wrong = await run()
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/test_relu_wrong/)
    expect((await run('--report-only')).status).toBe(0)
  }, 60_000)
})

/**
 * The harness end to end on a few core specs: parity against ONNX Runtime, an unavailable CUDA
 * reported as skipped with its reason (never a pass), timings with ratios to ORT CPU, the three
 * report files, and regression detection against a previous report.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { availableProviders } from '@refnets/ort'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SelectionError, selectSpecs } from '../src/registry.js'
import { compareReports, findPrevious, toMarkdown, writeReports } from '../src/report.js'
import { type Report, engineFilter, runHarness } from '../src/run.js'

const out = mkdtempSync(join(tmpdir(), 'refnets-bench-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

let report: Report
beforeAll(async () => {
  report = await runHarness(selectSpecs(['core'], ['mlp-mnist', 'layer-norm', 'gelu']), {
    size: 'small',
    samples: 3,
    timeMs: 20,
    maxRunMs: 5000,
    slowLimitMs: 0,
    providers: ['cpu', 'cuda'],
    seed: 0,
  })
}, 120_000)

describe('runHarness', () => {
  it('checks parity on the CPU and reports CUDA as skipped with a reason when it cannot run', async () => {
    const cuda = (await availableProviders()).find((p) => p.name === 'cuda')!
    for (const c of report.cases) {
      expect(c.error).toBeUndefined()
      const cpu = c.parity.find((p) => p.engine === 'ort-cpu')!
      expect(cpu.status, c.name).toBe('pass')
      expect(cpu.maxAbsError).toBeLessThan(1e-4)
      const g = c.parity.find((p) => p.engine === 'ort-cuda')!
      if (!cuda.available) {
        expect(g.status).toBe('skipped')
        expect(g.reason).toBe(cuda.reason)
        expect(c.timings.find((t) => t.engine === 'ort-cuda')!.status).toBe('n/a')
      }
    }
    if (!cuda.available)
      expect(report.engines.find((e) => e.name === 'ort-cuda')).toMatchObject({ available: false, reason: cuda.reason })
  })

  it('times refnets (wasm at default and one thread), ORT with 1 and default threads and TensorFlow.js; ratios at equal threads', () => {
    for (const c of report.cases) {
      for (const engine of ['refnets', 'refnets-1t', 'ort-cpu-1t', 'ort-cpu', 'tfjs-cpu', 'tfjs-wasm']) {
        const t = c.timings.find((x) => x.engine === engine)!
        expect(t.status, `${c.name} ${engine}`).toBe('ok')
        expect(t.medianMs).toBeGreaterThan(0)
        expect(t.samples).toBeGreaterThanOrEqual(2)
        expect(t.p25Ms!).toBeLessThanOrEqual(t.p75Ms!)
      }
      const ms = (e: string) => c.timings.find((t) => t.engine === e)!.medianMs!
      const ratio = (e: string) => c.timings.find((t) => t.engine === e)!.ratio!
      expect(ratio('ort-cpu')).toBe(1)
      expect(ratio('ort-cpu-1t')).toBe(1)
      // Each ratio divides by ORT at the same thread count (PEER): one thread by one, default by default.
      // (ratios are rounded to 4 significant digits)
      expect(ratio('refnets-1t') / (ms('refnets-1t') / ms('ort-cpu-1t'))).toBeCloseTo(1, 3)
      expect(ratio('refnets') / (ms('refnets') / ms('ort-cpu'))).toBeCloseTo(1, 3)
      expect(ratio('tfjs-wasm') / (ms('tfjs-wasm') / ms('ort-cpu-1t'))).toBeCloseTo(1, 3)
      expect(c.timings.find((t) => t.engine === 'refnets-js')).toBeUndefined()
      // TensorFlow.js ran the same exported graph and agrees with refnets.
      expect(c.parity.find((p) => p.engine === 'tfjs-cpu')!.status).toBe('pass')
    }
  })

  it('counts the GEMM work of each case and gives every engine its GFLOP/s; calibrates the SIMD peak', () => {
    const mlp = report.cases.find((c) => c.name === 'mlp-mnist')!
    // MLP 784-256-10 on a batch of 4: 4 x (784 x 256 + 256 x 10) multiply-accumulates.
    expect(mlp.macs).toBe(4 * (784 * 256 + 256 * 10))
    for (const t of mlp.timings.filter((x) => x.medianMs))
      expect(t.gflops).toBeCloseTo((2 * mlp.macs!) / t.medianMs! / 1e6, 1)
    expect(report.cases.find((c) => c.name === 'gelu')!.macs).toBe(0)
    const p = report.calibration!.simdPeakGflops
    expect(p.plain).toBeGreaterThan(0)
    if (report.calibration!.relaxedSimd) expect(p.relaxed).toBeGreaterThan(0)
    const md = toMarkdown(report)
    expect(md).toMatch(/## Calibration\n- WebAssembly SIMD peak, one thread: /)
    // how a slow engine is timed, with the run's threshold
    expect(md).toContain('first, cold, run took over 5000 ms is timed by one more run alone')
    expect(md).toContain('calls of 1-10 ms are first warmed up until their time is steady, 250-400 ms')
    expect(md).toMatch(/\| core\/mlp-mnist \| 0\.00163 \|/)
  })

  it('times TensorFlow.js on an identity graph (dropout in eval mode returns its input) without disposing the input', async () => {
    const r = await runHarness(selectSpecs(['cnn'], ['dropout2d']), {
      size: 'small',
      samples: 3,
      timeMs: 20,
      maxRunMs: 5000,
      slowLimitMs: 0,
      providers: ['cpu'],
      engines: ['tfjs'],
      seed: 0,
    })
    for (const engine of ['tfjs-cpu', 'tfjs-wasm']) {
      const t = r.cases[0]!.timings.find((x) => x.engine === engine)!
      expect(t.status, `${engine}: ${t.reason}`).toBe('ok')
      expect(t.samples).toBeGreaterThanOrEqual(2)
    }
  })

  it('selects engines by name or prefix; refnets-js only when asked for', () => {
    const all = engineFilter(undefined)
    expect(['refnets', 'refnets-1t', 'ort-cpu', 'tfjs-wasm'].every(all)).toBe(true)
    expect(all('refnets-js')).toBe(false)
    const some = engineFilter(['refnets', 'ort-cpu-1t'])
    expect(['refnets', 'refnets-1t', 'ort-cpu-1t'].every(some)).toBe(true)
    expect(['refnets-js', 'ort-cpu', 'tfjs-wasm'].some(some)).toBe(false)
    expect(engineFilter(['refnets-js'])('refnets-js')).toBe(true)
  })

  it('writes report.json, report.md and report.html and finds the previous report', () => {
    const paths = writeReports(report, out)
    for (const p of [paths.json, paths.md, paths.html]) expect(existsSync(p)).toBe(true)
    expect(JSON.parse(readFileSync(paths.json, 'utf8')).cases).toHaveLength(3)
    const md = readFileSync(paths.md, 'utf8')
    expect(md).toMatch(/\| core\/mlp-mnist \| ort-cpu pass/)
    expect(findPrevious(out)!.path).toBe(paths.json)
  })

  it('flags a slow-down beyond the threshold and a parity pass that turned into a fail', () => {
    const slower: Report = structuredClone(report)
    const mlp = slower.cases.find((c) => c.name === 'mlp-mnist')!
    mlp.timings.find((t) => t.engine === 'refnets')!.medianMs! *= 2
    mlp.parity.find((p) => p.engine === 'ort-cpu')!.status = 'fail'
    const cmp = compareReports(slower, report, 'previous.json', 0.25)
    expect(cmp.regressions).toContainEqual(
      expect.objectContaining({ case: 'core/mlp-mnist', engine: 'refnets', kind: 'slower', change: 1 }),
    )
    expect(cmp.regressions).toContainEqual(
      expect.objectContaining({ case: 'core/mlp-mnist', engine: 'ort-cpu', kind: 'parity' }),
    )
    expect(compareReports(report, report, 'same.json', 0.25).regressions).toEqual([])
    slower.comparison = cmp
    expect(toMarkdown(slower)).toMatch(/REGRESSION core\/mlp-mnist refnets: .* \(\+100%\)/)
  })
})

describe('slow engines', () => {
  it('skips tfjs-cpu with the reason where refnets itself is over the limit, and no other engine', async () => {
    const r = await runHarness(selectSpecs(['core'], ['relu']), {
      size: 'small',
      samples: 2,
      timeMs: 5,
      maxRunMs: 5000,
      slowLimitMs: 1e-6,
      providers: ['cpu'],
      seed: 0,
    })
    const t = (e: string) => r.cases[0]!.timings.find((x) => x.engine === e)!
    expect(t('tfjs-cpu')).toMatchObject({
      status: 'n/a',
      reason: expect.stringMatching(/over the 0.000001 ms limit for slow engines \(--slow-limit 0 includes it\)/),
    })
    expect(r.cases[0]!.parity.find((p) => p.engine === 'tfjs-cpu')!.status).toBe('n/a')
    expect(t('tfjs-wasm').status).toBe('ok')
    expect(t('refnets').status).toBe('ok')
  })
})

describe('selectSpecs', () => {
  it('selects by package and name and rejects unknown ones with the known names', () => {
    expect(selectSpecs(['core'], ['core/relu']).map((s) => s.spec.name)).toEqual(['relu'])
    expect(() => selectSpecs(['nope'])).toThrow(SelectionError)
    expect(() => selectSpecs(['core'], ['resnet1000'])).toThrow(/unknown spec\(s\) resnet1000/)
  })
})

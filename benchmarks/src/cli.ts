/**
 * `pnpm bench`: parity and timings of every model spec against ONNX Runtime (and TensorFlow.js),
 * a summary table on stdout, and reports/<date>/report.{json,md,html} at the repository root.
 *
 *   pnpm bench [--quick] [--packages core,cnn] [--specs resnet18,mlp] [--providers cpu,cuda]
 *              [--engines refnets,ort,tfjs-wasm] [--size small|bench] [--samples N] [--time MS]
 *              [--threshold 0.25] [--out DIR] [--fail-on-regression]
 *
 * The exit status is 1 when a parity check fails (or, with --fail-on-regression, when a case got
 * slower than the threshold); skipped providers (no GPU) are reported, not failed.
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compareReports, findPrevious, summaryRows, textTable, writeReports } from './report.js'
import { packages, quickSelection, selectSpecs } from './registry.js'
import { type RunOptions, runHarness } from './run.js'

const HELP = `usage: pnpm bench [options]
  --quick                small inputs, few samples, every layer and one model per family: under 2 minutes
  --packages a,b         packages to include (${Object.keys(packages).join(', ')}; default all)
  --specs a,b            spec names (or package/name) to include (default all)
  --providers cpu,cuda   ONNX Runtime providers to check (default cpu,cuda; unavailable ones are reported as skipped)
  --engines a,b          engines to time: refnets, refnets-1t, refnets-js, ort, ort-cpu-1t, ort-cpu, ort-cuda, tfjs, tfjs-cpu,
                         tfjs-wasm, tfjs-node (default all but refnets-js)
  --js                   also time refnets on its js reference backend (engine refnets-js)
  --memory a,b           cases (package/name) whose peak memory is measured in a child process (default cnn/resnet18)
  --size small|bench     input size (default bench; --quick: small)
  --samples N            at most N timed samples per engine and case (default 100; --quick: 5)
  --time MS              time budget per engine and case (default 500; --quick: 150)
  --max-run MS           an engine whose first run takes longer is timed by one more run alone (default 3000; --quick: 1000)
  --slow-limit MS        skip tfjs-cpu (plain-JS kernels) where refnets' forward takes longer (default 2; 0: never skip)
  --threshold X          slow-down that counts as a regression (default 0.25 = 25%)
  --out DIR              reports folder (default <repo>/reports)
  --fail-on-regression   exit 1 when a regression against the previous report is found`

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      packages: { type: 'string' },
      specs: { type: 'string' },
      providers: { type: 'string', default: 'cpu,cuda' },
      engines: { type: 'string' },
      js: { type: 'boolean', default: false },
      memory: { type: 'string', default: 'cnn/resnet18' },
      size: { type: 'string' },
      samples: { type: 'string' },
      time: { type: 'string' },
      'max-run': { type: 'string' },
      'slow-limit': { type: 'string' },
      threshold: { type: 'string', default: '0.25' },
      out: { type: 'string' },
      'fail-on-regression': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const list = (s: string | undefined) =>
    s
      ? s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
      : undefined
  const num = (s: string | undefined, d: number, what: string) => {
    if (s === undefined) return d
    const n = Number(s)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} expects a positive number, got '${s}'`)
    return n
  }
  const size = (values.size ?? (values.quick ? 'small' : 'bench')) as RunOptions['size']
  if (size !== 'small' && size !== 'bench') throw new Error(`--size expects small or bench, got '${size}'`)
  const providers = list(values.providers) ?? []
  for (const p of providers)
    if (p !== 'cpu' && p !== 'cuda') throw new Error(`--providers expects cpu and/or cuda, got '${p}'`)
  let engines = list(values.engines)
  if (values.js) engines = [...(engines ?? ['refnets', 'ort', 'tfjs']), 'refnets-js']
  const opts: RunOptions = {
    size,
    samples: Math.floor(num(values.samples, values.quick ? 5 : 100, 'samples')),
    timeMs: num(values.time, values.quick ? 150 : 500, 'time'),
    maxRunMs: num(values['max-run'], values.quick ? 1000 : 3000, 'max-run'),
    slowLimitMs: values['slow-limit'] === '0' ? 0 : num(values['slow-limit'], 2, 'slow-limit'),
    providers: providers as RunOptions['providers'],
    ...(engines ? { engines } : {}),
    memory: list(values.memory) ?? [],
    seed: 0,
  }
  const named = selectSpecs(list(values.packages), list(values.specs))
  const selected = values.quick && !values.specs ? quickSelection(named) : named
  const threshold = num(values.threshold, 0.25, 'threshold')
  const reportsDir = resolve(values.out ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../reports'))

  console.error(
    `refnets bench: ${selected.length} cases, size ${size}, up to ${opts.samples} samples / ${opts.timeMs} ms per engine`,
  )
  const t0 = performance.now()
  const report = await runHarness(selected, opts, ({ index, total, case: c }) => {
    const parity = c.error
      ? `ERROR ${c.error}`
      : c.parity
          .map(
            (p) =>
              `${p.engine} ${p.status}${p.maxAbsError !== undefined ? ` (${p.maxAbsError.toExponential(1)})` : ''}`,
          )
          .join(', ')
    const times = c.timings
      .filter((t) => t.medianMs !== undefined)
      .map((t) => `${t.engine} ${t.medianMs} ms`)
      .join(', ')
    console.error(
      `[${String(index + 1).padStart(String(total).length)}/${total}] ${c.package}/${c.name}: ${parity}${times ? ` | ${times}` : ''} (${c.seconds} s)`,
    )
  })
  for (const e of report.engines) if (!e.available) console.error(`${e.name}: skipped — ${e.reason}`)

  const previous = findPrevious(reportsDir)
  if (previous) report.comparison = compareReports(report, previous.report, previous.path, threshold)
  const paths = writeReports(report, reportsDir)

  console.log(textTable(summaryRows(report)))
  const failed = report.cases.filter((c) => c.error || c.parity.some((p) => p.status === 'fail'))
  console.log(
    `\n${report.cases.length - failed.length}/${report.cases.length} cases pass parity; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  )
  if (report.comparison) {
    const r = report.comparison.regressions
    console.log(`compared with ${report.comparison.previous}: ${r.length} regression(s) over ${threshold * 100}%`)
    for (const x of r)
      console.log(
        `  REGRESSION ${x.case} ${x.engine}: ${x.previous} -> ${x.current}${x.change !== undefined ? ` (+${(x.change * 100).toFixed(0)}%)` : ''}`,
      )
  }
  console.log(`reports: ${paths.json}\n         ${paths.md}\n         ${paths.html}`)
  if (failed.length) return 1
  if (values['fail-on-regression'] && report.comparison?.regressions.length) return 1
  return 0
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`refnets bench: ${(e as Error).message}`)
    process.exit(2)
  },
)

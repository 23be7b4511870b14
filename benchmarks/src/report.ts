/**
 * Reports: reports/<date>/report.json (the data), report.md (tables for reading in a diff or a
 * PR) and report.html (self-contained: the tables and inline SVG charts, no script, no network).
 * compareReports flags regressions against the previous report.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  BASELINE,
  type CaseResult,
  type Comparison,
  REFNETS,
  type Regression,
  type Report,
  STEADY_CALL_MS,
  STEADY_WARMUP_MIN_MS,
  STEADY_WARMUP_MS,
} from './run.js'

const caseId = (c: Pick<CaseResult, 'package' | 'name'>) => `${c.package}/${c.name}`

/**
 * The previous report: the newest reports/<date>/report.json other than the one about to be
 * written (read before it is overwritten, so a second run on the same day compares with the first).
 */
export function findPrevious(reportsDir: string): { path: string; report: Report } | null {
  if (!existsSync(reportsDir)) return null
  const dirs = readdirSync(reportsDir)
    .filter((d) => existsSync(join(reportsDir, d, 'report.json')))
    .sort()
  const last = dirs.at(-1)
  if (!last) return null
  const path = join(reportsDir, last, 'report.json')
  return { path, report: JSON.parse(readFileSync(path, 'utf8')) as Report }
}

/**
 * A case is slower when its median grew by more than `threshold` (0.25 = 25%) for the same engine
 * and size; parity that passed before and fails now is always a regression.
 */
export function compareReports(current: Report, previous: Report, previousPath: string, threshold: number): Comparison {
  const regressions: Regression[] = []
  const improvements: Regression[] = []
  const before = new Map(previous.cases.map((c) => [caseId(c), c]))
  for (const c of current.cases) {
    const p = before.get(caseId(c))
    if (!p || p.size !== c.size) continue
    for (const t of c.timings) {
      const q = p.timings.find((x) => x.engine === t.engine)
      if (t.medianMs === undefined || q?.medianMs === undefined) continue
      const change = t.medianMs / q.medianMs - 1
      const r: Regression = {
        case: caseId(c),
        engine: t.engine,
        kind: 'slower',
        previous: q.medianMs,
        current: t.medianMs,
        change: Number(change.toFixed(3)),
      }
      if (change > threshold) regressions.push(r)
      else if (change < -threshold) improvements.push(r)
    }
    for (const x of c.parity) {
      const q = p.parity.find((y) => y.engine === x.engine)
      if (q?.status === 'pass' && x.status === 'fail')
        regressions.push({ case: caseId(c), engine: x.engine, kind: 'parity', previous: 'pass', current: 'fail' })
    }
  }
  return { previous: previousPath, threshold, regressions, improvements }
}

const fmtMs = (ms: number | undefined) =>
  ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3)
const fmtErr = (e: number | undefined) => (e === undefined ? '–' : e === 0 ? '0' : e.toExponential(1))
const fmtRatio = (r: number | undefined) => (r === undefined ? '–' : `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`)

/** The engines that have at least one timing, in a stable order. */
export function timedEngines(report: Report): string[] {
  const order = report.engines.flatMap((e) => (e.name === 'ort-cpu' ? ['ort-cpu-1t', 'ort-cpu'] : [e.name]))
  const seen = new Set(
    report.cases.flatMap((c) => c.timings.filter((t) => t.medianMs !== undefined).map((t) => t.engine)),
  )
  return order.filter((e) => seen.has(e))
}

/** The timing of `engine` in case `c`, if any. */
const timingOf = (c: CaseResult, engine: string) => c.timings.find((t) => t.engine === engine)

/**
 * The summary rows: case, parity, max error, median per engine, and the ratios that compare equal thread
 * counts: refnets at one thread over ORT at one thread, refnets at the default threads over ORT at its default,
 * and TensorFlow.js wasm (one thread in Node) over refnets at one thread (> 1: refnets is faster).
 */
export function summaryRows(report: Report): string[][] {
  const engines = timedEngines(report)
  const header = [
    'case',
    'parity',
    'max abs err',
    ...engines.map((e) => `${e} ms`),
    'refnets-1t / ort-cpu-1t',
    `refnets / ${BASELINE}`,
    'tfjs-wasm / refnets-1t',
  ]
  const rows = report.cases.map((c) => {
    if (c.error) return [caseId(c), `error: ${c.error}`, '–', ...engines.map(() => '–'), '–', '–', '–']
    const parity = c.parity.map((p) => `${p.engine} ${p.status}`).join(', ')
    const ort = c.parity.filter((p) => p.engine.startsWith('ort-') && p.maxAbsError !== undefined)
    const err = ort.length ? Math.max(...ort.map((p) => p.maxAbsError!)) : undefined
    const ms = engines.map((e) => fmtMs(timingOf(c, e)?.medianMs))
    const tf = timingOf(c, 'tfjs-wasm')?.medianMs
    const one = timingOf(c, 'refnets-1t')?.medianMs
    return [
      caseId(c),
      parity,
      fmtErr(err),
      ...ms,
      fmtRatio(timingOf(c, 'refnets-1t')?.ratio),
      fmtRatio(timingOf(c, REFNETS)?.ratio),
      fmtRatio(tf && one ? tf / one : undefined),
    ]
  })
  return [header, ...rows]
}

/** Achieved GFLOP/s per engine for the cases that do GEMM or convolution work, and refnets-1t against the peak. */
export function throughputRows(report: Report): string[][] {
  const engines = timedEngines(report)
  const peak = report.calibration
    ? (report.calibration.simdPeakGflops.relaxed ?? report.calibration.simdPeakGflops.plain)
    : undefined
  const header = [
    'case',
    'GFLOP / pass',
    ...engines.map((e) => `${e} GFLOP/s`),
    ...(peak ? ['refnets-1t % of SIMD peak'] : []),
  ]
  const rows = report.cases
    .filter((c) => !c.error && (c.macs ?? 0) > 0)
    .map((c) => {
      const one = timingOf(c, 'refnets-1t')?.gflops
      return [
        caseId(c),
        ((2 * c.macs!) / 1e9).toPrecision(3),
        ...engines.map((e) => timingOf(c, e)?.gflops?.toFixed(1) ?? '–'),
        ...(peak ? [one ? `${((100 * one) / peak).toFixed(0)}%` : '–'] : []),
      ]
    })
  return [header, ...rows]
}

function calibrationLines(report: Report): string[] {
  const c = report.calibration
  if (!c) return ['The wasm backend does not run on this engine: no calibration.']
  const p = c.simdPeakGflops
  return [
    `- WebAssembly SIMD peak, one thread: ${p.relaxed !== undefined ? `${p.relaxed} GFLOP/s with relaxed-SIMD FMA, ` : ''}${p.plain} GFLOP/s with plain SIMD (mul + add)`,
    `- refnets runs the ${c.relaxedSimd ? 'relaxed-SIMD' : 'plain-SIMD'} build, ${c.threads} thread(s) by default`,
  ]
}

function memoryRows(report: Report): string[][] {
  const mb = (b: number) => (b / 2 ** 20).toFixed(0)
  const rows = report.cases
    .filter((c) => c.memory)
    .map((c) => [caseId(c), mb(c.memory!.rssBeforeBytes), mb(c.memory!.maxRssBytes), mb(c.memory!.wasmBytes)])
  return [['case', 'RSS before forward (MB)', 'peak RSS (MB)', 'wasm memory (MB)'], ...rows]
}

/** A plain-text table for the terminal. */
export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 || i === 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

const mdTable = (rows: string[][]) =>
  [rows[0]!, rows[0]!.map(() => '---'), ...rows.slice(1)]
    .map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)
    .join('\n')

function engineLines(report: Report): string[] {
  return report.engines.map(
    (e) =>
      `- ${e.name}: ${e.available ? `available${e.version ? ` (${e.version})` : ''}` : `**not run** — ${e.reason}`}`,
  )
}

function comparisonLines(cmp: Comparison | undefined): string[] {
  if (!cmp) return ['No previous report to compare with.']
  const out = [
    `Compared with \`${cmp.previous}\` (threshold ${(cmp.threshold * 100).toFixed(0)}%): ${cmp.regressions.length} regression(s), ${cmp.improvements.length} improvement(s).`,
  ]
  for (const r of cmp.regressions)
    out.push(
      r.kind === 'parity'
        ? `- REGRESSION ${r.case} ${r.engine}: parity ${r.previous} → ${r.current}`
        : `- REGRESSION ${r.case} ${r.engine}: ${r.previous} ms → ${r.current} ms (+${(r.change! * 100).toFixed(0)}%)`,
    )
  return out
}

export function toMarkdown(report: Report): string {
  const failures = report.cases.flatMap((c) =>
    c.parity
      .filter((p) => p.status === 'fail')
      .map((p) => `- ${caseId(c)} on ${p.engine}: ${p.reason ?? `max abs error ${fmtErr(p.maxAbsError)}`}`),
  )
  const errors = report.cases.filter((c) => c.error).map((c) => `- ${caseId(c)}: ${c.error}`)
  const na = [
    ...new Set(
      report.cases.flatMap((c) => c.timings.filter((t) => t.status !== 'ok').map((t) => `- ${t.engine}: ${t.reason}`)),
    ),
  ]
  return [
    `# refnets benchmark report, ${report.date}`,
    '',
    `${report.cases.length} cases at size \`${report.options.size}\` on ${report.machine.cpuModel} (${report.machine.cpus} CPUs), Node ${report.machine.node}, ${report.machine.platform}${report.machine.malloc ? `, allocator ${report.machine.malloc}` : ''}.`,
    `Times are medians of up to ${report.options.samples} samples per engine (tinybench; an engine whose first, cold, run took over ${report.options.maxRunMs} ms is timed by one more run alone, samples 1 in the JSON; calls of 1-${STEADY_CALL_MS} ms are first warmed up until their time is steady, ${STEADY_WARMUP_MIN_MS}-${STEADY_WARMUP_MS} ms); every ratio compares equal thread counts, measured in the same run (refnets-1t and tfjs-wasm against ort-cpu-1t, refnets against ${BASELINE}). refnets is timed with the model's parameters pinned in its backend's memory (\`withPinned\`), as an ONNX Runtime session and TensorFlow.js hold their weights.`,
    '',
    '## Engines',
    ...engineLines(report),
    '',
    '## Calibration',
    ...calibrationLines(report),
    '',
    '## Parity and timings',
    mdTable(summaryRows(report)),
    '',
    '## Throughput (GFLOP/s: 2 x multiply-accumulates / median)',
    mdTable(throughputRows(report)),
    '',
    ...(report.cases.some((c) => c.memory)
      ? ['## Peak memory of a forward pass (child process)', mdTable(memoryRows(report)), '']
      : []),
    '## Parity failures',
    ...(failures.length ? failures : ['None.']),
    ...(errors.length ? ['', '## Cases that did not run', ...errors] : []),
    ...(na.length ? ['', '## Engines not timed for some cases', ...na] : []),
    '',
    '## Comparison with the previous report',
    ...comparisonLines(report.comparison),
    '',
  ].join('\n')
}

// ---- charts -------------------------------------------------------------------------------------

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

interface Series {
  engine: string
  values: (number | undefined)[]
}

/**
 * A horizontal grouped bar chart on a log-10 axis: one group per case, one bar per engine.
 * `reference` draws a vertical line (the ratio 1 of the baseline).
 */
export function barChart(
  id: string,
  title: string,
  cases: string[],
  series: Series[],
  unit: string,
  reference?: number,
): string {
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && v > 0)
  if (!all.length) return `<p>No data for ${esc(title)}.</p>`
  const lo = Math.floor(Math.log10(Math.min(...all, reference ?? Infinity)))
  const hi = Math.ceil(Math.log10(Math.max(...all, reference ?? 0)))
  const span = Math.max(1, hi - lo)
  const bar = 7
  const gap = 8
  const left = 210
  const width = 560
  const group = series.length * bar + gap
  const top = 30
  const height = top + cases.length * group + 40
  const x = (v: number) => left + ((Math.log10(v) - lo) / span) * width
  const parts: string[] = [
    `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${left + width + 30}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
  ]
  for (let k = lo; k <= lo + span; k++) {
    const gx = x(10 ** k)
    parts.push(
      `<line x1="${gx}" y1="${top - 5}" x2="${gx}" y2="${height - 35}" stroke="#ddd"/>`,
      `<text x="${gx}" y="${height - 20}" font-size="10" text-anchor="middle">${10 ** k >= 1 ? 10 ** k : (10 ** k).toPrecision(1)} ${unit}</text>`,
    )
  }
  cases.forEach((name, i) => {
    const gy = top + i * group
    parts.push(
      `<text x="${left - 6}" y="${gy + (series.length * bar) / 2 + 3}" font-size="10" text-anchor="end">${esc(name)}</text>`,
    )
    series.forEach((s, j) => {
      const v = s.values[i]
      if (v === undefined || !(v > 0)) return
      parts.push(
        `<rect class="bar" data-engine="${esc(s.engine)}" data-case="${esc(name)}" x="${left}" y="${gy + j * bar}" width="${Math.max(1, x(v) - left).toFixed(1)}" height="${bar - 1}" fill="${PALETTE[j % PALETTE.length]}"><title>${esc(name)} · ${esc(s.engine)}: ${v} ${unit}</title></rect>`,
      )
    })
  })
  if (reference !== undefined)
    parts.push(
      `<line class="reference" x1="${x(reference)}" y1="${top - 5}" x2="${x(reference)}" y2="${height - 35}" stroke="#000" stroke-dasharray="4 3"/>`,
    )
  series.forEach((s, j) => {
    parts.push(
      `<rect x="${left + j * 110}" y="8" width="10" height="10" fill="${PALETTE[j % PALETTE.length]}"/><text x="${left + j * 110 + 14}" y="17" font-size="11">${esc(s.engine)}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('\n')
}

const htmlTable = (rows: string[][]) =>
  `<table><thead><tr>${rows[0]!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`

export function toHtml(report: Report): string {
  const engines = timedEngines(report)
  const cases = report.cases.filter((c) => !c.error)
  const names = cases.map(caseId)
  const timeSeries = engines.map((engine) => ({
    engine,
    values: cases.map((c) => c.timings.find((t) => t.engine === engine)?.medianMs),
  }))
  const ratioSeries = engines
    .filter((e) => !e.startsWith('ort-cpu'))
    .map((engine) => ({ engine, values: cases.map((c) => c.timings.find((t) => t.engine === engine)?.ratio) }))
  const rows = summaryRows(report)
  const table = `<table id="summary"><thead><tr>${rows[0]!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .slice(1)
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td class="${i === 1 ? (c.includes('fail') || c.startsWith('error') ? 'fail' : 'ok') : ''}">${esc(c)}</td>`).join('')}</tr>`,
    )
    .join('\n')}</tbody></table>`
  const md = (lines: string[]) =>
    `<ul>${lines.map((l) => `<li>${esc(l.replace(/^- /, '').replace(/\*\*/g, ''))}</li>`).join('')}</ul>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>refnets benchmark report ${esc(report.date)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}td.fail{background:#fdd}td.ok{background:#efe}
svg.chart{display:block;margin:1em 0;background:#fff}
</style></head><body>
<h1>refnets benchmark report, ${esc(report.date)}</h1>
<p>${report.cases.length} cases at size <code>${esc(report.options.size)}</code> on ${esc(report.machine.cpuModel)} (${report.machine.cpus} CPUs), Node ${esc(report.machine.node)}. Medians of up to ${report.options.samples} samples (tinybench; an engine whose first, cold, run took over ${report.options.maxRunMs} ms is timed by one more run alone); every ratio compares equal thread counts (against ONNX Runtime CPU with as many threads), from the same run.</p>
<h2>Engines</h2>${md(engineLines(report))}
<h2>Calibration</h2>${md(calibrationLines(report))}
<h2>Time per case and engine</h2>
${barChart('chart-time', 'Median time per forward pass (ms, log scale)', names, timeSeries, 'ms')}
<h2>Ratio to ONNX Runtime CPU at equal threads</h2>
${barChart('chart-ratio', 'Median time / ORT CPU median at the same thread count (log scale; dashed line = 1)', names, ratioSeries, '×', 1)}
<h2>Parity and timings</h2>
${table}
<h2>Throughput</h2>
${htmlTable(throughputRows(report))}
${report.cases.some((c) => c.memory) ? `<h2>Peak memory of a forward pass</h2>${htmlTable(memoryRows(report))}` : ''}
<h2>Comparison with the previous report</h2>${md(comparisonLines(report.comparison))}
</body></html>
`
}

/** Write report.json, report.md and report.html into reportsDir/<date>/; returns the paths. */
export function writeReports(
  report: Report,
  reportsDir: string,
): { dir: string; json: string; md: string; html: string } {
  const dir = join(reportsDir, report.date)
  mkdirSync(dir, { recursive: true })
  const paths = { dir, json: join(dir, 'report.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') }
  writeFileSync(paths.json, `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(paths.md, toMarkdown(report))
  writeFileSync(paths.html, toHtml(report))
  return paths
}

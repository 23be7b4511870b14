/**
 * report.html renders in headless Chromium and its charts drew: every timing is a visible bar of
 * non-zero width, in the order of the data (a slower engine has a longer bar), and the ratio chart
 * has its reference line. Chromium is Debian's (`.ci/run` installs it); where it is missing the
 * test is skipped and says why.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'
import { selectSpecs } from '../src/registry.js'
import { writeReports } from '../src/report.js'
import { runHarness } from '../src/run.js'

const candidates = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter(Boolean) as string[]
const executablePath = candidates.find((p) => existsSync(p))
const why = `no Chromium at ${candidates.join(', ')} (install Debian's chromium or set CHROMIUM_PATH)`
if (!executablePath) console.warn(`report.html render test skipped: ${why}`)

const out = mkdtempSync(join(tmpdir(), 'refnets-render-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

it.skipIf(!executablePath)(
  `renders report.html with its charts in headless Chromium${executablePath ? '' : ` (skipped: ${why})`}`,
  async () => {
    const report = await runHarness(selectSpecs(['core'], ['linear', 'relu']), {
      size: 'small',
      samples: 3,
      timeMs: 20,
      maxRunMs: 5000,
      slowLimitMs: 0,
      providers: ['cpu'],
      seed: 0,
    })
    const { html } = writeReports(report, out)
    const browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox', '--disable-gpu'] })
    try {
      const page = await browser.newPage()
      await page.goto(pathToFileURL(html).href)
      const drawn = await page.evaluate(() =>
        [...document.querySelectorAll('svg.chart')].map((svg) => ({
          id: svg.id,
          box: (svg as SVGSVGElement).getBoundingClientRect().width,
          bars: [...svg.querySelectorAll('rect.bar')].map((r) => ({
            engine: r.getAttribute('data-engine'),
            kase: r.getAttribute('data-case'),
            width: (r as SVGRectElement).getBBox().width,
          })),
          reference: svg.querySelectorAll('line.reference').length,
        })),
      )
      const time = drawn.find((c) => c.id === 'chart-time')!
      const ratio = drawn.find((c) => c.id === 'chart-ratio')!
      expect(time.box).toBeGreaterThan(300)
      const timed = report.cases.flatMap((c) =>
        c.timings
          .filter((t) => t.medianMs !== undefined)
          .map((t) => ({ kase: `${c.package}/${c.name}`, engine: t.engine, ms: t.medianMs! })),
      )
      expect(time.bars).toHaveLength(timed.length)
      for (const b of time.bars) expect(b.width).toBeGreaterThan(0)
      // Longer time, longer bar (log scale is monotonic).
      const width = (k: string, e: string) => time.bars.find((b) => b.kase === k && b.engine === e)!.width
      const [a, b] = [...timed].sort((x, y) => x.ms - y.ms).filter((_t, i, all) => i === 0 || i === all.length - 1)
      expect(width(a!.kase, a!.engine)).toBeLessThan(width(b!.kase, b!.engine))
      expect(ratio.bars.length).toBeGreaterThan(0)
      expect(ratio.reference).toBe(1)
      expect(await page.locator('table#summary tbody tr').count()).toBe(2)
    } finally {
      await browser.close()
    }
  },
)

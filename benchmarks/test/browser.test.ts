/**
 * The wasm backend in a browser: a page served with cross-origin isolation (COOP/COEP, so SharedArrayBuffer
 * and shared WebAssembly memory exist) loads @refnets/core and @refnets/cnn bundled from source, calls
 * `initBackend()` (asynchronous compilation and worker start, as a browser's main thread requires), runs
 * ResNet-18 at its small input in headless Chromium and must use the wasm backend with threads and give
 * Node's output. Chromium is Debian's (the test setup installs it); where it is missing the test is skipped
 * and says why.
 */
import { existsSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { specs } from '@refnets/cnn'
import { noGrad } from '@refnets/core'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'

const candidates = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter(Boolean) as string[]
const executablePath = candidates.find((p) => existsSync(p))
const why = `no Chromium at ${candidates.join(', ')} (install Debian's chromium or set CHROMIUM_PATH)`

const entry = `
import { getThreads, initBackend, noGrad } from '@refnets/core'
import { specs } from '@refnets/cnn'
window.runResnet = async () => {
  const backend = await initBackend()
  const spec = specs.find((s) => s.name === 'resnet18')
  const model = spec.build(0).eval()
  const [x] = spec.inputs('small', 1)
  const y = noGrad(() => model.call(x))
  return { backend: backend.name, threads: getThreads(), isolated: crossOriginIsolated, shape: [...y.shape], values: Array.from(y.data) }
}
`

let server: Server | undefined
afterAll(() => server?.close())

it.skipIf(!executablePath)(
  `runs ResNet-18 on the wasm backend in headless Chromium and matches Node${executablePath ? '' : ` (skipped: ${why})`}`,
  async () => {
    const bundle = await build({
      stdin: { contents: entry, resolveDir: resolve(dirname(fileURLToPath(import.meta.url)), '..'), loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['source'],
      write: false,
      logLevel: 'silent',
    })
    const js = bundle.outputFiles[0]!.text
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
    server = createServer((req, res) => {
      if (req.url === '/bundle.js') res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' }).end(js)
      else
        res
          .writeHead(200, { ...headers, 'Content-Type': 'text/html' })
          .end('<!doctype html><script type="module" src="/bundle.js"></script>')
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const { port } = server.address() as AddressInfo

    const browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox', '--disable-gpu'] })
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      await page.goto(`http://127.0.0.1:${port}/`)
      await page.waitForFunction(() => 'runResnet' in window, undefined, { timeout: 60_000 })
      const got = await page.evaluate(() =>
        (
          window as unknown as {
            runResnet: () => Promise<{
              backend: string
              threads: number
              isolated: boolean
              shape: number[]
              values: number[]
            }>
          }
        ).runResnet(),
      )
      expect(errors).toEqual([])
      expect(got.isolated).toBe(true)
      expect(got.backend).toBe('wasm')
      expect(got.threads).toBeGreaterThanOrEqual(1)

      const spec = specs.find((s) => s.name === 'resnet18')!
      const model = spec.build(0).eval()
      const [x] = spec.inputs('small', 1)
      const want = noGrad(() => model.call(x!))
      expect(got.shape).toEqual([...want.shape])
      const w = want.data
      let err = 0
      let scale = 0
      for (let i = 0; i < w.length; i++) {
        err = Math.max(err, Math.abs(got.values[i]! - w[i]!))
        scale = Math.max(scale, Math.abs(w[i]!))
      }
      // Same kernels, same seeds: equal up to float32 summation order (thread split, relaxed FMA or not).
      expect(err).toBeLessThanOrEqual(1e-5 * scale)
    } finally {
      await browser.close()
    }
  },
  300_000,
)

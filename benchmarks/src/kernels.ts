/**
 * `pnpm bench:kernels`: the roofline table of docs/performance.md. Achieved GFLOP/s of the wasm kernels
 * (GEMM 512^3, the convolution layers of ResNet-18, VGG-16's first layers and AlexNet's first, forward
 * and both backward kernels) on one thread and on the default threads, against the machine's measured
 * WebAssembly SIMD peak (both builds), plus the costs the design rests on: copying operands in and out,
 * unrolling patches, and the size where a GEMM starts to pay for leaving JS. Medians of repeated runs
 * (each at least ~200 ms in all); compare numbers only within one run.
 */
import { type Conv2dGeometry, createWasmBackend, hasRelaxedSimd, jsBackend } from '@refnets/core'

type Kernels = Required<typeof jsBackend.kernels>

const rand = (n: number) => {
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 12.9898) * 0.5
  return a
}

/** Median milliseconds per call of `fn` over runs of at least ~200 ms in all (after a warm-up). */
function ms(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn()
  const t0 = performance.now()
  fn()
  const once = Math.max(performance.now() - t0, 1e-3)
  const reps = Math.max(5, Math.min(200, Math.ceil(200 / once)))
  const inner = once < 1 ? Math.ceil(1 / once) : 1
  const samples: number[] = []
  for (let r = 0; r < reps; r++) {
    const s = performance.now()
    for (let i = 0; i < inner; i++) fn()
    samples.push((performance.now() - s) / inner)
  }
  return samples.sort((a, b) => a - b)[samples.length >> 1]!
}

const gflops = (flop: number, t: number) => flop / t / 1e6
const fmt = (x: number) => x.toFixed(1)

function geometry(inC: number, outC: number, size: number, k: number, stride: number, pad: number): Conv2dGeometry {
  const out = Math.floor((size + 2 * pad - k) / stride) + 1
  return {
    batch: 1,
    inC,
    inH: size,
    inW: size,
    outC,
    outH: out,
    outW: out,
    kH: k,
    kW: k,
    strideH: stride,
    strideW: stride,
    padTop: pad,
    padLeft: pad,
    dilationH: 1,
    dilationW: 1,
    groups: 1,
  }
}

function main(): void {
  const relaxed = hasRelaxedSimd()
  const builds = relaxed ? [true, false] : [false]
  const threads = createWasmBackend().threads
  const one = new Map(builds.map((r) => [r, createWasmBackend({ relaxedSimd: r, threads: 1 })]))
  const many = createWasmBackend({ relaxedSimd: relaxed, threads })
  const k1 = one.get(relaxed)!.kernels as Kernels
  const kn = many.kernels as Kernels
  const js = jsBackend.kernels

  console.log(`# Kernel roofline (${relaxed ? 'relaxed-SIMD' : 'plain-SIMD'} build, ${threads} default threads)\n`)
  const peaks = new Map<boolean, number>()
  for (const r of builds) {
    const rt = one.get(r)!.runtime
    const iters = 2_000_000
    for (let i = 0; i < 20; i++) rt.exports.peak(1000)
    let best = 0
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      rt.exports.peak(iters)
      best = Math.max(best, gflops(iters * 96, performance.now() - t0))
    }
    peaks.set(r, best)
    console.log(`SIMD peak, one thread, ${r ? 'relaxed FMA' : 'plain mul + add'}: ${fmt(best)} GFLOP/s`)
  }
  const peak = peaks.get(relaxed)!

  console.log(`\n| kernel | GFLOP | 1 thread GFLOP/s | % of peak | ${threads} threads GFLOP/s | speed-up |`)
  console.log('| --- | --- | --- | --- | --- | --- |')
  const row = (name: string, flop: number, run: (k: Kernels) => void) => {
    const t1 = ms(() => run(k1))
    const tn = ms(() => run(kn))
    console.log(
      `| ${name} | ${(flop / 1e9).toFixed(3)} | ${fmt(gflops(flop, t1))} | ${((100 * gflops(flop, t1)) / peak).toFixed(0)}% | ${fmt(gflops(flop, tn))} | ${(t1 / tn).toFixed(2)}x |`,
    )
  }
  for (const n of [128, 256, 512, 1024]) {
    const a = rand(n * n)
    const b = rand(n * n)
    const c = new Float32Array(n * n)
    row(`GEMM ${n}^3`, 2 * n ** 3, (k) => k.MatMul(a, b, c, n, n, n, 1, 0, 0))
  }
  if (relaxed) {
    const n = 512
    const [a, b, c] = [rand(n * n), rand(n * n), new Float32Array(n * n)]
    const plain = one.get(false)!.kernels as Kernels
    const t = ms(() => plain.MatMul(a, b, c, n, n, n, 1, 0, 0))
    console.log(
      `| GEMM 512^3, plain-SIMD build | 0.268 | ${fmt(gflops(2 * n ** 3, t))} | ${((100 * gflops(2 * n ** 3, t)) / peaks.get(false)!).toFixed(0)}% of its peak | | |`,
    )
  }
  const layers: [string, Conv2dGeometry][] = [
    ['conv 7x7/2, 3->64, 224 (ResNet stem)', geometry(3, 64, 224, 7, 2, 3)],
    ['conv 3x3, 64->64, 56', geometry(64, 64, 56, 3, 1, 1)],
    ['conv 3x3, 128->128, 28', geometry(128, 128, 28, 3, 1, 1)],
    ['conv 3x3, 256->256, 14', geometry(256, 256, 14, 3, 1, 1)],
    ['conv 3x3, 512->512, 7', geometry(512, 512, 7, 3, 1, 1)],
    ['conv 1x1, 64->256, 56', geometry(64, 256, 56, 1, 1, 0)],
    ['conv 3x3, 64->64, 224 (VGG)', geometry(64, 64, 224, 3, 1, 1)],
    ['conv 11x11/4, 3->64, 224 (AlexNet)', geometry(3, 64, 224, 11, 4, 2)],
  ]
  for (const [name, g] of layers) {
    const macs = g.outC * g.outH * g.outW * g.inC * g.kH * g.kW
    const x = rand(g.inC * g.inH * g.inW)
    const w = rand(g.outC * g.inC * g.kH * g.kW)
    const y = new Float32Array(g.outC * g.outH * g.outW)
    const bias = rand(g.outC)
    row(name, 2 * macs, (k) => k.Conv(x, w, bias, y, g))
    if (name.startsWith('conv 3x3, 64->64, 56')) {
      const dx = new Float32Array(x.length)
      const dw = new Float32Array(w.length)
      row(`${name}, data gradient`, 2 * macs, (k) => k.ConvTranspose(y, w, null, dx, g))
      row(`${name}, weight gradient`, 2 * macs, (k) => k.ConvWeightGrad(x, y, dw, g))
      // The same product as one GEMM: what unrolling, copying and the bias add cost on top.
      const K = g.inC * 9
      const N = g.outH * g.outW
      const cols = rand(K * N)
      const tg = ms(() => k1.MatMul(w, cols, y, g.outC, K, N, 1, 0, 0))
      const tc = ms(() => k1.Conv(x, w, bias, y, g))
      console.log(
        `| ${name}: the GEMM alone (M ${g.outC}, N ${N}, K ${K}) | | ${fmt(gflops(2 * macs, tg))} | conv takes ${((100 * tc) / tg).toFixed(0)}% of its time | | |`,
      )
    }
  }

  console.log('\n## Copies\n')
  for (const mb of [2, 64]) {
    const src = rand((mb * 2 ** 20) / 4)
    const dst = new Float32Array(src.length)
    const t = ms(() => dst.set(src))
    console.log(
      `- copying ${mb} MB of float32 (typed-array set): ${t.toFixed(3)} ms (${fmt((mb * 2 ** 20) / t / 1e6)} GB/s)`,
    )
  }

  console.log('\n## Where a GEMM starts to pay for leaving JS (one thread; square m = k = n)\n')
  const noThreshold = createWasmBackend({ relaxedSimd: relaxed, threads: 1, minMacs: 0 })
  const k0 = noThreshold.kernels as Kernels
  console.log('| n | MACs | js us | wasm us |')
  console.log('| --- | --- | --- | --- |')
  for (const n of [4, 8, 12, 16, 20, 24, 32, 48]) {
    const [a, b, c] = [rand(n * n), rand(n * n), new Float32Array(n * n)]
    const tj = ms(() => js.MatMul(a, b, c, n, n, n, 1, 0, 0))
    const tw = ms(() => k0.MatMul(a, b, c, n, n, n, 1, 0, 0))
    console.log(`| ${n} | ${n ** 3} | ${(tj * 1000).toFixed(2)} | ${(tw * 1000).toFixed(2)} |`)
  }
  for (const b of [...one.values(), many, noThreshold]) b.close()
}

main()

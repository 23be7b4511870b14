/**
 * Every kernel of the wasm backend against the js reference kernel, on seeded random shapes (odd sizes,
 * 1-element dims, batches, shared operands, transposed weights, every conv geometry kind: stride, padding,
 * dilation, groups, depthwise, 1x1), in both SIMD builds (relaxed FMA and plain mul+add) and on one and
 * two threads. Float32 sums in another order differ by rounding only, so the bound scales with the
 * length of the sum and the magnitude of the result.
 */
import { availableParallelism } from 'node:os'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { getBackend, jsBackend, setBackend, tensor, ops, withPinned } from '../src/index.js'
import { checkConv, convGeometry, expectClose, int, rand, gen } from './helpers/kernel-check.js'
import { jsKernels } from '../src/backends/js/kernels.js'
import { type WasmBackend, createWasmBackend, defaultThreads, hasRelaxedSimd } from '../src/backends/wasm/index.js'
import { WasmMemoryError } from '../src/backends/wasm/runtime.js'
import { ThreadPool } from '../src/backends/wasm/pool.js'
import { SCAN_THREADS_MIN_STEP_MACS } from '../src/backends/wasm/recurrent.js'
import { POOL_THREADS_MIN_TAPS } from '../src/backends/wasm/elementwise.js'

const backends: [string, WasmBackend][] = []
for (const relaxedSimd of hasRelaxedSimd() ? [true, false] : [false])
  for (const threads of [1, 2])
    backends.push([
      `${relaxedSimd ? 'relaxed' : 'plain'} SIMD, ${threads} thread(s)`,
      createWasmBackend({ relaxedSimd, threads }),
    ])
afterAll(() =>
  backends.forEach(([, b]) => {
    b.close()
  }),
)

it('both SIMD builds are exercised where the engine has relaxed SIMD (Node >= 20 with the flag set by the loader)', () => {
  expect(backends.some(([, b]) => !b.relaxedSimd)).toBe(true)
  expect(backends.some(([, b]) => b.relaxedSimd)).toBe(hasRelaxedSimd())
})

/** Elements that differ (Object.is: NaN equals NaN, 0 and -0 differ); 0 when bit-identical up to NaN payloads. */
function mismatches(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length)
  let n = 0
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) n++
  return n
}

/** A max-pooling geometry with symmetric padding and PyTorch's output size (ceil mode or not). */
function poolGeometry(
  planes: number,
  [inH, inW]: readonly [number, number],
  [kH, kW]: readonly [number, number],
  [strideH, strideW]: readonly [number, number],
  [padTop, padLeft]: readonly [number, number],
  [dilationH, dilationW]: readonly [number, number],
  ceil: number,
) {
  const out = (n: number, k: number, p: number, s: number, d: number) =>
    Math.max(1, Math.floor((n + 2 * p - d * (k - 1) - 1 + ceil * (s - 1)) / s) + 1)
  const [outH, outW] = [out(inH, kH, padTop, strideH, dilationH), out(inW, kW, padLeft, strideW, dilationW)]
  const padBottom = padTop
  const padRight = padLeft
  return {
    planes,
    inH,
    inW,
    outH,
    outW,
    kH,
    kW,
    strideH,
    strideW,
    padTop,
    padLeft,
    padBottom,
    padRight,
    dilationH,
    dilationW,
  }
}

it("RecurrentScan on two threads when the second runs only after the first is done: the first computes every chunk of every step (its own and the other's), and the result is one thread's", () => {
  const two = backends.find(([, b]) => b.threads === 2)![1]
  const one = createWasmBackend({ relaxedSimd: two.relaxedSimd, threads: 1 })
  // The pool's run replaced by the two threads one after the other on this thread: thread 1 starts only after
  // thread 0 has returned, as when the machine does not run it for the whole call. A fixed split with a barrier
  // after each step would leave thread 0 waiting for thread 1 forever.
  const order: number[] = []
  const sequential = () =>
    vi.spyOn(ThreadPool.prototype, 'run').mockImplementation((name, p) => {
      expect(name).toBe('recurrentScan')
      for (const tid of [0, 1]) {
        two.runtime.exports.recurrentScan(p, tid, 2)
        order.push(tid)
      }
    })
  try {
    for (const mode of [0, 2, 3] as const) {
      const G = mode <= 1 ? 1 : mode === 2 ? 3 : 4
      // B * G*H * H past SCAN_THREADS_MIN_STEP_MACS, so the steps are shared; H % 12 != 0 and H % 4 != 0.
      const B = 2
      const H = Math.ceil(Math.sqrt(SCAN_THREADS_MIN_STEP_MACS / (B * G))) + 5
      const w = Float32Array.from(rand(G * H * H), (v) => v / Math.sqrt(H))
      const args = (T: number) => ({
        mode,
        T,
        B,
        H,
        reverse: mode === 2,
        xp: Float32Array.from({ length: T * B * G * H }, (_, i) => Math.sin(i)),
        w,
        bias: Float32Array.from({ length: G * H }, (_, i) => Math.cos(3 * i)),
        mask: null,
        h: Float32Array.from({ length: B * H }, (_, i) => Math.cos(i)),
        c: mode === 3 ? new Float32Array(B * H).fill(0.25) : null,
        y: new Float32Array(T * B * H),
        saved: null,
      })
      // T 5: rows read in place (no panels to pack). T 8 with W_hh pinned: the panels are packed by a first call
      // on the real pool, so the later call reads them whoever owns them.
      for (const [T, pinned] of [
        [5, false],
        [8, true],
      ] as const) {
        const want = args(T)
        ;(one.kernels as typeof jsKernels).RecurrentScan(want)
        const release = pinned ? two.pin!([w]) : () => {}
        try {
          if (pinned) (two.kernels as typeof jsKernels).RecurrentScan(args(T))
          const spy = sequential()
          const got = args(T)
          order.length = 0
          try {
            ;(two.kernels as typeof jsKernels).RecurrentScan(got)
          } finally {
            spy.mockRestore()
          }
          expect(order).toEqual([0, 1])
          expect(mismatches(got.y, want.y), `mode ${mode} T ${T}`).toBe(0)
          expect(mismatches(got.h, want.h), `mode ${mode} T ${T}`).toBe(0)
          if (want.c) expect(mismatches(got.c!, want.c)).toBe(0)
        } finally {
          release()
        }
      }
    }
  } finally {
    one.close()
  }
})

describe.each(backends)('wasm kernels, %s', (_, be) => {
  const k = be.kernels as typeof jsKernels

  it('MatMul: random shapes, batched and with a shared operand', () => {
    for (let t = 0; t < 40; t++) {
      const [m, kk, n] = [int(1, 70), int(1, 300), int(1, 90)]
      const batch = int(1, 4)
      const [as, bs] = [gen.random() < 0.3 ? 0 : m * kk, gen.random() < 0.3 ? 0 : kk * n]
      const a = rand(as ? batch * as : m * kk)
      const b = rand(bs ? batch * bs : kk * n)
      const [o1, o2] = [new Float32Array(batch * m * n), new Float32Array(batch * m * n).fill(NaN)]
      jsKernels.MatMul(a, b, o1, m, kk, n, batch, as, bs)
      k.MatMul(a, b, o2, m, kk, n, batch, as, bs)
      expectClose(o2, o1, kk)
    }
  })

  it('MatMul: large enough for threads and for every cache block (m, n, k past MC, NC, KC)', () => {
    for (const [m, kk, n] of [
      [130, 257, 1030],
      [512, 300, 64],
      [3, 1000, 2000],
    ] as const) {
      const a = rand(m * kk)
      const b = rand(kk * n)
      const [o1, o2] = [new Float32Array(m * n), new Float32Array(m * n)]
      jsKernels.MatMul(a, b, o1, m, kk, n, 1, 0, 0)
      k.MatMul(a, b, o2, m, kk, n, 1, 0, 0)
      expectClose(o2, o1, kk)
    }
  })

  it('MatMulTransA: at^T @ b with at read transposed, batched and with a shared operand', () => {
    for (let t = 0; t < 30; t++) {
      const [m, kk, n, batch] = [int(1, 130), int(1, 200), int(1, 90), int(1, 3)]
      const [as, bs] = [t % 3 === 0 ? 0 : m * kk, t % 4 === 1 ? 0 : kk * n]
      const at = rand(as ? batch * as : m * kk)
      const b = rand(bs ? batch * bs : kk * n)
      const [o1, o2] = [new Float32Array(batch * m * n), new Float32Array(batch * m * n).fill(NaN)]
      jsKernels.MatMulTransA(at, b, o1, m, kk, n, batch, as, bs)
      k.MatMulTransA(at, b, o2, m, kk, n, batch, as, bs)
      expectClose(o2, o1, kk)
    }
  })

  it('MatMulTransB: a @ W^T with the weight read transposed, with and without a bias per column', () => {
    for (let t = 0; t < 30; t++) {
      const [m, kk, n, batch] = [int(1, 40), int(1, 200), int(1, 130), int(1, 3)]
      const a = rand(batch * m * kk)
      const bt = rand(n * kk)
      const bias = t % 2 ? rand(n).map((v) => v * 10) : null
      const [o1, o2] = [new Float32Array(batch * m * n), new Float32Array(batch * m * n)]
      jsKernels.MatMulTransB(a, bt, o1, m, kk, n, batch, m * kk, bias)
      k.MatMulTransB(a, bt, o2, m, kk, n, batch, m * kk, bias)
      expectClose(o2, o1, kk + 1)
      if (bias) {
        // The bias is really added: without it every row differs by exactly that vector (up to rounding).
        jsKernels.MatMulTransB(a, bt, o1, m, kk, n, batch, m * kk)
        for (let j = 0; j < n; j++) expect(o2[j]! - o1[j]!).toBeCloseTo(bias[j]!, 3)
      }
    }
  })

  it('GEMM propagates Inf and NaN as IEEE does (0 * Inf = NaN; no zero skipping)', () => {
    const [m, kk, n] = [8, 64, 16]
    const a = new Float32Array(m * kk)
    const b = rand(kk * n)
    a[3 * kk + 5] = Infinity // row 3: Inf * b[5, j]
    b[7 * n + 2] = NaN // column 2: a[i, 7] * NaN, with a = 0 elsewhere
    const out = new Float32Array(m * n)
    k.MatMul(a, b, out, m, kk, n, 1, 0, 0)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        const want = i === 3 ? (b[5 * n + j]! === 0 ? NaN : b[5 * n + j]! > 0 ? Infinity : -Infinity) : 0
        if (j === 2 || Number.isNaN(want)) expect(out[i * n + j]).toBeNaN()
        else expect(out[i * n + j]).toBe(i === 3 ? want : 0)
      }
  })

  it('Conv, ConvTranspose (its data gradient) and ConvWeightGrad: random geometries', () => {
    for (let t = 0; t < 30; t++) {
      const groups = [1, 1, 2, 3][int(0, 3)]!
      const depthwise = gen.random() < 0.15
      const inC = depthwise ? int(1, 6) * 2 : groups * int(1, 5)
      const g = convGeometry({
        batch: int(1, 3),
        inC,
        outC: depthwise ? inC : groups * int(1, 6),
        groups: depthwise ? inC : groups,
        inH: int(1, 17),
        inW: int(1, 19),
        kH: int(1, 4),
        kW: int(1, 4),
        strideH: int(1, 3),
        strideW: int(1, 3),
        padTop: int(0, 2),
        padLeft: int(0, 2),
        dilationH: int(1, 2),
        dilationW: int(1, 2),
      })
      if (g.outH < 1 || g.outW < 1) continue
      checkConv(be, g, gen.random() < 0.7)
    }
  })

  it("ConvWeightGrad by chunks of samples (LeNet's convolutions, a batch of 37: 13 chunks of 3, 3 empty): as js, and bit-identical to one thread", () => {
    const one = createWasmBackend({ relaxedSimd: be.relaxedSimd, threads: 1 })
    const run = vi.spyOn(ThreadPool.prototype, 'run')
    try {
      for (const g of [
        convGeometry({ batch: 37, inC: 1, outC: 6, inH: 28, inW: 28, kH: 5, kW: 5, padTop: 2, padLeft: 2 }),
        convGeometry({ batch: 37, inC: 6, outC: 16, inH: 14, inW: 14, kH: 5, kW: 5 }),
      ]) {
        const x = rand(g.batch * g.inC * g.inH * g.inW)
        const dy = rand(g.batch * g.outC * g.outH * g.outW)
        const n = g.outC * g.inC * g.kH * g.kW
        const [want, got, single] = [new Float32Array(n), new Float32Array(n).fill(NaN), new Float32Array(n).fill(NaN)]
        jsKernels.ConvWeightGrad(x, dy, want, g)
        k.ConvWeightGrad(x, dy, got, g)
        ;(one.kernels as typeof jsKernels).ConvWeightGrad(x, dy, single, g)
        expectClose(got, want, g.batch * g.outH * g.outW)
        expect(mismatches(got, single)).toBe(0)
      }
      // Large enough to be shared between the threads of a pool.
      expect(run.mock.calls.filter(([name]) => name === 'conv2dBackwardWeight').length).toBe(be.threads > 1 ? 2 : 0)
    } finally {
      run.mockRestore()
      one.close()
    }
  })

  it('Conv: the fast paths and the layers of the CNNs (1x1, 3x3, 7x7 stride 2, 11x11 stride 4, large tiles)', () => {
    for (const g of [
      convGeometry({ inC: 16, outC: 24, inH: 14, inW: 14, kH: 1, kW: 1 }),
      convGeometry({ inC: 16, outC: 24, inH: 14, inW: 14, kH: 1, kW: 1, strideH: 2, strideW: 2 }),
      convGeometry({ inC: 32, outC: 32, inH: 28, inW: 28, kH: 3, kW: 3, padTop: 1, padLeft: 1 }),
      convGeometry({ inC: 3, outC: 16, inH: 64, inW: 64, kH: 7, kW: 7, strideH: 2, strideW: 2, padTop: 3, padLeft: 3 }),
      convGeometry({
        inC: 3,
        outC: 8,
        inH: 67,
        inW: 67,
        kH: 11,
        kW: 11,
        strideH: 4,
        strideW: 4,
        padTop: 2,
        padLeft: 2,
      }),
      convGeometry({ batch: 2, inC: 64, outC: 64, inH: 7, inW: 7, kH: 3, kW: 3, padTop: 1, padLeft: 1 }),
      convGeometry({ inC: 32, outC: 32, inH: 20, inW: 20, kH: 3, kW: 3, padTop: 1, padLeft: 1, groups: 32 }),
    ])
      checkConv(be, g)
  })

  it('Add, Sub, Mul, Div, Max, Min: broadcasting, 1-element dims, strided operands and IEEE specials, bit-identical to js', () => {
    // An operand's shape is the output's with some dims set to 1 (a broadcast: stride 0 there), sometimes
    // with its dims stored in another order (a transposed view: its rows are not contiguous).
    const operand = (shape: number[]): [Float32Array, number[]] => {
      const own = shape.map((d) => (gen.random() < 0.3 ? 1 : d))
      const order = own.map((_, i) => i)
      if (gen.random() < 0.2) order.reverse()
      const strides = new Array<number>(own.length).fill(0)
      let s = 1
      for (let k = order.length - 1; k >= 0; k--) {
        const d = order[k]!
        strides[d] = own[d] === 1 ? 0 : s
        s *= own[d]!
      }
      const x = rand(s)
      // IEEE specials: the same NaN/Inf/zero handling as the js kernel, ±0 included.
      for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0]) x[int(0, s - 1)] = v
      return [x, strides]
    }
    for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min'] as const)
      for (let t = 0; t < 12; t++) {
        const shape = [int(1, 3), int(8, 20), int(8, 20), int(64, 80)]
        const [a, as] = operand(shape)
        const [b, bs] = operand(shape)
        const n = shape.reduce((p, d) => p * d, 1)
        const [o1, o2] = [new Float32Array(n), new Float32Array(n).fill(7)]
        jsKernels[op](a, as, b, bs, o1, shape)
        k[op](a, as, b, bs, o2, shape)
        expect(mismatches(o2, o1), `${op} ${shape} a ${as} b ${bs}`).toBe(0)
      }
  })

  it('Max and Min: NaN in either operand gives NaN, and ties (0 and -0) give the first operand, as the js kernel', () => {
    const specials = [Number.NaN, 1, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2, 2]
    const n = 4096 + 3
    // Every ordered pair of specials, in the SIMD body and in the tail.
    const a = Float32Array.from({ length: n }, (_, i) => specials[i % 8]!)
    const b = Float32Array.from({ length: n }, (_, i) => specials[Math.floor(i / 8) % 8]!)
    for (const op of ['Max', 'Min'] as const) {
      const [o1, o2] = [new Float32Array(n), new Float32Array(n).fill(7)]
      jsKernels[op](a, [1], b, [1], o1, [n])
      k[op](a, [1], b, [1], o2, [n])
      expect(mismatches(o2, o1), op).toBe(0)
      for (let i = 0; i < 64; i++) {
        const [x, y] = [a[i]!, b[i]!]
        if (Number.isNaN(x) || Number.isNaN(y)) expect(o2[i]).toBeNaN()
        else if (x === y) expect(Object.is(o2[i], x)).toBe(true)
        else expect(o2[i]).toBe(op === 'Max' ? Math.max(x, y) : Math.min(x, y))
      }
    }
  })

  it('LeakyRelu: bit-identical to js for several slopes (the product in float64), -0 kept, NaN propagated', () => {
    for (const [n, alpha] of [
      [256, 0.01],
      [4097, 0.1],
      [10_003, 1 / 3],
      [65_536, undefined],
      [1001, 2.5],
    ] as const) {
      const x = rand(n)
      // Values whose float32 product with alpha rounds differently than with alpha rounded to float32 first.
      for (let i = 0; i < 200; i++) x[int(0, n - 1)] = -Math.fround(1 + i / 7)
      x.set([Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1e-45], n - 6)
      const attrs = alpha === undefined ? {} : { alpha }
      const [y1, y2] = [new Float32Array(n), new Float32Array(n).fill(7)]
      jsKernels.LeakyRelu(x, y1, attrs)
      k.LeakyRelu(x, y2, attrs)
      expect(mismatches(y2, y1)).toBe(0)
      expect(Object.is(y2[n - 5], -0)).toBe(true)
      expect(Number.isNaN(y2[n - 6])).toBe(true)
      // It ran in wasm: the operand was copied to the start of the runtime's arena.
      const arena = be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + n)
      expect(mismatches(arena, x)).toBe(0)
    }
  })

  it('Relu: bit-identical to js, NaN -> 0 and -0 -> 0 as the js kernel', () => {
    for (const n of [4096, 4097, 10_003, 65_536]) {
      const x = rand(n)
      x.set([Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], n - 5)
      const [y1, y2] = [new Float32Array(n), new Float32Array(n).fill(7)]
      jsKernels.Relu(x, y1, {})
      k.Relu(x, y2, {})
      expect(mismatches(y2, y1)).toBe(0)
      expect(Object.is(y2[n - 4], 0)).toBe(true)
      // It ran in wasm: the operand was copied to the start of the runtime's arena.
      const arena = be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + n)
      expect(mismatches(arena, x)).toBe(0)
    }
  })

  it('transcendental unary ops (Exp, Sigmoid, Tanh, Softplus, Mish, Elu, Selu, Gelu exact and tanh): within a few float32 ulps of js', () => {
    const ULP = 2 ** -23
    // Every magnitude from 1e-7 to 120 in both signs, the ranges' edges (exp's overflow and underflow, tanh's
    // switch at 0.4, expm1's at -0.5), specials, and lengths that are not a multiple of 4.
    const mags = [1e-7, 1e-4, 0.01, 0.3, 0.5, 1, 3, 10, 30, 100, 120]
    const edges = [0.4, -0.4, 0.39999998, -0.5, -0.50000006, 88.72, 88.73, -87.3, -103.9, -104.5, 89, -89]
    const specials = [Number.NaN, 0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]
    // [op, attrs, the error allowed at x for a result w]: 8 ulps of w, and where a formula cancels, more:
    // GELU-tanh's 1 + tanh u for u << 0 costs an ulp of 1 scaled by x; exact GELU's erfc is t e^(-z^2 + P) with
    // z^2 = x^2 / 2 rounded to float32 (z^2 ulps more), and the js reference's own 1 + erf cancels in float64.
    const rel = (_x: number, w: number) => 8 * ULP * Math.abs(w)
    const cases: [string, Parameters<typeof jsKernels.Gelu>[2], (x: number, w: number) => number][] = [
      ['Exp', {}, rel],
      ['Sigmoid', {}, rel],
      ['Tanh', {}, rel],
      ['Softplus', {}, rel],
      ['Mish', {}, rel],
      ['Elu', { alpha: 0.7 }, rel],
      ['Selu', {}, rel],
      ['Gelu', {}, (x, w) => rel(x, w) * (1 + (x * x) / 2) + 2 ** -52 * Math.abs(x)],
      ['Gelu', { approximate: 'tanh' }, (x, w) => rel(x, w) + 2 * ULP * Math.abs(x)],
    ]
    for (const n of [257, 1001, 4096]) {
      const x = Float32Array.from({ length: n }, (_, i) => (gen.random() * 2 - 1) * mags[i % mags.length]!)
      x.set([...edges, ...specials], n - edges.length - specials.length)
      for (const [op, attrs, allowed] of cases) {
        const kernel = op as 'Gelu'
        const [want, got] = [new Float32Array(n), new Float32Array(n).fill(7)]
        jsKernels[kernel](x, want, attrs)
        k[kernel](x, got, attrs)
        for (let i = 0; i < n; i++) {
          const [g, w] = [got[i]!, want[i]!]
          if (Number.isNaN(w) || !Number.isFinite(w)) {
            expect(Object.is(g, w), `${op} ${JSON.stringify(attrs)} at ${x[i]}: ${g} vs ${w}`).toBe(true)
            continue
          }
          const err = Math.abs(g - w) / (allowed(x[i]!, w) + 1e-37)
          expect(err, `${op} ${JSON.stringify(attrs)} at ${x[i]}: ${g} vs ${w}`).toBeLessThanOrEqual(1)
        }
        // It ran in wasm: the operand was copied to the start of the runtime's arena.
        expect(mismatches(be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + n), x)).toBe(0)
      }
    }
  })

  it('Softmax, LogSoftmax: rows of odd lengths and magnitudes, NaN and -inf rows, as js; other layouts on js', () => {
    for (const [rows, n, scale] of [
      [64, 256, 1],
      [3, 1001, 30],
      [77, 5, 1e4],
      [300, 4, 0.01],
    ] as const) {
      const x = Float32Array.from({ length: rows * n }, () => (gen.random() * 2 - 1) * scale)
      x[n + 1] = Number.NaN // row 1 becomes NaN
      x.fill(Number.NEGATIVE_INFINITY, 2 * n, 3 * n) // row 2: -inf - -inf = NaN
      x[3 * n] = Number.NEGATIVE_INFINITY // row 3: one -inf, which gets probability 0 (log: -inf)
      for (const op of ['Softmax', 'LogSoftmax'] as const) {
        const [want, got] = [new Float32Array(rows * n), new Float32Array(rows * n).fill(7)]
        jsKernels[op](x, rows, n, 1, want)
        k[op](x, rows, n, 1, got)
        for (let i = 0; i < rows * n; i++) {
          const [g, w] = [got[i]!, want[i]!]
          if (!Number.isFinite(w)) expect(Object.is(g, w), `${op} ${rows}x${n} at ${i}: ${g} vs ${w}`).toBe(true)
          // The sum runs in float32 in another order: a few ulps per term of the row's sum of exponentials.
          else
            expect(Math.abs(g - w), `${op} ${rows}x${n} at ${i}`).toBeLessThanOrEqual(
              4e-7 * Math.sqrt(n) * (1 + Math.abs(w)),
            )
        }
        expect(mismatches(be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + rows * n), x)).toBe(0)
      }
    }
    // Softmax over a middle axis (inner > 1) runs on the js kernel: bit-identical.
    const x = rand(4 * 300 * 7)
    const [want, got] = [new Float32Array(x.length), new Float32Array(x.length)]
    jsKernels.Softmax(x, 4, 300, 7, want)
    k.Softmax(x, 4, 300, 7, got)
    expect(mismatches(got, want)).toBe(0)
  })

  it('ChannelAffine: planes of odd sizes, one and many samples, bit-identical to js', () => {
    for (const [n, c, inner] of [
      [1, 64, 56 * 56],
      [3, 5, 7 * 7],
      [2, 300, 13],
      [1, 2048, 3],
      [4, 16, 1],
    ] as const) {
      const x = rand(n * c * inner)
      x[5] = Number.NaN
      x[7] = Number.POSITIVE_INFINITY
      x[9] = -0
      const [scale, shift] = [rand(c), rand(c)]
      const [want, got] = [new Float32Array(x.length), new Float32Array(x.length).fill(7)]
      jsKernels.ChannelAffine(x, scale, shift, n, c, inner, want)
      k.ChannelAffine(x, scale, shift, n, c, inner, got)
      expect(mismatches(got, want), `${n}x${c}x${inner}`).toBe(0)
    }
  })

  it('LayerNormalization: rows of odd lengths, with and without scale and shift, large offsets, as js', () => {
    for (const [rows, n, offset] of [
      [64, 256, 0],
      [5, 1003, 1000],
      [300, 7, -3],
    ] as const) {
      const x = Float32Array.from({ length: rows * n }, () => offset + gen.random() * 2 - 1)
      x[2 * n + 3] = Number.NaN // row 2 becomes NaN
      for (const [w, b] of [
        [rand(n), rand(n)],
        [rand(n), null],
        [null, null],
      ] as const) {
        const [want, got] = [new Float32Array(rows * n), new Float32Array(rows * n).fill(7)]
        jsKernels.LayerNormalization(x, rows, n, w, b, 1e-5, want)
        k.LayerNormalization(x, rows, n, w, b, 1e-5, got)
        for (let i = 0; i < rows * n; i++) {
          if (Number.isNaN(want[i]!)) expect(got[i], `${rows}x${n} at ${i}`).toBeNaN()
          // float32 sums in another order; the deviations of a row offset by 1000 lose ~log2(1000) bits first.
          else
            expect(Math.abs(got[i]! - want[i]!), `${rows}x${n} at ${i}`).toBeLessThanOrEqual(
              2e-6 * Math.sqrt(n) * (1 + Math.abs(offset)),
            )
        }
        expect(mismatches(be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + rows * n), x)).toBe(0)
      }
    }
  })

  it('pinned operands are copied in once and read in place until released; scopes nest; the arena moves up and back', () => {
    const [m, kk, n] = [3, 200, 150]
    const a = rand(m * kk)
    const w = rand(n * kk)
    const want = new Float32Array(m * n)
    jsKernels.MatMulTransB(a, w, want, m, kk, n, 1, 0)
    const base = be.runtime.base
    const release = be.pin!([w, w])
    expect(be.runtime.pinned.get(w)).toBe(base)
    expect(be.runtime.base).toBe(base + ((n * kk * 4 + 15) & ~15))
    const innerRelease = be.pin!([w, a])
    expect(be.runtime.pinned.get(w)).toBe(base)
    const saved = w[0]!
    // The kernel reads the pinned copy: a change to the JS array inside the scope is not seen (hence the rule
    // that pinned arrays do not change), while the unpinned operand is copied per call as always.
    w[0] = 1e6
    const got = new Float32Array(m * n)
    k.MatMulTransB(a, w, got, m, kk, n, 1, 0)
    expectClose(got, want, kk)
    innerRelease()
    expect([be.runtime.pinned.has(a), be.runtime.pinned.has(w)]).toEqual([false, true])
    release()
    expect([be.runtime.base, be.runtime.pinned.size]).toEqual([base, 0])
    k.MatMulTransB(a, w, got, m, kk, n, 1, 0)
    expect(got[0]).not.toBeCloseTo(want[0]!, 1)
    w[0] = saved
  })

  it('ReluGrad: bit-identical to js (dy * 0 where x <= 0: signed zeros, NaN from an infinite dy)', () => {
    for (const n of [4096, 4099, 10_003]) {
      const [dy, x] = [rand(n), rand(n)]
      x.set([Number.NaN, -0, 0, 1, -1, 2], n - 6)
      dy.set([1, -2, -3, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN], n - 6)
      const [d1, d2] = [new Float32Array(n), new Float32Array(n).fill(7)]
      jsKernels.ReluGrad(dy, x, d1)
      k.ReluGrad(dy, x, d2)
      expect(mismatches(d2, d1)).toBe(0)
      expect([Object.is(d2[n - 5], -0), Number.isNaN(d2[n - 2]!)]).toEqual([true, true])
      const arena = be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + n)
      expect(mismatches(arena, dy)).toBe(0)
    }
  })

  it('GeluGrad: within 8 float32 ulps (of the terms) of the js kernel over magnitudes 1e-6..12, odd lengths, specials', () => {
    for (const n of [256, 4099, 10_003]) {
      const x = Float32Array.from(
        { length: n },
        () => (gen.random() < 0.5 ? -1 : 1) * 10 ** (gen.random() * 7 - 6) * 12,
      )
      const dy = rand(n)
      x.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -3, 3], n - 6)
      const [want, got] = [new Float32Array(n), new Float32Array(n).fill(7)]
      jsKernels.GeluGrad(dy, x, want)
      k.GeluGrad(dy, x, got)
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(want[i]!)) expect(got[i], `x ${x[i]}`).toBeNaN()
        else {
          // Phi(x) + x phi(x) cancels for x near -1 (the factor is ~0.08 against terms of ~0.24), so the bound is
          // relative to the terms, not to their sum.
          const v = x[i]!
          const terms = 0.5 * Math.abs(1 + Math.tanh(v)) + Math.abs(v) * Math.exp(-0.5 * v * v) * 0.4 + 1e-30
          expect(Math.abs(got[i]! - want[i]!), `x ${v}`).toBeLessThanOrEqual(1e-6 * Math.abs(dy[i]!) * terms + 1e-37)
        }
      }
      const arena = be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + n)
      expect(mismatches(arena, dy)).toBe(0)
    }
  })

  it('RecurrentScan: every mode, masks (0, 1, fractional), reverse, H % 4 != 0, states and saved arrays as js', () => {
    for (let t = 0; t < 24; t++) {
      const mode = (t % 4) as 0 | 1 | 2 | 3
      const G = mode <= 1 ? 1 : mode === 2 ? 3 : 4
      // B * G*H * H >= 4096 multiply-adds per step: the size from which the layer runs in wasm.
      // From T * B = SCAN_PACK_MIN_PRODUCTS the kernel packs W_hh into panels first: both paths, every mode.
      const [T, B, H] = [t % 8 < 4 ? 16 : int(1, 7), int(1, 3), t < 4 ? 64 : mode <= 1 ? int(65, 99) : int(37, 70)]
      const withMask = t % 3 !== 0
      const mask = withMask ? Float32Array.from(rand(T * B), (v) => (v < -0.3 ? 0 : v > 0.6 ? 0.5 : 1)) : null
      const args = () => ({
        mode,
        T,
        B,
        H,
        reverse: t % 2 === 1,
        xp: rand(T * B * G * H),
        w: Float32Array.from(rand(G * H * H), (v) => v / Math.sqrt(H)),
        bias: t % 5 === 0 ? null : rand(G * H),
        mask,
        h: rand(B * H),
        c: mode === 3 ? rand(B * H) : null,
        y: new Float32Array(T * B * H),
        saved:
          t % 2 === 0
            ? {
                hPrev: new Float32Array(T * B * H),
                cPrev: mode === 3 ? new Float32Array(T * B * H) : null,
                hh: new Float32Array(T * B * G * H),
                hNew: new Float32Array(T * B * H),
                cNew: mode === 3 ? new Float32Array(T * B * H) : null,
              }
            : null,
      })
      const want = args()
      const blank = (x: Float32Array | null) => (x ? new Float32Array(x.length).fill(7) : null)
      const ws = want.saved
      const got = {
        ...want,
        h: want.h.slice(),
        c: want.c?.slice() ?? null,
        y: blank(want.y)!,
        saved: ws && {
          hPrev: blank(ws.hPrev)!,
          cPrev: blank(ws.cPrev),
          hh: blank(ws.hh)!,
          hNew: blank(ws.hNew)!,
          cNew: blank(ws.cNew),
        },
      }
      jsKernels.RecurrentScan(want)
      k.RecurrentScan(got)
      // The gates in float32 with polynomial exp (relative error ~1e-7) against float64 Math.exp.
      expectClose(got.y, want.y, H)
      expectClose(got.h, want.h, H)
      if (want.c) expectClose(got.c!, want.c, H)
      if (want.saved)
        for (const key of Object.keys(want.saved) as (keyof typeof want.saved)[])
          if (want.saved[key]) expectClose(got.saved![key]!, want.saved[key]!, H)
      // It ran in wasm: the arena starts with the copied-in input projections.
      const arena = be.runtime.f32.subarray(be.runtime.base >> 2, (be.runtime.base >> 2) + want.xp.length)
      expect(mismatches(arena, want.xp)).toBe(0)
    }
  })

  it('Conv and ConvTranspose read pinned weights and bias in place; the weight gradient (their output) never is', () => {
    const g = convGeometry({ inC: 6, outC: 16, inH: 14, inW: 14, kH: 5, kW: 5, padTop: 2, padLeft: 2 })
    const x = rand(g.inC * g.inH * g.inW)
    const w = rand(g.outC * g.inC * g.kH * g.kW)
    const bias = rand(g.outC)
    const dy = rand(g.outC * g.outH * g.outW)
    const want = { y: new Float32Array(dy.length), dx: new Float32Array(x.length), dw: new Float32Array(w.length) }
    k.Conv(x, w, bias, want.y, g)
    k.ConvTranspose(dy, w, null, want.dx, g)
    k.ConvWeightGrad(x, dy, want.dw, g)
    const release = be.pin!([w, bias])
    try {
      // Changes to the JS arrays inside the scope are not seen: the kernels read the pinned copies.
      const saved = [w.slice(), bias.slice()] as const
      w.fill(1e6)
      bias.fill(-1e6)
      const got = { y: new Float32Array(dy.length), dx: new Float32Array(x.length), dw: w }
      k.Conv(x, w, bias, got.y, g)
      k.ConvTranspose(dy, w, null, got.dx, g)
      expect([mismatches(got.y, want.y), mismatches(got.dx, want.dx)]).toEqual([0, 0])
      // A pinned array as the output is written as usual (the pinned copy is not the result).
      k.ConvWeightGrad(x, dy, got.dw, g)
      expect(mismatches(got.dw, want.dw)).toBe(0)
      w.set(saved[0])
      bias.set(saved[1])
    } finally {
      release()
    }
  })

  it('Conv with a pinned W: packed once for the scope (groups, rows past a panel, several k and row blocks, thread splits), bit-identical to unpinned calls', () => {
    const geometries = [
      convGeometry({ inC: 6, outC: 16, inH: 14, inW: 14, kH: 5, kW: 5, padTop: 2, padLeft: 2 }),
      // 150 rows per group (over MC = 128, not a multiple of 4), K = 300 (over KC = 256), 2 groups
      convGeometry({ inC: 24, outC: 300, inH: 9, inW: 11, kH: 5, kW: 5, padTop: 1, padLeft: 2, groups: 2 }),
      // 1x1 on a small map: one tile of rows, so threads split the output channels
      convGeometry({ inC: 520, outC: 70, inH: 7, inW: 7, kH: 1, kW: 1 }),
      convGeometry({ batch: 3, inC: 8, outC: 8, inH: 10, inW: 10, kH: 3, kW: 3, padTop: 1, padLeft: 1, groups: 8 }),
    ]
    for (const g of geometries) {
      const x = rand(g.batch * g.inC * g.inH * g.inW)
      const w = rand((g.outC * g.inC * g.kH * g.kW) / g.groups)
      const bias = rand(g.outC)
      const ny = g.batch * g.outC * g.outH * g.outW
      const want = new Float32Array(ny)
      k.Conv(x, w, bias, want, g)
      const release = be.pin!([w])
      try {
        for (let i = 0; i < 2; i++) {
          const got = new Float32Array(ny)
          k.Conv(x, w, bias, got, g)
          expect(mismatches(got, want), `${JSON.stringify(g)} call ${i}`).toBe(0)
          // The second call reads the packed copy, not the pinned W: spoiling W changes nothing.
          be.runtime.f32.fill(1e6, be.runtime.pinned.get(w)! >> 2, (be.runtime.pinned.get(w)! >> 2) + w.length)
        }
      } finally {
        release()
      }
    }
  })

  it('derived copies of a pinned operand: made once per scope, dropped with the innermost scope open when made', () => {
    const w = rand(100)
    const base = be.runtime.base
    expect(be.runtime.derived(w, 'panels', 40)).toBeUndefined()
    const release = be.pin!([w])
    const first = be.runtime.derived(w, 'panels', 40)!
    expect(first).toEqual({ at: base + 400, fresh: true })
    expect(be.runtime.base).toBe(base + 400 + 160)
    expect(be.runtime.derived(w, 'panels', 40)).toEqual({ at: first.at, fresh: false })
    // One made inside an inner scope goes with it, and is made again afterwards.
    const inner = be.pin!([w])
    const other = be.runtime.derived(w, 'rows', 8)!
    expect(other.fresh).toBe(true)
    inner()
    expect(be.runtime.base).toBe(base + 400 + 160)
    expect(be.runtime.derived(w, 'rows', 8)).toEqual({ at: other.at, fresh: true })
    expect(be.runtime.derived(w, 'panels', 40)!.fresh).toBe(false)
    release()
    expect(be.runtime.base).toBe(base)
    expect(be.runtime.derived(w, 'panels', 40)).toBeUndefined()
  })

  it('RecurrentScan from the layer input (xp = x W_ih^T + b_ih computed by the kernel): as js, and bit-identical to MatMulTransB then the scan from xp; pinned W_ih read in place', () => {
    for (let t = 0; t < 8; t++) {
      const mode = (t % 4) as 0 | 1 | 2 | 3
      const G = mode <= 1 ? 1 : mode === 2 ? 3 : 4
      // Small and large: from 2^20 multiply-adds the projection runs on the pool's threads.
      const [T, B, H, I] = t < 4 ? [int(3, 9), int(1, 3), int(37, 70), int(5, 40)] : [32, 1, 128 + t, 128]
      const x = rand(T * B * I)
      const wIh = Float32Array.from(rand(G * H * I), (v) => v / Math.sqrt(I))
      const bIh = t % 3 === 0 ? null : rand(G * H)
      const base = {
        mode,
        T,
        B,
        H,
        reverse: t % 2 === 1,
        w: Float32Array.from(rand(G * H * H), (v) => v / Math.sqrt(H)),
        bias: rand(G * H),
        mask: null,
        saved: null,
      }
      const h0 = rand(B * H)
      const c0 = mode === 3 ? rand(B * H) : null
      const run = (kt: typeof jsKernels, fused: boolean) => {
        const a = { ...base, h: h0.slice(), c: c0?.slice() ?? null, y: new Float32Array(T * B * H) }
        if (fused) kt.RecurrentScan({ ...a, xp: null, input: { x, w: wIh, bias: bIh, I } })
        else {
          const xp = new Float32Array(T * B * G * H)
          kt.MatMulTransB(x, wIh, xp, T * B, I, G * H, 1, 0, bIh)
          kt.RecurrentScan({ ...a, xp })
        }
        return a
      }
      const kt = k as typeof jsKernels
      const [fused, split, js] = [run(kt, true), run(kt, false), run(jsKernels, true)]
      for (const key of ['y', 'h', 'c'] as const) {
        if (!fused[key]) continue
        expect(mismatches(fused[key]!, split[key]!)).toBe(0)
        expectClose(fused[key]!, js[key]!, H + I)
      }
      // Pinned, W_ih and b_ih are read where they lie: the same result.
      const pinned = be.pin!(bIh ? [wIh, bIh] : [wIh])
      try {
        const again = run(kt, true)
        expect(mismatches(again.y, fused.y)).toBe(0)
      } finally {
        pinned()
      }
    }
  })

  it('RecurrentScan with a pinned W_hh: its panels are packed by the first call of the scope and reused, at any length and thread count; bit-identical to unpinned calls', () => {
    const threads = be.threads
    try {
      for (const mode of [0, 2, 3] as const) {
        const G = mode <= 1 ? 1 : mode === 2 ? 3 : 4
        const [B, H] = [2, 131]
        const w = Float32Array.from(rand(G * H * H), (v) => v / Math.sqrt(H))
        const bias = rand(G * H)
        const call = (T: number) => {
          const a = {
            mode,
            T,
            B,
            H,
            reverse: false,
            xp: Float32Array.from({ length: T * B * G * H }, (_, i) => Math.sin(i)),
            w,
            bias,
            mask: null,
            h: Float32Array.from({ length: B * H }, (_, i) => Math.cos(i)),
            c: mode === 3 ? new Float32Array(B * H).fill(0.25) : null,
            y: new Float32Array(T * B * H),
            saved: null,
          }
          k.RecurrentScan(a)
          return [a.y, a.h]
        }
        // Unpinned: packed per call from T * B = 16 (T 8), rows read in place below (T 2).
        const want = [8, 2, 8].map(call)
        const release = be.pin!([w])
        try {
          const got = [8, 2, 8].map((T, i) => {
            be.setThreads(i === 2 ? 1 : threads)
            const r = call(T)
            // After the first call the kernel reads the panels, not the pinned W_hh: spoiling the copy's first
            // row (in a panel, but for the H % 4 last columns, which are read from the rows) changes nothing.
            const row0 = be.runtime.pinned.get(w)! >> 2
            if (i === 0) be.runtime.f32.fill(1e6, row0, row0 + (H & ~3))
            return r
          })
          // T 2 reads the kept panels where the unpinned call read rows: the same sums, in the same order.
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 2; j++) expect(mismatches(got[i]![j]!, want[i]![j]!), `mode ${mode} call ${i}`).toBe(0)
          expect(be.runtime.derived(w, 'scan-panels', 1)!.fresh).toBe(false)
        } finally {
          release()
        }
      }
    } finally {
      be.setThreads(threads)
    }
  })

  it('RecurrentScan on threads: from SCAN_THREADS_MIN_STEP_MACS the steps are shared, and the result is bit-identical to one thread', () => {
    const one = createWasmBackend({ relaxedSimd: be.relaxedSimd, threads: 1 })
    const run = vi.spyOn(ThreadPool.prototype, 'run')
    try {
      for (let t = 0; t < 8; t++) {
        const mode = (t % 4) as 0 | 1 | 2 | 3
        const G = mode <= 1 ? 1 : mode === 2 ? 3 : 4
        // H % 4 != 0 in half the cases: the last thread takes the remainder, one unit at a time.
        const B = int(1, 3)
        const H = Math.ceil(Math.sqrt(SCAN_THREADS_MIN_STEP_MACS / (B * G))) + (t < 4 ? 3 : 0)
        // Without and with the panels of W_hh (T * B from SCAN_PACK_MIN_PRODUCTS).
        const T = t % 3 === 0 ? 5 : 16
        const mask = t % 3 === 0 ? null : Float32Array.from(rand(T * B), (v) => (v < -0.3 ? 0 : v > 0.6 ? 0.5 : 1))
        const a = {
          mode,
          T,
          B,
          H,
          reverse: t % 4 >= 2,
          xp: rand(T * B * G * H),
          w: Float32Array.from(rand(G * H * H), (v) => v / Math.sqrt(H)),
          bias: rand(G * H),
          mask,
          h: rand(B * H),
          c: mode === 3 ? rand(B * H) : null,
          y: new Float32Array(T * B * H),
          saved: {
            hPrev: new Float32Array(T * B * H),
            cPrev: mode === 3 ? new Float32Array(T * B * H) : null,
            hh: new Float32Array(T * B * G * H),
            hNew: new Float32Array(T * B * H),
            cNew: mode === 3 ? new Float32Array(T * B * H) : null,
          },
        }
        const copy = () => ({
          ...a,
          h: a.h.slice(),
          c: a.c?.slice() ?? null,
          y: a.y.slice(),
          saved: Object.fromEntries(Object.entries(a.saved).map(([k, v]) => [k, v?.slice() ?? null])) as typeof a.saved,
        })
        const [want, got] = [copy(), copy()]
        ;(one.kernels as typeof jsKernels).RecurrentScan(want)
        k.RecurrentScan(got)
        for (const key of ['y', 'h', 'c'] as const) if (want[key]) expect(mismatches(got[key]!, want[key]!)).toBe(0)
        for (const key of Object.keys(want.saved) as (keyof typeof want.saved)[])
          if (want.saved[key]) expect(mismatches(got.saved[key]!, want.saved[key]!)).toBe(0)
      }
      expect(run.mock.calls.filter(([name]) => name === 'recurrentScan').length).toBe(be.threads > 1 ? 8 : 0)
    } finally {
      run.mockRestore()
      one.close()
    }
  })

  it('MaxPool: random windows (stride, padding, dilation, ceil-mode rows), values and argmax indices as js', () => {
    for (let t = 0; t < 40; t++) {
      const [kH, kW] = [int(1, 4), int(1, 4)]
      const [dilationH, dilationW] = [int(1, 2), int(1, 2)]
      const [padTop, padLeft] = [int(0, Math.floor(kH / 2)), int(0, Math.floor(kW / 2))]
      const [strideH, strideW] = [int(1, 3), int(1, 3)]
      const [inH, inW] = [int(dilationH * (kH - 1) + 1, 40), int(dilationW * (kW - 1) + 1, 40)]
      const planes = int(4, 20)
      const ceil = gen.random() < 0.5 ? 1 : 0
      const g = poolGeometry(
        planes,
        [inH, inW],
        [kH, kW],
        [strideH, strideW],
        [padTop, padLeft],
        [dilationH, dilationW],
        ceil,
      )
      const { outH, outW } = g
      const x = rand(planes * inH * inW)
      // Ties and NaN: the first of equal maxima wins, NaN propagates (with its index).
      for (let i = 0; i < 20; i++) x[int(0, x.length - 1)] = 0.5
      // Signed zeros (equal, so the first one scanned wins) and -inf (never taken: the index stays the first tap).
      for (let i = 0; i < 20; i++) x[int(0, x.length - 1)] = gen.random() < 0.5 ? 0 : -0
      for (let i = 0; i < 5; i++) x[int(0, x.length - 1)] = Number.NEGATIVE_INFINITY
      x[int(0, x.length - 1)] = Number.NaN
      const ny = planes * outH * outW
      const [y1, y2] = [new Float32Array(ny), new Float32Array(ny).fill(7)]
      const [i1, i2] = [new Int32Array(ny), new Int32Array(ny).fill(7)]
      jsKernels.MaxPool(x, y1, i1, g)
      k.MaxPool(x, y2, i2, g)
      expect(mismatches(y2, y1)).toBe(0)
      expect(mismatches(i2, i1)).toBe(0)
      const y3 = new Float32Array(ny)
      k.MaxPool(x, y3, null, g)
      expect(mismatches(y3, y1)).toBe(0)
    }
  })

  it('MaxPool without indices (the padded planes): the CNN geometries, a plane with NaN among others, threads', () => {
    const run = vi.spyOn(ThreadPool.prototype, 'run')
    try {
      // [planes, inH, inW, k, stride, pad, ceil, dilation]: GoogLeNet's 3x3 stride 1 and stride-2 ceil-mode pools,
      // ResNet's stem, VGG's 2x2, an odd window and a dilated one; widths that are not multiples of four.
      const cases = [
        [64, 30, 27, 3, 1, 1, 0, 1],
        [160, 29, 29, 3, 2, 0, 1, 1],
        [48, 57, 57, 3, 2, 1, 0, 1],
        [40, 26, 26, 2, 2, 0, 0, 1],
        [30, 21, 23, 5, 3, 2, 1, 1],
        [20, 25, 22, 3, 1, 2, 0, 2],
      ] as const
      let shared = 0
      for (const [planes, inH, inW, kk, s, p, ceil, d] of cases) {
        const g = poolGeometry(planes, [inH, inW], [kk, kk], [s, s], [p, p], [d, d], ceil)
        const { outH, outW } = g
        const x = rand(planes * inH * inW)
        for (let i = 0; i < 50; i++) x[int(0, x.length - 1)] = gen.random() < 0.5 ? 0 : -0
        x[int(0, inH * inW - 1) + 3 * inH * inW] = Number.NaN // plane 3 takes the select path, the others pmax
        const ny = planes * outH * outW
        if (ny * kk * kk >= POOL_THREADS_MIN_TAPS) shared++
        const [want, got] = [new Float32Array(ny), new Float32Array(ny).fill(7)]
        jsKernels.MaxPool(x, want, new Int32Array(ny), g)
        k.MaxPool(x, got, null, g)
        expect(mismatches(got, want)).toBe(0)
        // The NaN reached an output (so plane 3 did take the NaN path).
        expect(want.subarray(3 * outH * outW, 4 * outH * outW).some(Number.isNaN)).toBe(true)
      }
      // The calls with enough taps share their planes between the threads (the first three here).
      expect(shared).toBe(3)
      expect(run.mock.calls.filter(([name]) => name === 'maxPool2dPadded').length).toBe(be.threads > 1 ? shared : 0)
    } finally {
      run.mockRestore()
    }
  })

  it('float64 and tiny calls run on the js kernels (bit-identical results)', () => {
    const a = Float64Array.from(rand(6 * 9))
    const b = Float64Array.from(rand(9 * 5))
    const [o1, o2] = [new Float64Array(30), new Float64Array(30)]
    jsKernels.MatMul(a, b, o1, 6, 9, 5, 1, 0, 0)
    k.MatMul(a, b, o2, 6, 9, 5, 1, 0, 0)
    expect(o2).toEqual(o1)
  })
})

describe('backend selection', () => {
  it('ops give the same values on the wasm and js backends, non-contiguous and broadcast operands included', () => {
    const prev = getBackend()
    try {
      const a = tensor(rand(2 * 3 * 40 * 50), { shape: [2, 3, 40, 50] })
      const w = tensor(rand(60 * 50), { shape: [60, 50] })
      const b = tensor(rand(50 * 30), { shape: [50, 30] })
      const run = () => [ops.matmul(a, w.transpose(0, 1)), ops.matmul(a.transpose(-1, -2).transpose(-1, -2), b)]
      setBackend(backends[0]![1])
      const fast = run()
      setBackend(jsBackend)
      const ref = run()
      for (let i = 0; i < ref.length; i++) expectClose(fast[i]!.data as Float32Array, ref[i]!.data as Float32Array, 50)
    } finally {
      setBackend(prev)
    }
  })

  it('falls back, with one warning line and the right result: workers that do not start -> one thread; memory exhausted -> js', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const [m, kk, n] = [300, 300, 300]
      const a = rand(m * kk)
      const b = rand(kk * n)
      const want = new Float32Array(m * n)
      jsKernels.MatMul(a, b, want, m, kk, n, 1, 0, 0)

      const slow = createWasmBackend({ threads: 2, startTimeoutMs: 0 })
      const got = new Float32Array(m * n)
      ;(slow.kernels as typeof jsKernels).MatMul(a, b, got, m, kk, n, 1, 0, 0)
      expectClose(got, want, kk)
      expect(slow.threads).toBe(1)
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /^refnets: wasm backend: only \d of 1 worker threads started within 0 ms; running on one thread$/,
      )
      slow.close()

      const full = createWasmBackend({ threads: 1 })
      full.runtime.reserve = () => {
        throw new WasmMemoryError(
          'wasm backend: a kernel needs 4294967296 bytes of memory, more than the 2 GiB maximum',
        )
      }
      const got2 = new Float32Array(m * n)
      ;(full.kernels as typeof jsKernels).MatMul(a, b, got2, m, kk, n, 1, 0, 0)
      expect(got2).toEqual(want)
      expect(warn).toHaveBeenCalledTimes(2)
      expect(String(warn.mock.calls[1]![0])).toMatch(/more than the 2 GiB maximum; using the js kernel$/)
    } finally {
      warn.mockRestore()
    }
  })

  it('REFNETS_THREADS sets the default thread count; a value that is not a positive integer warns and is ignored', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const saved = process.env.REFNETS_THREADS
    try {
      process.env.REFNETS_THREADS = '1'
      expect(defaultThreads()).toBe(1)
      process.env.REFNETS_THREADS = '3'
      expect(defaultThreads()).toBe(3)
      delete process.env.REFNETS_THREADS
      expect(defaultThreads()).toBe(availableParallelism())
      process.env.REFNETS_THREADS = 'two'
      expect(defaultThreads()).toBe(availableParallelism())
      expect(String(warn.mock.calls.at(-1)![0])).toBe(
        'refnets: REFNETS_THREADS=two is not a positive integer; using the available parallelism',
      )
    } finally {
      if (saved === undefined) delete process.env.REFNETS_THREADS
      else process.env.REFNETS_THREADS = saved
      warn.mockRestore()
    }
  })

  it('withPinned runs its function on every backend, pins only on one that can, and releases on a throw or when its promise settles', async () => {
    const prev = getBackend()
    try {
      const w = rand(64)
      setBackend(jsBackend)
      expect(withPinned([w], () => 7)).toBe(7)
      const be = backends[0]![1]
      setBackend(be)
      const base = be.runtime.base
      expect(withPinned([w], () => be.runtime.pinned.has(w))).toBe(true)
      expect(() =>
        withPinned([w], () => {
          throw new Error('inside')
        }),
      ).toThrow('inside')
      expect([be.runtime.base, be.runtime.pinned.size]).toEqual([base, 0])
      // An async scope holds the pin until its promise settles, resolved or rejected.
      let resolve = () => {}
      const done = withPinned([w], () => new Promise<void>((r) => (resolve = r)))
      expect(be.runtime.pinned.has(w)).toBe(true)
      resolve()
      await done
      expect([be.runtime.base, be.runtime.pinned.size]).toEqual([base, 0])
      await expect(withPinned([w], () => Promise.reject(new Error('later')))).rejects.toThrow('later')
      expect([be.runtime.base, be.runtime.pinned.size]).toEqual([base, 0])
    } finally {
      setBackend(prev)
    }
  })

  it('setThreads rejects a count that is not a positive integer', () => {
    expect(() => backends[0]![1].setThreads(0)).toThrow(/positive integer/)
    expect(() => backends[0]![1].setThreads(1.5)).toThrow(/positive integer/)
  })
})

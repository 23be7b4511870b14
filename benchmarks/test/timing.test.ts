/** The harness's timer: short calls are warmed up past the JIT's tiering before any sample is taken. */
import { expect, it } from 'vitest'
import { type RunOptions, STEADY_WARMUP_MIN_MS, WARM_CALIBRATION_MS, time } from '../src/run.js'

const opts: RunOptions = {
  size: 'small',
  samples: 20,
  timeMs: 1000,
  maxRunMs: 3000,
  slowLimitMs: 0,
  providers: [],
  memory: [],
  seed: 0,
}

const spin = (ms: number) => {
  const t0 = performance.now()
  while (performance.now() - t0 < ms);
}

it('a call that is slow for its first 60 ms (as before optimised code is in place) is timed at its warm speed', async () => {
  // 1,500 calls of 40 us, then calls of ~0: a 20 ms warm-up would leave about 1,000 slow calls for the samples.
  let calls = 0
  const fn = () => {
    if (++calls <= 1500) spin(0.04)
  }
  const t = await time(fn, opts)
  expect(calls).toBeGreaterThan(1500)
  expect(t.medianMs).toBeLessThan(0.01)
})

it('the warm-up stays within half the budget of a case', async () => {
  let calls = 0
  const t0 = performance.now()
  await time(() => calls++, { ...opts, timeMs: 40 })
  expect(performance.now() - t0).toBeLessThan(500)
  expect(calls).toBeGreaterThan(0)
})

it('a cold first call (compiling, copying weights) does not cut the samples of a fast call', async () => {
  // The first call takes 60 ms, the others 1 ms: calibrated on the first, a 1,000 ms budget would hold 16 samples.
  let calls = 0
  const fn = () => spin(++calls === 1 ? 60 : 1)
  const t = await time(fn, opts)
  expect(60).toBeLessThan(WARM_CALIBRATION_MS)
  expect(t.samples).toBe(opts.samples)
  expect(t.medianMs).toBeLessThan(5)
})

it('a slow first call is not repeated just to calibrate', async () => {
  let calls = 0
  const t = await time(() => spin(++calls === 1 ? WARM_CALIBRATION_MS + 20 : 1), { ...opts, timeMs: 100 })
  // Calibrated on the 120 ms first call: 100 / 120 -> 2 samples, the minimum (a repeat would have found 1 ms).
  expect(t.samples).toBe(2)
})

it('an engine whose first run is over maxRunMs is timed by one more run, not by its cold first run', async () => {
  // A large model's first run packs weights and compiles: 80 ms here, 10 ms warm, with maxRunMs 50.
  let calls = 0
  const t = await time(() => spin(++calls === 1 ? 80 : 10), { ...opts, maxRunMs: 50 })
  expect(calls).toBe(2)
  expect(t.samples).toBe(1)
  expect(t.medianMs).toBeLessThan(40)
})

it("a caller's slow first run (the parity run) is followed by one warm run", async () => {
  let calls = 0
  const t = await time(() => spin(++calls === 1 ? 10 : 20), { ...opts, maxRunMs: 50 }, 90)
  expect(calls).toBe(1)
  expect(t.samples).toBe(1)
  expect(t.medianMs).toBeGreaterThanOrEqual(10)
  expect(t.medianMs).toBeLessThan(40)
})

it('a call of a few milliseconds that is slow for its first few hundred calls (pages faulted in) is timed once steady', async () => {
  // 70 calls of 3 ms (as an LSTM layer's first calls on a fresh machine), then 1.5 ms: the 10 warm-up calls of
  // before left every sample at the slow speed.
  let calls = 0
  const fn = () => spin(++calls <= 70 ? 3 : 1.5)
  const t = await time(fn, { ...opts, timeMs: 1200 })
  expect(70 * 3).toBeLessThan(STEADY_WARMUP_MIN_MS)
  expect(t.samples).toBe(opts.samples)
  expect(t.maxMs).toBeLessThan(2.5)
})

it('the warm-up of a call of a few milliseconds stops once its time is steady, and counts against the budget', async () => {
  let calls = 0
  const t0 = performance.now()
  const t = await time(() => spin(++calls && 2), { ...opts, samples: 1000, timeMs: 1000 })
  const ms = performance.now() - t0
  // Steady from the start: the shortest warm-up (250 ms), then samples for what is left of the 1,000 ms.
  expect(calls).toBeLessThan(520)
  expect(t.samples).toBeLessThan(420)
  expect(t.samples).toBeGreaterThan(250)
  expect(ms).toBeLessThan(1400)
})

/** The harness's timer: short calls are warmed up past the JIT's tiering before any sample is taken. */
import { expect, it } from 'vitest'
import { type RunOptions, time } from '../src/run.js'

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

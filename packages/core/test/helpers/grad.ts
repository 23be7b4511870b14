/** Assert a gradcheck result input by input, so a small input's wrong gradient cannot hide in the combined error. */
import { expect } from 'vitest'
import type { GradcheckResult } from '../../src/gradcheck.js'

export function expectGradOk(r: GradcheckResult, tol = 1e-7, names?: string[]): void {
  expect(r.perInput.length, 'every checked input has an error').toBe(r.wrt.length)
  r.perInput.forEach((e, i) => {
    expect(e, `gradient of ${names?.[i] ?? `input ${r.wrt[i]}`}`).toBeLessThan(tol)
  })
  expect(r.relError).toBeLessThan(tol)
  expect(r.ok).toBe(true)
}

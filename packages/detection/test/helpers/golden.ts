/** The torchvision fixture (scripts/gen_fixtures.py) and helpers to compare with it. */
import { readFileSync } from 'node:fs'
import { type NestedArray, type Tensor, tensor } from '@refnets/core'
import { expect } from 'vitest'

export const fx: any = JSON.parse(readFileSync(new URL('../fixtures/ops.json', import.meta.url), 'utf8'))

export const f64 = (v: NestedArray): Tensor => tensor(v, { dtype: 'float64' })

/** Max |a - b| over two equally shaped value lists (NaN equals NaN). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)) continue
    m = Math.max(m, Math.abs(a[i]! - b[i]!))
    if (Number.isNaN(a[i]!) || Number.isNaN(b[i]!)) return Infinity
  }
  return m
}

export function expectClose(actual: Tensor, expected: NestedArray, tol = 1e-10): void {
  const e = f64(expected)
  expect(actual.shape).toEqual(e.shape)
  expect(maxDiff(actual.data, e.data)).toBeLessThan(tol)
}

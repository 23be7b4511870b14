/** The PyTorch golden fixture (scripts/gen_fixtures.py) and helpers to read and compare it. */
import { readFileSync } from 'node:fs'
import { Tensor } from '@refnets/core'
import { expect } from 'vitest'

export interface T {
  shape: number[]
  dtype: 'bool' | 'float64'
  data: (number | boolean | string)[]
}
export interface Case {
  name: string
  config: Record<string, any>
  params: Record<string, T>
  inputs: Record<string, T>
  masks: Record<string, T>
  R: T[]
  outputs: T[]
  grads: Record<string, T>
}

export const fixture = JSON.parse(readFileSync(new URL('../fixtures/transformer.json', import.meta.url), 'utf8')) as {
  cases: Case[]
}

export const toTensor = (t: T): Tensor =>
  t.dtype === 'bool'
    ? new Tensor(Uint8Array.from(t.data as boolean[], Number), t.shape)
    : new Tensor(Float64Array.from(t.data, Number), t.shape)

export const maxAbsDiff = (a: Tensor, b: T): number => {
  expect(a.shape).toEqual(b.shape)
  let m = 0
  const d = a.data
  b.data.forEach((v, i) => {
    m = Math.max(m, Math.abs(Number(d[i]) - Number(v)))
  })
  return m
}

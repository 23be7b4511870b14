/**
 * concat against indexing by hand, for runs long enough to be block copies and short enough to be element loops,
 * with several rows before the axis and parts of different sizes along it.
 */
import { describe, expect, it } from 'vitest'
import { concat, randn } from '../src/ops/index.js'
import type { Tensor } from '../src/tensor.js'

/** out[i, j, k] of concatenating 3-D parts along `axis`, by hand. */
function byHand(parts: Tensor[], axis: number): number[] {
  const shape = [...parts[0]!.shape]
  shape[axis] = parts.reduce((n, p) => n + p.shape[axis]!, 0)
  const out: number[] = []
  for (let i = 0; i < shape[0]!; i++)
    for (let j = 0; j < shape[1]!; j++)
      for (let k = 0; k < shape[2]!; k++) {
        const idx = [i, j, k]
        let p = 0
        while (idx[axis]! >= parts[p]!.shape[axis]!) idx[axis]! -= parts[p++]!.shape[axis]!
        const [, b, c] = parts[p]!.shape as [number, number, number]
        out.push(parts[p]!.data[(idx[0]! * b + idx[1]!) * c + idx[2]!]!)
      }
  return out
}

describe.each([
  {
    name: 'long runs (block copies)',
    shapes: [
      [3, 2, 70],
      [3, 5, 70],
      [3, 1, 70],
    ],
    axis: 1,
  },
  {
    name: 'short runs (element loops)',
    shapes: [
      [4, 2, 3],
      [4, 5, 3],
    ],
    axis: 1,
  },
  {
    name: "mixed: one part's run long, one short",
    shapes: [
      [2, 3, 100],
      [2, 3, 7],
    ],
    axis: 2,
  },
  {
    name: 'along the first axis',
    shapes: [
      [2, 4, 30],
      [1, 4, 30],
    ],
    axis: 0,
  },
])('concat, $name', ({ shapes, axis }) => {
  it('places every element where indexing by hand does', () => {
    const parts = shapes.map((s) => randn(s))
    const y = concat(parts, axis)
    expect([...y.contiguous().data]).toEqual(byHand(parts, axis))
  })
})

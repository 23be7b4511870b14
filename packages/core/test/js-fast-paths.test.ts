/** The js kernels' fast paths (row broadcast, leading-axis sums, row-wise strided copy) give the general results. */
import { describe, expect, it } from 'vitest'
import { arange } from '../src/ops/index.js'
import { tensor } from '../src/tensor.js'

describe('js kernel fast paths', () => {
  const x = arange(0, 12).to('float32').reshape([2, 3, 2])

  it('binary ops with a row repeated along leading dims, on either side', () => {
    const row = tensor([10, 20])
    expect(x.add(row).toArray()).toEqual([
      [
        [10, 21],
        [12, 23],
        [14, 25],
      ],
      [
        [16, 27],
        [18, 29],
        [20, 31],
      ],
    ])
    expect(row.sub(x).toArray()).toEqual([
      [
        [10, 19],
        [8, 17],
        [6, 15],
      ],
      [
        [4, 13],
        [2, 11],
        [0, 9],
      ],
    ])
    const block = tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ])
    expect(x.mul(block).toArray()).toEqual([
      [
        [0, 2],
        [6, 12],
        [20, 30],
      ],
      [
        [6, 14],
        [24, 36],
        [50, 66],
      ],
    ])
    // A column (not a repeated row) still takes the general path.
    expect(
      tensor([[1], [2]])
        .add(
          tensor([
            [0, 1, 2],
            [3, 4, 5],
          ]),
        )
        .toArray(),
    ).toEqual([
      [1, 2, 3],
      [5, 6, 7],
    ])
  })

  it('sums and maxima over leading axes', () => {
    expect(x.sum(0).toArray()).toEqual([
      [6, 8],
      [10, 12],
      [14, 16],
    ])
    expect(x.sum([0, 1]).toArray()).toEqual([30, 36])
    expect(x.max(0, true).toArray()).toEqual([
      [
        [6, 7],
        [8, 9],
        [10, 11],
      ],
    ])
    expect(x.sum([1]).toArray()).toEqual([
      [6, 9],
      [24, 27],
    ])
  })

  it('strided copies of transposed and sliced views', () => {
    expect(x.permute(2, 0, 1).contiguous().toArray()).toEqual([
      [
        [0, 2, 4],
        [6, 8, 10],
      ],
      [
        [1, 3, 5],
        [7, 9, 11],
      ],
    ])
    expect(x.slice(1, 0, 3, 2).contiguous().toArray()).toEqual([
      [
        [0, 1],
        [4, 5],
      ],
      [
        [6, 7],
        [10, 11],
      ],
    ])
    expect(arange(0, 6).to('float32').reshape([2, 3]).T.contiguous().toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ])
  })
})

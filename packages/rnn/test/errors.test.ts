/**
 * Bad input gets a typed error naming what was expected and what came, before any computation
 * (so nothing changes): wrong input size or rank, wrong hidden/cell-state shapes, and sequence
 * lengths that are zero, longer than the sequence, of the wrong count or not integers.
 */
import { ArgumentError, ShapeError, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/index.js'

describe('recurrent layers reject bad input with typed errors', () => {
  const lstm = new LSTM(4, 3, { numLayers: 2, bidirectional: true })
  const x = randn([5, 2, 4])

  it('wrong input size or rank', () => {
    expect(() => lstm.call(randn([5, 2, 7]))).toThrow(ShapeError)
    expect(() => lstm.call(randn([5, 2, 7]))).toThrow(/expected input size 4 \(last dim\), got 7/)
    expect(() => lstm.call(randn([5, 2, 4, 1]))).toThrow(/expected input of rank 3/)
    expect(() => new GRU(4, 3).call(randn([0, 2, 4]))).toThrow(/no time steps/)
  })

  it('wrong hidden or cell state shape', () => {
    expect(() => lstm.call(x, randn([2, 2, 3]))).toThrow(ShapeError)
    expect(() => lstm.call(x, randn([2, 2, 3]))).toThrow(/expected h0 of shape \[4, 2, 3\].*got \[2, 2, 3\]/)
    expect(() => lstm.call(x, randn([4, 2, 3]), randn([4, 3, 3]))).toThrow(/expected c0 of shape \[4, 2, 3\]/)
    expect(() => new RNN(4, 3).call(x, randn([1, 2, 5]))).toThrow(/expected h0 of shape \[1, 2, 3\]/)
  })

  it('sequence lengths: zero, longer than the sequence, wrong count, not integers', () => {
    const gru = new GRU(4, 3, { batchFirst: true })
    const xb = randn([2, 5, 4])
    expect(() => gru.call(xb, null, [5, 0])).toThrow(ArgumentError)
    expect(() => gru.call(xb, null, [5, 0])).toThrow(/sequence length 1 must be an integer in \[1, 5\].*got 0/)
    expect(() => gru.call(xb, null, [6, 2])).toThrow(/in \[1, 5\].*got 6/)
    expect(() => gru.call(xb, null, [5])).toThrow(/expected 2 sequence lengths.*got 1/)
    expect(() => gru.call(xb, null, [2.5, 1])).toThrow(ArgumentError)
    expect(() => gru.call(xb, null, tensor([[5, 5]], { dtype: 'int32' }))).toThrow(/must be 1-D/)
    // Unsorted lengths are accepted (PyTorch's enforce_sorted=False).
    expect(gru.call(xb, null, [2, 5])[0]!.shape).toEqual([2, 5, 3])
  })

  it('bad constructor arguments', () => {
    expect(() => new LSTM(0, 3)).toThrow(ArgumentError)
    expect(() => new LSTM(4, 3, { dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/)
    expect(() => new RNN(4, 3, { nonlinearity: 'sigmoid' as never })).toThrow(/nonlinearity/)
    expect(() => new GRU(4, 3, { numLayers: 0 })).toThrow(/numLayers/)
  })

  it('a failed call leaves the parameters untouched', () => {
    const before = lstm.parameters().map((p) => Array.from(p.data))
    expect(() => lstm.call(randn([5, 2, 7]))).toThrow()
    expect(lstm.parameters().map((p) => Array.from(p.data))).toEqual(before)
  })
})

describe('cells reject bad input', () => {
  it('wrong input size and state shapes', () => {
    expect(() => new RNNCell(4, 3).call(randn([2, 5]))).toThrow(/expected input size 4, got 5/)
    expect(() => new GRUCell(4, 3).call(randn([2, 4]), randn([3, 3]))).toThrow(
      /expected hidden state h of shape \[2, 3\], got \[3, 3\]/,
    )
    expect(() => new LSTMCell(4, 3).call(randn([2, 4]), randn([2, 3]), randn([2, 4]))).toThrow(
      /expected cell state c of shape \[2, 3\]/,
    )
    expect(() => new LSTMCell(4, 3).call(randn([2, 2, 4]))).toThrow(ShapeError)
  })
})

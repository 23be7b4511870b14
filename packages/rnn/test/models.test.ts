/**
 * The language models: the scratch-style CellLM (a time loop over a cell) computes exactly what
 * the layer-style RnnLM computes with the same weights, for RNN, GRU and LSTM, and a few steps of
 * training lower the loss of both.
 */
import { Generator, Tensor, crossEntropy, manualSeed, noGrad, optim, randint } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { CellLM, RnnLM } from '../src/index.js'

describe.each(['rnn', 'gru', 'lstm'] as const)('%s language model', (cell) => {
  it('scratch-style (cell loop) equals layer-style (one layer) with the same weights', () => {
    manualSeed(1)
    const layer = new RnnLM(10, 6, { cell, embedDim: 4, dtype: 'float64' })
    const scratch = new CellLM(10, 6, { cell, embedDim: 4, dtype: 'float64' })
    const sd = layer.stateDict()
    scratch.loadStateDict(
      Object.fromEntries(Object.entries(sd).map(([k, v]) => [k.replace('rnn.', 'cell.').replace(/_l0$/, ''), v])),
    )
    const ids = randint(0, 10, [3, 7], { generator: new Generator(2) })
    const a = noGrad(() => layer.call(ids))
    const b = noGrad(() => scratch.call(ids))
    expect(b.length).toBe(a.length)
    a.forEach((t, i) => {
      expect(b[i]!.shape).toEqual(t.shape)
      const x = t.data
      const y = b[i]!.data
      for (let k = 0; k < x.length; k++) expect(Math.abs(x[k]! - y[k]!)).toBeLessThan(1e-12)
    })
  })

  it('training lowers the next-token loss', () => {
    manualSeed(2)
    const m = new RnnLM(8, 16, { cell, embedDim: 8 })
    // A periodic sequence (0 1 2 ... 7 0 1 ...) is easy to predict.
    const X = new Tensor(
      Int32Array.from({ length: 48 }, (_, i) => (Math.floor(i / 12) + i) % 8),
      [4, 12],
    )
    const Y = new Tensor(
      Int32Array.from({ length: 48 }, (_, i) => (Math.floor(i / 12) + i + 1) % 8),
      [4, 12],
    )
    const opt = new optim.Adam(m.parameters(), { lr: 0.05 })
    let first = 0
    let last = 0
    for (let it = 0; it < 30; it++) {
      opt.zeroGrad()
      const loss = crossEntropy(m.call(X)[0]!.reshape(48, 8), Y.reshape(48))
      loss.backward()
      opt.step()
      if (it === 0) first = loss.item()
      last = loss.item()
    }
    expect(last).toBeLessThan(first * 0.5)
  })
})

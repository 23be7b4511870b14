/**
 * Inference (no gradient to compute) runs each layer and direction as one kernel call that projects the input
 * too (scan.ts recurrentScanInference); training runs the projection as a GEMM op, then the time loop op. Both
 * must give the same outputs and final states, bit for bit: the same GEMM kernel, the same time loop.
 */
import { Generator, type Tensor, countMacs, manualSeed, noGrad, randn } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { GRU, LSTM, RNN } from '../src/index.js'

const variants = [
  { numLayers: 1, bidirectional: false, batchFirst: false },
  { numLayers: 2, bidirectional: true, batchFirst: true },
]

describe.each(['rnn', 'gru', 'lstm'] as const)('%s', (kind) => {
  it.each(variants)('inference equals the training path bit for bit, with states and lengths: %o', (v) => {
    for (const dtype of ['float32', 'float64'] as const) {
      manualSeed(3)
      // float32 at a size the wasm backend runs (steps of >= 4,096 multiply-adds, a projection on the pool's threads).
      const [I, H, T, B] = dtype === 'float32' ? [96, 80, 20, 3] : [5, 6, 4, 3]
      const layer =
        kind === 'rnn'
          ? new RNN(I, H, { ...v, dtype })
          : kind === 'gru'
            ? new GRU(I, H, { ...v, dtype })
            : new LSTM(I, H, { ...v, dtype })
      const g = new Generator(4)
      const D = v.bidirectional ? 2 : 1
      const x = randn(v.batchFirst ? [B, T, I] : [T, B, I], { generator: g, dtype })
      const h0 = randn([v.numLayers * D, B, H], { generator: g, dtype })
      const c0 = randn([v.numLayers * D, B, H], { generator: g, dtype })
      const lengths = [T, T - 1, 2]
      const call = (): Tensor[] =>
        kind === 'lstm' ? layer.call(x, h0, c0, lengths) : (layer as RNN).call(x, h0, lengths)
      const training = call()
      expect(training[0]!.requiresGrad).toBe(true)
      const inference = noGrad(call)
      expect(inference[0]!.requiresGrad).toBe(false)
      expect(inference.length).toBe(training.length)
      inference.forEach((t, i) => {
        expect(t.shape).toEqual(training[i]!.shape)
        expect(Array.from(t.data)).toEqual(Array.from(training[i]!.data))
      })
    }
  })
})

it('countMacs counts both paths alike: the projection and h W_hh^T at every step of every layer and direction', () => {
  manualSeed(5)
  const [I, H, T, B] = [96, 80, 20, 3]
  const layer = new LSTM(I, H, { numLayers: 2, bidirectional: true })
  const x = randn([T, B, I])
  // Layer 0 projects I inputs, layer 1 the 2H outputs of both directions; each of 2 directions, 4 gate blocks.
  const want = 2 * T * B * 4 * H * (I + H) + 2 * T * B * 4 * H * (2 * H + H)
  expect(noGrad(() => countMacs(() => layer.call(x)))).toBe(want)
  expect(countMacs(() => layer.call(x))).toBe(want)
})

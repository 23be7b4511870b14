/**
 * The exported graphs run again through core's ONNX importer (`loadOnnx`): MultiheadAttention
 * (also as one opset-23 Attention node), the encoder and decoder layers and the small BERT (Gather,
 * LayerNormalization, Gelu, MatMul, Softmax, Where, Equal) give the same outputs as the modules
 * that exported them.
 */
import { type Module, type Tensor, exportOnnx, loadOnnx, noGrad } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { specs } from '../src/index.js'

const maxDiff = (a: Tensor, b: Tensor) => {
  expect(a.shape).toEqual(b.shape)
  let m = 0
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(Number(a.data[i]) - Number(b.data[i])))
  return m
}

describe.each([
  'mha-cross-kdim-masks',
  'mha-cross-onnx-attention-op',
  'transformer-encoder-layer',
  'transformer-decoder-layer',
  'bert-small',
])('%s', (name) => {
  it('round-trips through exportOnnx and loadOnnx', () => {
    const spec = specs.find((s) => s.name === name)!
    const model = (spec.build(0) as Module<Tensor[], Tensor | Tensor[]>).eval()
    const inputs = spec.inputs('small', 3)
    const bytes = exportOnnx(model, inputs)
    const imported = loadOnnx(bytes).eval()
    const mine = noGrad(() => model.call(...inputs))
    const theirs = noGrad(() => imported.call(...inputs))
    const a = Array.isArray(mine) ? mine : [mine]
    expect(theirs.length).toBe(a.length)
    a.forEach((t, i) => {
      expect(maxDiff(theirs[i]!, t)).toBeLessThan(1e-4)
    })
  })
})

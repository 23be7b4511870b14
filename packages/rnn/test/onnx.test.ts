/**
 * ONNX in both directions: every recurrent spec exports as native RNN/GRU/LSTM nodes (gates
 * reordered to ONNX's i, o, f, c and z, r, h; GRU linear_before_reset = 1; bidirectional outputs
 * reshaped to PyTorch's layout; sequence_lens), and core's loadOnnx, which imports those nodes,
 * runs the export back to the same outputs and final states. ONNX Runtime parity is in
 * specs.test.ts; the ONNX project's own RNN/GRU/LSTM node tests run in core's conformance test.
 */
import { type ModelSpec, type Tensor, exportOnnx, loadOnnx, noGrad, onnx } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { specs } from '../src/index.js'

const recurrent = specs.filter((s) => s.family === 'layer' && !s.name.endsWith('-cell'))

const maxDiff = (a: Tensor, b: Tensor) => {
  expect(b.shape).toEqual(a.shape)
  let m = 0
  const x = a.data
  const y = b.data
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!))
  return m
}

describe.each(recurrent.map((s) => [s.name, s] as [string, ModelSpec]))('%s', (_n, spec) => {
  it('exports to ONNX and loadOnnx runs it back to the same outputs and states', () => {
    const m = spec.build(0).eval()
    const x = spec.inputs('small', 3)
    const ours = noGrad(() => m.call(...x)) as Tensor[]
    const bytes = exportOnnx(m, x)
    const model = onnx.decodeModel(bytes)
    // Parameters keep their PyTorch names as initializers.
    expect(model.graph!.initializer!.map((t) => t.name)).toContain('weight_ih_l0')
    if (spec.name.includes('lengths'))
      expect(model.graph!.node!.some((n) => ['RNN', 'GRU', 'LSTM'].includes(n.opType!) && n.input![4])).toBe(true)
    if (spec.name.startsWith('gru')) {
      const gru = model.graph!.node!.find((n) => n.opType === 'GRU')!
      expect(gru.attribute!.find((a) => a.name === 'linear_before_reset')!.i).toBe(1)
    }
    const back = noGrad(() =>
      loadOnnx(bytes)
        .eval()
        .call(...x),
    )
    expect(back.length).toBe(ours.length)
    ours.forEach((o, i) => {
      expect(maxDiff(o, back[i]!), `output ${i}`).toBeLessThan(1e-5)
    })
  })
})

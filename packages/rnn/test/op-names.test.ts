/**
 * Op keys are ONNX op types (docs/architecture.md): the ops this package defines, and the recurrent
 * layers' multi-output ops, checked as core's are (core/test/op-names.test.ts).
 */
import { type Tracer, definedOps, randn, withTracer } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { keysOffOnnx } from '../../core/test/helpers/onnx-operators.js'

/** The package's ops with no ONNX operator of their own, and why. */
const OPS_WITHOUT_ONNX_TYPE: Record<string, string> = {
  // The element-wise part of one cell step fused into one op (exports as the element-wise nodes).
  LSTMPointwise: 'fused LSTM gates and state update',
  GRUPointwise: 'fused GRU gates and state update',
  // The whole time loop of one layer and direction in one op; the layer exports as ONNX RNN/GRU/LSTM.
  RecurrentScan: 'fused recurrence over time',
}

describe('op keys', () => {
  it('every op the package defines is keyed by its ONNX op type, or is listed with the reason it has none', async () => {
    const core = new Set(definedOps())
    await import('../src/index.js')
    const own = definedOps().filter((op) => !core.has(op))
    expect(own.map((op) => op.name)).toEqual(expect.arrayContaining(Object.keys(OPS_WITHOUT_ONNX_TYPE)))
    expect(keysOffOnnx(own, OPS_WITHOUT_ONNX_TYPE)).toEqual([])
  })

  it('the recurrent layers are recorded under ONNX RNN, GRU and LSTM', async () => {
    const { GRU, LSTM, RNN } = await import('../src/index.js')
    const x = randn([4, 2, 3])
    const keys = (layer: { call(x: unknown): unknown }) => {
      const seen: string[] = []
      const tracer: Tracer = { record: (op) => seen.push(op.name) }
      withTracer(tracer, () => layer.call(x))
      return seen
    }
    expect(keys(new RNN(3, 5))).toEqual(['RNN'])
    expect(keys(new RNN(3, 5, { nonlinearity: 'relu' }))).toEqual(['RNN'])
    expect(keys(new GRU(3, 5))).toEqual(['GRU'])
    expect(keys(new LSTM(3, 5))).toEqual(['LSTM'])
  })
})

/**
 * The registry-driven test for @refnets/core (it lives here because core cannot depend on ort): every spec at its small size has the declared output
 * shape, trains (every parameter gets a finite gradient) and matches ONNX Runtime on the CPU.
 */
import { crossCheck } from '../src/index.js'
import { describe, expect, it } from 'vitest'
import { type Tensor, specs } from '@refnets/core'

describe.each(specs)('$name', (spec) => {
  it('has the declared output shape and a finite gradient for the input and every parameter', () => {
    const m = spec.build(0)
    const x = spec.inputs('small', 1).map((t) => t.requireGrad())
    const y = m.call(...x) as Tensor
    expect(y.shape).toEqual(spec.outputShape!('small'))
    y.square().sum().backward()
    for (const [name, p] of [...x.map((t, i) => [`input ${i}`, t] as const), ...m.namedParameters()]) {
      expect(p.grad, name).toBeTruthy()
      expect(p.grad!.shape, name).toEqual(p.shape)
      expect([...(p.grad!.data as Float32Array)].every(Number.isFinite), name).toBe(true)
    }
  })

  it('matches ONNX Runtime on the CPU', async () => {
    const m = spec.build(0)
    const r = await crossCheck(m, spec.inputs('small', 1), {
      providers: ['cpu'],
      ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
    })
    expect(r.providers[0]!.status, r.providers[0]!.reason).toBe('pass')
  })
})

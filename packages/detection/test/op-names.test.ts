/**
 * Op keys are ONNX op types (docs/architecture.md): the ops this package defines, checked as core's
 * are (core/test/op-names.test.ts). Every detection op has an ONNX type, or is the gradient of one.
 */
import { definedOps } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { keysOffOnnx } from '../../core/test/helpers/onnx-operators.js'

describe('op keys', () => {
  it('every op the package defines is keyed by its ONNX op type', async () => {
    const core = new Set(definedOps())
    await import('../src/index.js')
    const own = definedOps().filter((op) => !core.has(op))
    expect(own.map((op) => op.name)).toEqual(expect.arrayContaining(['RoiAlign', 'MaxRoiPool', 'NonMaxSuppression']))
    expect(keysOffOnnx(own, {})).toEqual([])
  })
})

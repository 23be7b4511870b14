/**
 * Op keys are ONNX op types (docs/architecture.md): the ops this package defines, checked as core's
 * are (core/test/op-names.test.ts).
 */
import { definedOps } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { keysOffOnnx } from '../../core/test/helpers/onnx-operators.js'

describe('op keys', () => {
  it('every op the package defines is keyed by its ONNX op type (scaled dot-product attention: Attention)', async () => {
    const core = new Set(definedOps())
    const { ScaledDotProductAttentionOp } = await import('../src/index.js')
    const own = definedOps().filter((op) => !core.has(op))
    expect(own).toContain(ScaledDotProductAttentionOp)
    expect(ScaledDotProductAttentionOp.name).toBe('Attention')
    expect(keysOffOnnx(own, {})).toEqual([])
  })
})

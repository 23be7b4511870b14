/**
 * Op keys are ONNX op types (docs/architecture.md): the ops this package defines, checked as core's
 * are (core/test/op-names.test.ts); the ops of its dependencies are checked by their own tests.
 */
import { definedOps } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { keysOffOnnx } from '../../core/test/helpers/onnx-operators.js'

describe('op keys', () => {
  it('every op the package defines is keyed by its ONNX op type (scaled dot-product attention: Attention)', async () => {
    // The ops of the packages this one depends on (core, and rnn for translation) are theirs to check.
    await import('@refnets/rnn')
    const deps = new Set(definedOps())
    const { ScaledDotProductAttentionOp } = await import('../src/index.js')
    const own = definedOps().filter((op) => !deps.has(op))
    expect(own).toContain(ScaledDotProductAttentionOp)
    expect(ScaledDotProductAttentionOp.name).toBe('Attention')
    expect(keysOffOnnx(own, {})).toEqual([])
  })
})

/**
 * Scaled dot-product attention as one ONNX `Attention` node (opset 23,
 * https://onnx.ai/onnx/operators/onnx__Attention.html): softmax(Q K^T * scale + bias) V over
 * (B, H, L, D) queries and (B, H, S, D) keys and values with an additive float bias broadcasting to
 * (B, H, L, S). Computed here from refnets ops (autograd flows through them); the export writes the
 * single standard operator, so ONNX Runtime checks our attention against its own kernel.
 */
import { type Tensor, apply, defineOp, softmax } from '@refnets/core'

export const ScaledDotProductAttentionOp = defineOp<{ scale: number }>({
  name: 'Attention',
  forward: ([q, k, v, bias], { scale }) => {
    // (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S) -> softmax -> @ (B, H, S, D) -> (B, H, L, D)
    let scores = q!.matmul(k!.transpose(-2, -1)).mul(scale)
    if (bias) scores = scores.add(bias)
    return softmax(scores, -1).matmul(v!)
  },
  onnx: (ctx, [q, k, v, bias], { attrs }) => {
    ctx.requireOpset(23)
    return ctx.node('Attention', bias ? [q!, k!, v!, bias] : [q!, k!, v!], { scale: attrs.scale })
  },
})

/** softmax(Q K^T * scale + bias) V, exported as ONNX Attention (opset 23). */
export const attentionOp = (q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, scale: number): Tensor =>
  apply(ScaledDotProductAttentionOp, bias ? [q, k, v, bias] : [q, k, v], { scale })

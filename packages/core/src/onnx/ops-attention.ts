/**
 * ONNX Attention (opset 23/24): scaled dot-product attention with multi-head, grouped-query and
 * multi-query variants, KV cache (past/present), boolean or additive masks, causal masking aligned
 * bottom-right, softcap and the optional QK output. Written with refnets ops.
 */
import * as F from '../ops/index.js'
import { Tensor } from '../tensor.js'
import { attrFloat, attrInt, input, optional } from './ops-util.js'
import type { OnnxOpImpl } from './node.js'

/** (B, S, H*D) -> (B, H, S, D) */
const splitHeads = (x: Tensor, heads: number) => {
  const [b, s, hidden] = x.shape as [number, number, number]
  return x
    .reshape(b, s, heads, hidden / heads)
    .permute(0, 2, 1, 3)
    .contiguous()
}

/** A (..., q, kv) additive bias as a float tensor with -Infinity where attention is not allowed. */
function additive(mask: Tensor, dtype: 'float32' | 'float64'): Tensor {
  if (mask.dtype === 'bool') return F.where(mask, F.zeros([], { dtype }), F.full([], -Infinity, { dtype }))
  return mask.to(dtype)
}

/**
 * Softmax along the last axis where a row that is masked everywhere (all -Infinity) gives zeros
 * instead of NaN: no key may be attended, so nothing is.
 */
function maskedSoftmax(x: Tensor): Tensor {
  const max = x.max(-1, true)
  const dead = max.eq(-Infinity)
  const safe = F.where(dead, F.zeros([], { dtype: x.dtype as 'float32' }), x.sub(F.where(dead, 0, max)))
  const e = F.where(dead, 0, safe.exp())
  const s = e.sum(-1, true)
  return e.div(F.where(s.eq(0), 1, s))
}

export const attentionOps: Record<string, OnnxOpImpl> = {
  Attention: (ctx) => {
    let q = input(ctx, 0)
    let k = input(ctx, 1)
    let v = input(ctx, 2)
    let mask = optional(ctx, 3)
    const pastK = optional(ctx, 4)
    const pastV = optional(ctx, 5)
    const nonpad = optional(ctx, 6)
    const dtype = q.dtype as 'float32' | 'float64'
    const threeD = q.rank === 3
    if (threeD) {
      q = splitHeads(q, attrInt(ctx, 'q_num_heads', 1))
      k = splitHeads(k, attrInt(ctx, 'kv_num_heads', 1))
      v = splitHeads(v, attrInt(ctx, 'kv_num_heads', 1))
    }
    // (B, Hq, Sq, D), (B, Hkv, Skv, D), (B, Hkv, Skv, Dv)
    const [batch, hq, sq, d] = q.shape as [number, number, number, number]
    const scale = ctx.attrs.scale !== undefined ? attrFloat(ctx, 'scale', 1) : 1 / Math.sqrt(d)
    if (pastK) k = F.concat([pastK, k], 2)
    if (pastV) v = F.concat([pastV, v], 2)
    const presentK = k
    const presentV = v
    const skv = k.shape[2]!
    const pastLen = pastK ? pastK.shape[2]! : 0

    // The additive bias (.., Sq, Skv): mask (padded to Skv with "not allowed"), then causality.
    let bias: Tensor = F.zeros([sq, skv], { dtype })
    if (mask) {
      const pad = skv - mask.shape[mask.rank - 1]!
      if (pad > 0)
        mask = F.pad(
          additive(mask, dtype),
          [...new Array(mask.rank).fill(0), ...new Array(mask.rank - 1).fill(0), pad],
          'constant',
          -Infinity,
        )
      bias = additive(mask, dtype)
    }
    if (attrInt(ctx, 'is_causal', 0)) {
      // Query i (of this block) sees key j iff j <= i + offset, offset = keys before the block.
      const offsets = !pastK && nonpad ? Array.from(nonpad.data, (n) => Number(n) - sq) : [pastLen]
      const allowed = new Uint8Array(offsets.length * sq * skv)
      offsets.forEach((off, b) => {
        for (let i = 0; i < sq; i++)
          for (let j = 0; j < skv; j++) allowed[(b * sq + i) * skv + j] = j <= i + off ? 1 : 0
      })
      const causal = additive(new Tensor(allowed, offsets.length > 1 ? [offsets.length, 1, sq, skv] : [sq, skv]), dtype)
      bias = bias.add(causal)
    }
    if (nonpad) {
      const keep = new Uint8Array(batch * skv)
      Array.from(nonpad.data).forEach((n, b) => {
        for (let j = 0; j < skv; j++) keep[b * skv + j] = j < Number(n) ? 1 : 0
      })
      bias = bias.add(additive(new Tensor(keep, [batch, 1, 1, skv]), dtype))
    }

    // Grouped-query attention: each KV head serves hq / hkv query heads (interleaved repeat).
    const hkv = k.shape[1]!
    if (hq !== hkv) {
      const reps = hq / hkv
      const rep = (t: Tensor) =>
        F.stack(
          Array.from({ length: reps }, () => t),
          2,
        ).reshape(batch, hq, t.shape[2]!, t.shape[3]!)
      k = rep(k)
      v = rep(v)
    }

    // NOTE: the scale is split as sqrt(scale) on Q and on K, as the reference does, to keep the
    // magnitudes of both factors moderate.
    const s = Math.sqrt(scale)
    let scores = F.matmul(q.mul(s), k.mul(s).transpose(-1, -2)) // (B, Hq, Sq, Skv)
    const softcap = attrFloat(ctx, 'softcap', 0)
    if (softcap > 0) scores = scores.div(softcap).tanh().mul(softcap)
    const withBias = scores.add(bias)
    const probs = maskedSoftmax(withBias)
    let y = F.matmul(probs, v) // (B, Hq, Sq, Dv)
    if (threeD) y = y.permute(0, 2, 1, 3).reshape(batch, sq, -1)
    const mode = attrInt(ctx, 'qk_matmul_output_mode', 0)
    const qk = mode === 2 ? withBias : mode === 3 ? probs : scores
    return [y, presentK, presentV, qk].slice(0, Math.max(ctx.outputCount, 1))
  },
}

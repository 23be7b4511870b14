/**
 * The element-wise part of one LSTM or GRU step as a single op, with a hand-written backward:
 * a composite of slices, sigmoids, tanhs and products allocates a dozen (B, H) tensors per step
 * forward and again backward, which cost more than the recurrent GEMM itself. Each fused op reads
 * its inputs once and writes its output once; the backward recomputes the gate activations from
 * the saved inputs (cheaper than storing them). Gate orders are PyTorch's (LSTM i, f, g, o; GRU
 * r, z, n). Exported to ONNX as the equivalent element-wise nodes.
 * NOTE: the backward ops are not differentiable again (no double backward through a cell).
 */
import { type LoweringContext, Tensor, allocate, apply, defineOp } from '@refnets/core'

const sig = (x: number) => 1 / (1 + Math.exp(-x))

/** dims of a (B, G*H) operand */
const rows = (t: Tensor) => t.shape[0]!

// ---- LSTM: [xi (B, 4H), hh (B, 4H), cPrev (B, H)] -> [h, c] as (B, 2H) ------------------------

const LSTMPointwiseBackward = defineOp<{ H: number }>({
  name: 'LSTMPointwiseGrad',
  forward: ([xi, hh, cp, dy], { H }) => {
    const B = rows(xi!)
    const a = xi!.data
    const b = hh!.data
    const c0 = cp!.data
    const d = dy!.data
    const da = allocate(xi!.dtype, B * 4 * H)
    const dcp = allocate(xi!.dtype, B * H)
    for (let r = 0; r < B; r++) {
      const g0 = r * 4 * H
      for (let j = 0; j < H; j++) {
        const i = sig(a[g0 + j]! + b[g0 + j]!)
        const f = sig(a[g0 + H + j]! + b[g0 + H + j]!)
        const g = Math.tanh(a[g0 + 2 * H + j]! + b[g0 + 2 * H + j]!)
        const o = sig(a[g0 + 3 * H + j]! + b[g0 + 3 * H + j]!)
        const cPrev = c0[r * H + j]!
        const c = f * cPrev + i * g
        const th = Math.tanh(c)
        const dh = d[r * 2 * H + j]!
        const dc = d[r * 2 * H + H + j]! + dh * o * (1 - th * th)
        da[g0 + j] = dc * g * i * (1 - i)
        da[g0 + H + j] = dc * cPrev * f * (1 - f)
        da[g0 + 2 * H + j] = dc * i * (1 - g * g)
        da[g0 + 3 * H + j] = dh * th * o * (1 - o)
        dcp[r * H + j] = dc * f
      }
    }
    // [dxi = dhh = da, dcPrev] packed as (B, 5H)
    const out = allocate(xi!.dtype, B * 5 * H)
    for (let r = 0; r < B; r++) {
      out.set(da.subarray(r * 4 * H, (r + 1) * 4 * H), r * 5 * H)
      out.set(dcp.subarray(r * H, (r + 1) * H), r * 5 * H + 4 * H)
    }
    return fromData(out, [B, 5 * H])
  },
})

export const LSTMPointwise = defineOp<{ H: number }>({
  name: 'LSTMPointwise',
  forward: ([xi, hh, cp], { H }) => {
    const B = rows(xi!)
    const a = xi!.data
    const b = hh!.data
    const c0 = cp!.data
    const out = allocate(xi!.dtype, B * 2 * H)
    for (let r = 0; r < B; r++) {
      const g0 = r * 4 * H
      for (let j = 0; j < H; j++) {
        const i = sig(a[g0 + j]! + b[g0 + j]!)
        const f = sig(a[g0 + H + j]! + b[g0 + H + j]!)
        const g = Math.tanh(a[g0 + 2 * H + j]! + b[g0 + 2 * H + j]!)
        const o = sig(a[g0 + 3 * H + j]! + b[g0 + 3 * H + j]!)
        const c = f * c0[r * H + j]! + i * g
        out[r * 2 * H + j] = o * Math.tanh(c)
        out[r * 2 * H + H + j] = c
      }
    }
    return fromData(out, [B, 2 * H])
  },
  backward: (dy, { inputs: [xi, hh, cp], attrs }) => {
    const H = attrs.H
    const g = apply(LSTMPointwiseBackward, [xi!, hh!, cp!, dy], attrs)
    const da = g.slice(1, 0, 4 * H)
    return [
      xi!.requiresGrad ? da : null,
      hh!.requiresGrad ? da : null,
      cp!.requiresGrad ? g.slice(1, 4 * H, 5 * H) : null,
    ]
  },
  onnx: (ctx, [xi, hh, cp], { attrs }) => {
    const [a] = ctx.node('Add', [xi!, hh!])
    const [i, f, g, o] = split(ctx, a!, attrs.H, 4)
    const si = ctx.node('Sigmoid', [i!])[0]!
    const sf = ctx.node('Sigmoid', [f!])[0]!
    const tg = ctx.node('Tanh', [g!])[0]!
    const so = ctx.node('Sigmoid', [o!])[0]!
    const [c] = ctx.node('Add', [ctx.node('Mul', [sf, cp!])[0]!, ctx.node('Mul', [si, tg])[0]!])
    const [h] = ctx.node('Mul', [so, ctx.node('Tanh', [c!])[0]!])
    return ctx.node('Concat', [h!, c!], { axis: 1 })
  },
})

// ---- GRU: [xi (B, 3H), hh (B, 3H), hPrev (B, H)] -> h (B, H) ----------------------------------

const GRUPointwiseBackward = defineOp<{ H: number }>({
  name: 'GRUPointwiseGrad',
  forward: ([xi, hh, hp, dy], { H }) => {
    const B = rows(xi!)
    const a = xi!.data
    const b = hh!.data
    const h0 = hp!.data
    const d = dy!.data
    // [dxi (3H), dhh (3H), dhPrev (H)] packed as (B, 7H)
    const out = allocate(xi!.dtype, B * 7 * H)
    for (let r = 0; r < B; r++) {
      const g0 = r * 3 * H
      const o0 = r * 7 * H
      for (let j = 0; j < H; j++) {
        const rg = sig(a[g0 + j]! + b[g0 + j]!)
        const z = sig(a[g0 + H + j]! + b[g0 + H + j]!)
        const hn = b[g0 + 2 * H + j]!
        const n = Math.tanh(a[g0 + 2 * H + j]! + rg * hn)
        const hPrev = h0[r * H + j]!
        const dh = d[r * H + j]!
        const dan = dh * (1 - z) * (1 - n * n)
        const dar = dan * hn * rg * (1 - rg)
        const daz = dh * (hPrev - n) * z * (1 - z)
        out[o0 + j] = dar
        out[o0 + H + j] = daz
        out[o0 + 2 * H + j] = dan
        out[o0 + 3 * H + j] = dar
        out[o0 + 4 * H + j] = daz
        out[o0 + 5 * H + j] = dan * rg
        out[o0 + 6 * H + j] = dh * z
      }
    }
    return fromData(out, [B, 7 * H])
  },
})

export const GRUPointwise = defineOp<{ H: number }>({
  name: 'GRUPointwise',
  forward: ([xi, hh, hp], { H }) => {
    const B = rows(xi!)
    const a = xi!.data
    const b = hh!.data
    const h0 = hp!.data
    const out = allocate(xi!.dtype, B * H)
    for (let r = 0; r < B; r++) {
      const g0 = r * 3 * H
      for (let j = 0; j < H; j++) {
        const rg = sig(a[g0 + j]! + b[g0 + j]!)
        const z = sig(a[g0 + H + j]! + b[g0 + H + j]!)
        const n = Math.tanh(a[g0 + 2 * H + j]! + rg * b[g0 + 2 * H + j]!)
        out[r * H + j] = (1 - z) * n + z * h0[r * H + j]!
      }
    }
    return fromData(out, [B, H])
  },
  backward: (dy, { inputs: [xi, hh, hp], attrs }) => {
    const H = attrs.H
    const g = apply(GRUPointwiseBackward, [xi!, hh!, hp!, dy], attrs)
    return [
      xi!.requiresGrad ? g.slice(1, 0, 3 * H) : null,
      hh!.requiresGrad ? g.slice(1, 3 * H, 6 * H) : null,
      hp!.requiresGrad ? g.slice(1, 6 * H, 7 * H) : null,
    ]
  },
  onnx: (ctx, [xi, hh, hp], { attrs }) => {
    const [xr, xz, xn] = split(ctx, xi!, attrs.H, 3)
    const [hr, hz, hn] = split(ctx, hh!, attrs.H, 3)
    const r = ctx.node('Sigmoid', [ctx.node('Add', [xr!, hr!])[0]!])[0]!
    const z = ctx.node('Sigmoid', [ctx.node('Add', [xz!, hz!])[0]!])[0]!
    const n = ctx.node('Tanh', [ctx.node('Add', [xn!, ctx.node('Mul', [r, hn!])[0]!])[0]!])[0]!
    // (1 - z) * n + z * h = n - z * n + z * h
    const [zn] = ctx.node('Mul', [z, n])
    const [zh] = ctx.node('Mul', [z, hp!])
    return ctx.node('Add', [ctx.node('Sub', [n, zn!])[0]!, zh!])
  },
})

function split(ctx: LoweringContext, x: string, H: number, parts: number): string[] {
  return ctx.node('Split', [x, ctx.constant(Array(parts).fill(H), 'int64')], { axis: 1 }, { outputs: parts })
}

const fromData = (d: ReturnType<typeof allocate>, shape: number[]): Tensor => new Tensor(d, shape)

/** LSTM step element-wise: returns [h, c], each (B, H). */
export function lstmPointwise(xi: Tensor, hh: Tensor, cPrev: Tensor): [Tensor, Tensor] {
  const H = cPrev.shape[1]!
  const y = apply(LSTMPointwise, [xi, hh, cPrev], { H })
  return [y.slice(1, 0, H), y.slice(1, H, 2 * H)]
}

/** GRU step element-wise: returns h (B, H). */
export function gruPointwise(xi: Tensor, hh: Tensor, hPrev: Tensor): Tensor {
  return apply(GRUPointwise, [xi, hh, hPrev], { H: hPrev.shape[1]! })
}

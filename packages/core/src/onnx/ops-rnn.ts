/**
 * ONNX recurrent operators RNN, GRU and LSTM (https://onnx.ai/onnx/operators/onnx__LSTM.html),
 * written with refnets ops so an imported model also trains. ONNX's layout: gates in ONNX order
 * (LSTM i, o, f, c; GRU z, r, h), W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) = [Wb, Rb],
 * P (D, 3H) = LSTM peepholes [Pi, Po, Pf]; direction forward, reverse or bidirectional; layout 0
 * (X (T, B, I), Y (T, D, B, H)) or 1 (X (B, T, I), Y (B, T, D, H)); optional sequence_lens, where
 * padded outputs are 0 and Y_h is the state at each sequence's end; activations with
 * activation_alpha/beta; clip on the gate pre-activations; GRU linear_before_reset 0 or 1.
 */
import { ArgumentError } from '../errors.js'
import * as F from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import type { NodeContext, OnnxOpImpl } from './node.js'
import { attrFloat, attrInt, attrString, input, optional } from './ops-util.js'

type Act = (x: Tensor) => Tensor

/** An ONNX activation by name; `alpha`/`beta` are taken from the activation_alpha/beta lists. */
function activation(name: string, alpha: () => number | undefined, beta: () => number | undefined): Act {
  switch (name.toLowerCase()) {
    case 'sigmoid':
      return (x) => x.sigmoid()
    case 'tanh':
      return (x) => x.tanh()
    case 'relu':
      return (x) => x.relu()
    case 'softsign':
      return (x) => x.div(x.abs().add(1))
    case 'softplus':
      return (x) => F.softplus(x)
    case 'affine': {
      const a = alpha() ?? 1
      const b = beta() ?? 0
      return (x) => x.mul(a).add(b)
    }
    case 'leakyrelu': {
      const a = alpha() ?? 0.01
      return (x) => F.where(x.ge(0), x, x.mul(a))
    }
    case 'thresholdedrelu': {
      const a = alpha() ?? 1
      return (x) => F.where(x.gt(a), x, 0)
    }
    case 'scaledtanh': {
      const a = alpha() ?? 1
      const b = beta() ?? 1
      return (x) => x.mul(b).tanh().mul(a)
    }
    case 'hardsigmoid': {
      const a = alpha() ?? 0.2
      const b = beta() ?? 0.5
      return (x) => x.mul(a).add(b).clamp(0, 1)
    }
    case 'elu': {
      const a = alpha() ?? 1
      return (x) => F.where(x.gt(0), x, x.exp().sub(1).mul(a))
    }
    default:
      throw new OnnxImportError(`recurrent activation '${name}' is not supported`)
  }
}

type Kind = 'RNN' | 'GRU' | 'LSTM'
const GATES: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 }
const DEFAULT_ACTS: Record<Kind, string[]> = {
  RNN: ['Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
}

/** Gate block k (B, G*H) -> (B, H). */
const gate = (x: Tensor, k: number, H: number) => x.slice(1, k * H, (k + 1) * H)

function recurrentOp(kind: Kind): OnnxOpImpl {
  return (ctx: NodeContext) => {
    const where = `${kind} '${ctx.node.name ?? ''}'`
    const layout = attrInt(ctx, 'layout', 0)
    let X = input(ctx, 0)
    if (layout === 1) X = X.transpose(0, 1)
    const W = input(ctx, 1)
    const R = input(ctx, 2)
    const Bias = optional(ctx, 3)
    const lens = optional(ctx, 4)
    let h0 = optional(ctx, 5)
    let c0 = kind === 'LSTM' ? optional(ctx, 6) : undefined
    const P = kind === 'LSTM' ? optional(ctx, 7) : undefined
    const direction = attrString(ctx, 'direction', 'forward')
    const dirs =
      direction === 'bidirectional'
        ? [false, true]
        : direction === 'reverse'
          ? [true]
          : direction === 'forward'
            ? [false]
            : null
    if (!dirs)
      throw new OnnxImportError(`${where}: direction must be forward, reverse or bidirectional, got '${direction}'`)
    const D = dirs.length
    const G = GATES[kind]
    const H = attrInt(ctx, 'hidden_size', R.shape[2] ?? 0)
    const [T, Bn] = X.shape as [number, number]
    if (W.rank !== 3 || W.shape[0] !== D || W.shape[1] !== G * H)
      throw new OnnxImportError(`${where}: W must be (${D}, ${G * H}, input_size), got [${W.shape.join(', ')}]`)
    if (attrInt(ctx, 'input_forget', 0) !== 0) throw new OnnxImportError(`${where}: input_forget = 1 is not supported`)
    if (layout === 1) {
      h0 = h0?.transpose(0, 1)
      c0 = c0?.transpose(0, 1)
    }
    const clip = ctx.attrs.clip === undefined ? null : attrFloat(ctx, 'clip', 0)
    const clipped = (x: Tensor) => (clip === null ? x : x.clamp(-clip, clip))
    const lbr = attrInt(ctx, 'linear_before_reset', 0) === 1
    const names = (ctx.attrs.activations as unknown[] | undefined)?.map(String)
    const alphas = ((ctx.attrs.activation_alpha as number[] | undefined) ?? []).map(Number)
    const betas = ((ctx.attrs.activation_beta as number[] | undefined) ?? []).map(Number)
    let ai = 0
    let bi = 0
    const nPer = DEFAULT_ACTS[kind].length
    const acts: Act[][] = dirs.map((_, d) =>
      Array.from({ length: nPer }, (_, j) =>
        activation(
          names?.[d * nPer + j] ?? DEFAULT_ACTS[kind][j]!,
          () => alphas[ai++],
          () => betas[bi++],
        ),
      ),
    )

    // Mask (T, B, 1) from sequence_lens: 1 where t < len_b.
    let mask: Tensor | null = null
    if (lens) {
      const l = lens.data
      if (l.length !== Bn)
        throw new OnnxImportError(`${where}: sequence_lens has ${l.length} entries for a batch of ${Bn}`)
      const m = new Float64Array(T * Bn)
      for (let b = 0; b < Bn; b++) {
        const v = Number(l[b])
        if (!(v >= 0 && v <= T))
          throw new ArgumentError(`${where}: sequence length ${b} must be in [0, ${T}], got ${v}`)
        for (let t = 0; t < v; t++) m[t * Bn + b] = 1
      }
      mask = F.fromValues(X.dtype, [T, Bn, 1], m)
    }

    const zeros = () => F.zeros([Bn, H], { dtype: X.dtype })
    const Ys: Tensor[] = []
    const Yh: Tensor[] = []
    const Yc: Tensor[] = []
    dirs.forEach((reverse, d) => {
      const w = F.select(W, 0, d)
      const r = F.select(R, 0, d)
      const [f, g, hAct] = acts[d]!
      const bias = Bias ? F.select(Bias, 0, d) : null
      const wb = bias ? bias.slice(0, 0, G * H) : null
      const rb = bias ? bias.slice(0, G * H, 2 * G * H) : null
      const p = P ? F.select(P, 0, d) : null
      // (T*B, I) @ (I, G*H) -> (T, B, G*H): input projections of all steps in one GEMM
      const xp = F.linear(X.reshape(T * Bn, X.shape[2]!), w, wb).reshape(T, Bn, G * H)
      let h = h0 ? F.select(h0, 0, d) : zeros()
      let c = kind === 'LSTM' ? (c0 ? F.select(c0, 0, d) : zeros()) : null
      const ys: Tensor[] = new Array(T)
      for (let k = 0; k < T; k++) {
        const t = reverse ? T - 1 - k : k
        const xt = F.select(xp, 0, t)
        let hNew: Tensor
        let cNew: Tensor | null = null
        if (kind === 'RNN') {
          hNew = f!(clipped(xt.add(F.linear(h, r, rb))))
        } else if (kind === 'GRU') {
          const rz = F.linear(h, r.slice(0, 0, 2 * H), rb ? rb.slice(0, 0, 2 * H) : null)
          const z = f!(clipped(gate(xt, 0, H).add(gate(rz, 0, H))))
          const rr = f!(clipped(gate(xt, 1, H).add(gate(rz, 1, H))))
          const rh = r.slice(0, 2 * H, 3 * H)
          const rbh = rb ? rb.slice(0, 2 * H, 3 * H) : null
          const hh = lbr ? rr.mul(F.linear(h, rh, rbh)) : F.linear(rr.mul(h), rh, rbh)
          const n = g!(clipped(gate(xt, 2, H).add(hh)))
          hNew = n.sub(n.mul(z)).add(z.mul(h))
        } else {
          const gs = xt.add(F.linear(h, r, rb))
          let iPre = gate(gs, 0, H)
          let fPre = gate(gs, 2, H)
          if (p) {
            iPre = iPre.add(p.slice(0, 0, H).mul(c!))
            fPre = fPre.add(p.slice(0, 2 * H, 3 * H).mul(c!))
          }
          const i = f!(clipped(iPre))
          const fg = f!(clipped(fPre))
          const cand = g!(clipped(gate(gs, 3, H)))
          cNew = fg.mul(c!).add(i.mul(cand))
          let oPre = gate(gs, 1, H)
          if (p) oPre = oPre.add(p.slice(0, H, 2 * H).mul(cNew))
          hNew = f!(clipped(oPre)).mul(hAct!(cNew))
        }
        if (mask) {
          const m = F.select(mask, 0, t)
          ys[t] = hNew.mul(m)
          h = h.add(m.mul(hNew.sub(h)))
          if (cNew) c = c!.add(m.mul(cNew.sub(c!)))
        } else {
          ys[t] = hNew
          h = hNew
          c = cNew
        }
      }
      // T x (B, H) -> (T, B, H)
      Ys.push(F.stack(ys, 0))
      Yh.push(h)
      if (c) Yc.push(c)
    })
    // D x (T, B, H) -> (T, D, B, H); D x (B, H) -> (D, B, H)
    let Y = F.stack(Ys, 1)
    let hN = F.stack(Yh, 0)
    let cN = Yc.length ? F.stack(Yc, 0) : null
    if (layout === 1) {
      Y = Y.permute(2, 0, 1, 3)
      hN = hN.transpose(0, 1)
      cN = cN ? cN.transpose(0, 1) : null
    }
    return kind === 'LSTM' ? [Y, hN, cN] : [Y, hN]
  }
}

export const rnnOps: Record<string, OnnxOpImpl> = {
  RNN: recurrentOp('RNN'),
  GRU: recurrentOp('GRU'),
  LSTM: recurrentOp('LSTM'),
}

/**
 * Export of a recurrent layer as the native ONNX operators RNN, GRU and LSTM
 * (https://onnx.ai/onnx/operators/onnx__LSTM.html), one node per layer, from PyTorch-layout
 * parameters. The conversions happen inside the graph (Split + Concat on the initializers), so the
 * initializers keep PyTorch's names (`weight_ih_l0`, ...):
 * - gate order: PyTorch LSTM i, f, g, o -> ONNX i, o, f, c; PyTorch GRU r, z, n -> ONNX z, r, h;
 * - W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) = [Wb, Rb] stacked over directions;
 * - GRU with linear_before_reset = 1 (PyTorch applies the reset gate after the linear map);
 * - Y (T, D, B, H) -> (T, B, D*H) as the next layer's input and the layer's output;
 * - sequence_lens (int32, B) when the batch has variable lengths.
 */
import type { LoweringContext, Tensor } from '@refnets/core'
import { GATES, type RecurrentMode } from './functional.js'

/** ONNX gate block order as indices into PyTorch's blocks. */
const ORDER: Record<RecurrentMode, number[]> = { RNN_TANH: [0], RNN_RELU: [0], GRU: [1, 0, 2], LSTM: [0, 3, 1, 2] }
const OP: Record<RecurrentMode, string> = { RNN_TANH: 'RNN', RNN_RELU: 'RNN', GRU: 'GRU', LSTM: 'LSTM' }

export interface LoweringAttrs {
  mode: RecurrentMode
  hiddenSize: number
  numLayers: number
  bidirectional: boolean
  batchFirst: boolean
  bias: boolean
  /** Which optional inputs follow x in the op's input list. */
  hasH0: boolean
  hasC0: boolean
  hasLengths: boolean
}

/**
 * Inputs: x, [h0], [c0], [lengths], then per layer and direction weight_ih, weight_hh, [bias_ih,
 * bias_hh]. Outputs: output, h_n, [c_n].
 */
export function lowerRecurrent(
  ctx: LoweringContext,
  names: string[],
  info: { attrs: LoweringAttrs; inputs: Tensor[] },
): string[] {
  const a = info.attrs
  const D = a.bidirectional ? 2 : 1
  const G = GATES[a.mode]
  const H = a.hiddenSize
  let k = 0
  const x = names[k++]!
  const h0 = a.hasH0 ? names[k++]! : ''
  const c0 = a.hasC0 ? names[k++]! : ''
  let lens = a.hasLengths ? names[k++]! : ''
  if (lens && info.inputs[k - 1]!.dtype !== 'int32') [lens] = ctx.node('Cast', [lens], { to: 6 })
  const i64 = (v: number[]) => ctx.constant(v, 'int64')
  const reorder = (w: string): string => {
    if (G === 1) return w
    const parts = ctx.node('Split', [w, i64(Array(G).fill(H))], { axis: 0 }, { outputs: G })
    return ctx.node(
      'Concat',
      ORDER[a.mode].map((j) => parts[j]!),
      { axis: 0 },
    )[0]!
  }
  const unsq = (t: string) => ctx.node('Unsqueeze', [t, i64([0])])[0]!
  const stackDirs = (ts: string[]) => (ts.length === 1 ? ts[0]! : ctx.node('Concat', ts, { axis: 0 })[0]!)
  /** Rows [l*D, (l+1)*D) of a (L*D, B, H) state. */
  const layerState = (s: string, l: number) =>
    a.numLayers === 1 ? s : ctx.node('Slice', [s, i64([l * D]), i64([(l + 1) * D]), i64([0])])[0]!

  let input = a.batchFirst ? ctx.node('Transpose', [x], { perm: [1, 0, 2] })[0]! : x
  const hN: string[] = []
  const cN: string[] = []
  for (let l = 0; l < a.numLayers; l++) {
    const W: string[] = []
    const R: string[] = []
    const B: string[] = []
    for (let d = 0; d < D; d++) {
      const wIh = names[k++]!
      const wHh = names[k++]!
      W.push(unsq(reorder(wIh)))
      R.push(unsq(reorder(wHh)))
      if (a.bias) {
        const bIh = reorder(names[k++]!)
        const bHh = reorder(names[k++]!)
        B.push(unsq(ctx.node('Concat', [bIh, bHh], { axis: 0 })[0]!))
      }
    }
    const attrs: Record<string, number | string | string[]> = {
      hidden_size: H,
      direction: a.bidirectional ? 'bidirectional' : 'forward',
    }
    if (a.mode === 'GRU') attrs.linear_before_reset = 1
    if (a.mode === 'RNN_RELU') attrs.activations = Array(D).fill('Relu')
    const ins = [input, stackDirs(W), stackDirs(R), a.bias ? stackDirs(B) : '', lens, h0 ? layerState(h0, l) : '']
    if (a.mode === 'LSTM') ins.push(c0 ? layerState(c0, l) : '')
    while (ins[ins.length - 1] === '') ins.pop()
    const outs = ctx.node(OP[a.mode], ins, attrs, { outputs: a.mode === 'LSTM' ? 3 : 2 })
    // Y (T, D, B, H) -> (T, B, D, H) -> (T, B, D*H)
    const yt = ctx.node('Transpose', [outs[0]!], { perm: [0, 2, 1, 3] })[0]!
    input = ctx.node('Reshape', [yt, i64([0, 0, D * H])])[0]!
    hN.push(outs[1]!)
    if (a.mode === 'LSTM') cN.push(outs[2]!)
  }
  const output = a.batchFirst ? ctx.node('Transpose', [input], { perm: [1, 0, 2] })[0]! : input
  const h = hN.length === 1 ? hN[0]! : ctx.node('Concat', hN, { axis: 0 })[0]!
  if (a.mode !== 'LSTM') return [output, h]
  const c = cN.length === 1 ? cN[0]! : ctx.node('Concat', cN, { axis: 0 })[0]!
  return [output, h, c]
}

/**
 * Gradient checks in float64 (relative error < 1e-7, core's gradcheck) of every cell and layer:
 * uni- and bidirectional, one and two layers, variable lengths, initial states, and truncated
 * backpropagation through time (a detached state between two chunks).
 */
import { type Tensor, Generator, concat, gradcheck, noGrad, randn } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  type CellWeights,
  type RecurrentMode,
  GRU,
  GRUCell,
  LSTM,
  LSTMCell,
  RNN,
  RNNCell,
  type RecurrentBase,
  recurrent,
} from '../src/index.js'

const gen = new Generator(3)
const r64 = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen })

type LayerCase = { mode: RecurrentMode; layers: number; bi: boolean; lengths?: number[]; bias?: boolean }

function build(c: LayerCase, I: number, H: number): RecurrentBase {
  const opts = { numLayers: c.layers, bidirectional: c.bi, bias: c.bias ?? true, dtype: 'float64' as const }
  if (c.mode === 'GRU') return new GRU(I, H, opts)
  if (c.mode === 'LSTM') return new LSTM(I, H, opts)
  return new RNN(I, H, { ...opts, nonlinearity: c.mode === 'RNN_RELU' ? 'relu' : 'tanh' })
}

/** The layer as a function of (x, h0, c0, ...parameters), every output flattened into one vector. */
function layerFn(_m: RecurrentBase, c: LayerCase) {
  const D = c.bi ? 2 : 1
  const perDir = (c.bias ?? true) ? 4 : 2
  return (x: Tensor, h0: Tensor, c0: Tensor, ...ps: Tensor[]): Tensor => {
    const weights: CellWeights[] = []
    for (let k = 0; k < c.layers * D; k++) {
      const [wIh, wHh, bIh, bHh] = ps.slice(k * perDir, (k + 1) * perDir)
      weights.push({ wIh: wIh!, wHh: wHh!, bIh: bIh ?? null, bHh: bHh ?? null })
    }
    const r = recurrent(c.mode, x, h0, c.mode === 'LSTM' ? c0 : null, weights, {
      numLayers: c.layers,
      bidirectional: c.bi,
      dropout: 0,
      training: false,
      lengths: c.lengths ?? null,
    })
    return concat([r.output.flatten(), r.hN.flatten(), ...(r.cN ? [r.cN.flatten()] : [])])
  }
}

const cases: [string, LayerCase][] = []
for (const mode of ['RNN_TANH', 'RNN_RELU', 'GRU', 'LSTM'] as const)
  for (const [layers, bi] of [
    [1, false],
    [1, true],
    [2, false],
    [2, true],
  ] as const)
    cases.push([`${mode} layers=${layers} bi=${bi}`, { mode, layers, bi }])
for (const mode of ['RNN_TANH', 'GRU', 'LSTM'] as const) {
  cases.push([`${mode} 2 layers bi, variable lengths`, { mode, layers: 2, bi: true, lengths: [4, 2, 1] }])
  cases.push([`${mode} no bias`, { mode, layers: 1, bi: true, bias: false }])
}

describe('layers: gradcheck of output, h_n (and c_n) w.r.t. input, initial states and every parameter', () => {
  it.each(cases)('%s', (_n, c) => {
    const [T, B, I, H] = [4, 3, 3, 2]
    const m = build(c, I, H)
    const LD = c.layers * (c.bi ? 2 : 1)
    const inputs = [
      r64([T, B, I]),
      r64([LD, B, H]).mul(0.5),
      r64([LD, B, H]).mul(0.5),
      ...m.parameters().map((p) => p.detach()),
    ]
    const res = gradcheck(
      layerFn(m, c),
      inputs,
      c.mode === 'LSTM' ? {} : { wrt: [0, 1, ...m.parameters().map((_, i) => i + 3)] },
    )
    expect(res.relError).toBeLessThan(1e-7)
    // The module computes the same function (its forward runs the same code on its parameters).
    const [out, hN, cN] = noGrad(() =>
      m.forwardStates(inputs[0]!, inputs[1]!, c.mode === 'LSTM' ? inputs[2]! : null, c.lengths ?? null),
    )
    const ref = noGrad(() => layerFn(m, c)(...(inputs as [Tensor, Tensor, Tensor, ...Tensor[]])))
    expect(Array.from(concat([out!.flatten(), hN!.flatten(), ...(cN ? [cN.flatten()] : [])]).data)).toEqual(
      Array.from(ref.data),
    )
  })

  it('gradcheck through the module with batchFirst and unbatched input', () => {
    const m = new GRU(3, 2, { batchFirst: true, bidirectional: true, dtype: 'float64' })
    expect(gradcheck((x) => m.call(x)[0]!, [r64([2, 4, 3])]).relError).toBeLessThan(1e-7)
    expect(gradcheck((x) => m.call(x)[1]!, [r64([4, 3])]).relError).toBeLessThan(1e-7)
  })
})

describe('cells: gradcheck w.r.t. input, state and every parameter', () => {
  const cellFn =
    (cell: RNNCell | GRUCell | LSTMCell) =>
    (x: Tensor, h: Tensor, c: Tensor, wIh: Tensor, wHh: Tensor, bIh: Tensor, bHh: Tensor) => {
      cell.weight_ih = wIh as never
      cell.weight_hh = wHh as never
      cell.bias_ih = bIh as never
      cell.bias_hh = bHh as never
      const out = cell instanceof LSTMCell ? cell.call(x, h, c) : [cell.call(x, h)]
      return concat(out.map((t) => t.flatten()))
    }
  it.each([
    ['RNNCell tanh', () => new RNNCell(3, 4, { dtype: 'float64' })],
    ['RNNCell relu', () => new RNNCell(3, 4, { nonlinearity: 'relu', dtype: 'float64' })],
    ['GRUCell', () => new GRUCell(3, 4, { dtype: 'float64' })],
    ['LSTMCell', () => new LSTMCell(3, 4, { dtype: 'float64' })],
  ] as const)('%s', (_n, make) => {
    const cell = make()
    const ps = [cell.weight_ih, cell.weight_hh, cell.bias_ih!, cell.bias_hh!].map((p) => p.detach())
    const res = gradcheck(
      cellFn(cell),
      [r64([2, 3]), r64([2, 4]), r64([2, 4]), ...ps],
      cell instanceof LSTMCell ? {} : { wrt: [0, 1, 3, 4, 5, 6] },
    )
    expect(res.relError).toBeLessThan(1e-7)
  })
})

describe('truncated backpropagation through time', () => {
  it('a detached state stops the gradient at the chunk boundary and the chunk gradient is exact', () => {
    const m = new LSTM(3, 4, { dtype: 'float64' })
    const x1 = r64([5, 2, 3]).requireGrad()
    const x2 = r64([5, 2, 3])
    const [, h1, c1] = m.call(x1)
    const hs = h1!.detach()
    const cs = c1!.detach()
    const [y2] = m.call(x2, hs, cs)
    y2!.square().sum().backward()
    // Nothing flows back into the first chunk.
    expect(x1.grad).toBeNull()
    const g = m.parameters().map((p) => Array.from(p.grad!.data))
    // The same gradients as running the second chunk alone from the same (constant) state.
    m.zeroGrad()
    const [y2b] = m.call(x2, hs.clone(), cs.clone())
    y2b!.square().sum().backward()
    expect(m.parameters().map((p) => Array.from(p.grad!.data))).toEqual(g)
    // And that gradient is right: gradcheck of chunk 2 w.r.t. the input and the detached state.
    expect(gradcheck((x, h, c) => m.call(x, h, c)[0]!.square(), [x2, hs, cs]).relError).toBeLessThan(1e-7)
  })
})

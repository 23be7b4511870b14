/**
 * PyTorch 1.13 golden values (fixtures/recurrent.json, written by scripts/gen_fixtures.py):
 * nn.RNN / GRU / LSTM (1-2 layers, bidirectional, batch_first, initial states, packed
 * variable-length input) and the three cells, in float64. The PyTorch state dict is loaded by name;
 * outputs, final states and the gradients of the input, the initial states and every parameter
 * must agree to 1e-10.
 */
import { type Module, type Tensor, fromArray } from '@refnets/core'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell } from '../src/index.js'

interface Enc {
  shape: number[]
  data: number[]
}
interface Case {
  name: string
  kind: 'rnn' | 'gru' | 'lstm' | 'rnn-cell' | 'gru-cell' | 'lstm-cell'
  nonlinearity: 'tanh' | 'relu'
  numLayers?: number
  bidirectional?: boolean
  batchFirst?: boolean
  bias?: boolean
  inputSize: number
  hiddenSize: number
  lengths?: number[] | null
  stateDict: Record<string, Enc>
  x: Enc
  h0: Enc | null
  c0: Enc | null
  outputs: Enc[]
  R: Enc[]
  grads: Record<string, Enc>
  dx: Enc
  dh0: Enc | null
  dc0: Enc | null
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/recurrent.json', import.meta.url), 'utf8')) as {
  torch: string
  cases: Case[]
}
const dec = (e: Enc): Tensor => fromArray(Float64Array.from(e.data), e.shape)

function build(c: Case): Module<any, Tensor | Tensor[]> {
  const f64 = { dtype: 'float64' } as const
  const opts = {
    numLayers: c.numLayers,
    bidirectional: c.bidirectional,
    batchFirst: c.batchFirst,
    bias: c.bias,
    ...f64,
  }
  switch (c.kind) {
    case 'rnn':
      return new RNN(c.inputSize, c.hiddenSize, { ...opts, nonlinearity: c.nonlinearity })
    case 'gru':
      return new GRU(c.inputSize, c.hiddenSize, opts)
    case 'lstm':
      return new LSTM(c.inputSize, c.hiddenSize, opts)
    case 'rnn-cell':
      return new RNNCell(c.inputSize, c.hiddenSize, { nonlinearity: c.nonlinearity, ...f64 })
    case 'gru-cell':
      return new GRUCell(c.inputSize, c.hiddenSize, f64)
    case 'lstm-cell':
      return new LSTMCell(c.inputSize, c.hiddenSize, f64)
  }
}

const maxDiff = (a: Tensor, e: Enc): number => {
  expect(a.shape).toEqual(e.shape)
  const d = a.data
  let m = 0
  for (let i = 0; i < e.data.length; i++) m = Math.max(m, Math.abs(d[i]! - e.data[i]!))
  return m
}

it('fixtures come from PyTorch 1.13 and cover every layer and cell', () => {
  expect(fixture.torch.startsWith('1.13')).toBe(true)
  expect(new Set(fixture.cases.map((c) => c.kind))).toEqual(
    new Set(['rnn', 'gru', 'lstm', 'rnn-cell', 'gru-cell', 'lstm-cell']),
  )
  expect(fixture.cases.filter((c) => c.lengths).length).toBeGreaterThanOrEqual(3)
})

describe.each(fixture.cases.map((c) => [c.name, c] as [string, Case]))('%s', (_n, c) => {
  it('matches PyTorch: outputs, final states and every gradient to 1e-10', () => {
    const m = build(c)
    const sd = Object.fromEntries(Object.entries(c.stateDict).map(([k, v]) => [k, dec(v)]))
    m.loadStateDict(sd)
    expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.stateDict))
    const x = dec(c.x).requireGrad()
    const h0 = c.h0 ? dec(c.h0).requireGrad() : null
    const c0 = c.c0 ? dec(c.c0).requireGrad() : null
    const args: (Tensor | number[] | null)[] =
      c.kind === 'lstm'
        ? [x, h0, c0, c.lengths ?? null]
        : c.kind === 'lstm-cell'
          ? [x, h0, c0]
          : c.kind.endsWith('cell')
            ? [x, h0]
            : [x, h0, c.lengths ?? null]
    const res = m.call(...args)
    const outs = Array.isArray(res) ? res : [res]
    expect(outs.length).toBe(c.outputs.length)
    outs.forEach((o, i) => {
      expect(maxDiff(o, c.outputs[i]!), `output ${i}`).toBeLessThan(1e-10)
    })
    let loss = outs[0]!.mul(dec(c.R[0]!)).sum()
    for (let i = 1; i < outs.length; i++) loss = loss.add(outs[i]!.mul(dec(c.R[i]!)).sum())
    loss.backward()
    expect(maxDiff(x.grad!, c.dx), 'dx').toBeLessThan(1e-10)
    if (h0) expect(maxDiff(h0.grad!, c.dh0!), 'dh0').toBeLessThan(1e-10)
    if (c0) expect(maxDiff(c0.grad!, c.dc0!), 'dc0').toBeLessThan(1e-10)
    const params = Object.fromEntries(m.namedParameters())
    expect(Object.keys(params).sort()).toEqual(Object.keys(c.grads).sort())
    for (const [k, g] of Object.entries(c.grads)) expect(maxDiff(params[k]!.grad!, g), `d ${k}`).toBeLessThan(1e-10)
  })
})

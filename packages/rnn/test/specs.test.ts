/**
 * The registry-driven test: every entry of `specs` (layers, cells, language models, the seq2seq
 * encoder) at its small input.
 * - the first output has the spec's shape and every output is finite;
 * - after a backward pass, the input and every parameter have a finite gradient of their shape,
 *   and every weight of rank >= 2 a non-zero one;
 * - the module exports to ONNX with the standard's recurrent operator (RNN, GRU, LSTM: one node
 *   per layer), and ONNX Runtime (CPU) computes the same outputs, final states included, within
 *   the spec's tolerance. A provider that is not available fails the test: parity is never skipped.
 */
import { type Module, type ModelSpec, type Tensor, Generator, onnx, randn } from '@refnets/core'
import { crossCheck } from '@refnets/ort'
import { describe, expect, it } from 'vitest'
import { allFinite, gradientProblems } from '../../core/test/helpers/gradients.js'
import { specs } from '../src/index.js'

/** The ONNX operator each recurrent spec must export as, and how many nodes of it (one per layer). */
function nativeOp(spec: ModelSpec): [string, number] | null {
  if (spec.name.endsWith('-cell')) return null
  const layers = spec.name.includes('2layer') || spec.name.startsWith('seq2seq') ? 2 : 1
  if (spec.name.includes('lstm')) return ['LSTM', layers]
  if (spec.name.includes('gru')) return ['GRU', layers]
  if (spec.name.startsWith('rnn')) return ['RNN', layers]
  return null
}

it('registers every layer variant once, and the bench-size LSTM', () => {
  const names = specs.map((s) => s.name)
  expect(new Set(names).size).toBe(names.length)
  for (const n of [
    'rnn',
    'rnn-relu-bi',
    'gru-2layer',
    'lstm-2layer-bi-batch-first',
    'lstm-batch-first-states-lengths',
    'rnn-cell',
    'gru-cell',
    'lstm-cell',
    'lstm-h256',
    'char-lm-lstm',
    'seq2seq-gru-encoder',
  ])
    expect(names).toContain(n)
  const bench = specs.find((s) => s.name === 'lstm-h256')!
  expect(bench.inputs('bench', 0)[0]!.shape).toEqual([32, 1, 128])
})

describe.each(specs.map((s) => [s.name, s] as [string, ModelSpec]))('%s', (_name, spec) => {
  it('produces the output shape of its spec, and gradients for the input and every parameter', () => {
    const model = spec.build(0) as Module<Tensor[], Tensor[] | Tensor>
    const inputs = spec.inputs('small', 1).map((x) => (x.dtype === 'float32' ? x.requireGrad() : x))
    const res = model.call(...inputs)
    const outs = Array.isArray(res) ? res : [res]
    expect(outs[0]!.shape).toEqual(spec.outputShape!('small'))
    for (const o of outs) expect(allFinite(o.data)).toBe(true)
    // A random projection of every output, so every path (states included) takes part.
    let loss = outs[0]!.mul(randn([...outs[0]!.shape], { generator: new Generator(7) })).sum()
    for (const o of outs.slice(1)) loss = loss.add(o.mul(randn([...o.shape], { generator: new Generator(8) })).sum())
    loss.backward()
    for (const x of inputs) if (x.requiresGrad) expect(x.grad?.shape).toEqual(x.shape)
    expect(gradientProblems(model.namedParameters())).toEqual([])
  })

  it('exports to ONNX and matches ONNX Runtime (CPU), final states included', async () => {
    const model = spec.build(0)
    const x = spec.inputs('small', 2)
    const result = await crossCheck(model, x, {
      providers: ['cpu'],
      ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
    })
    const cpu = result.providers[0]!
    expect(cpu.status, `${cpu.reason ?? ''} (max abs error ${cpu.maxAbsError})`).toBe('pass')
    expect(result.outputs[0]!.shape).toEqual(spec.outputShape!('small'))
    const nodes = onnx.decodeModel(result.onnx).graph!.node!.map((n) => n.opType!)
    const native = nativeOp(spec)
    if (native)
      expect(
        nodes.filter((n) => n === native[0]).length,
        `${spec.name} exports ${native[1]} ${native[0]} node(s)`,
      ).toBe(native[1])
    expect(nodes).not.toContain('Dropout')
  })
})

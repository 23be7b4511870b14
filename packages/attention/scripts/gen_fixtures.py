#!/usr/bin/python3
"""Golden fixtures for packages/attention/test (PyTorch 1.13, float64):

  transformer.json  torch.nn.MultiheadAttention (masks of each kind, batch_first, kdim/vdim,
                    need_weights averaged and per head, no bias), TransformerEncoderLayer and
                    TransformerDecoderLayer (post-norm and norm_first, relu and gelu),
                    TransformerEncoder/Decoder and nn.Transformer, and a BERT-style encoder layer
                    (TransformerEncoderLayer(activation='gelu', layer_norm_eps=1e-12)).

Each case stores the module's state dict by PyTorch name, the inputs and masks, a fixed random
projection R of each output, the outputs, and the gradient of L = sum_k sum(out_k * R_k) with
respect to every parameter and every float input. Modules run in training mode with dropout 0
(PyTorch's slow path, as during training).

Run: /usr/bin/python3 packages/attention/scripts/gen_fixtures.py
"""
import json
import math
import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'transformer.json')
torch.set_default_dtype(torch.float64)


def t(x):
    if x is None:
        return None
    return {'shape': list(x.shape), 'dtype': 'bool' if x.dtype == torch.bool else 'float64',
            'data': [bool(v) for v in x.flatten().tolist()] if x.dtype == torch.bool else [finite(v) for v in x.flatten().tolist()]}


def finite(v):
    # JSON has no infinities: -inf (causal masks) is written as the string "-Infinity", read with Number().
    return v if math.isfinite(v) else ('-Infinity' if v < 0 else 'Infinity')


def record(name, module, inputs, kwargs, outputs_fn, config):
    """inputs: dict name -> tensor (float ones get gradients); kwargs: masks and flags."""
    for v in inputs.values():
        if v.dtype == torch.float64:
            v.requires_grad_(True)
    outs = outputs_fn(module, inputs, kwargs)
    g = torch.Generator().manual_seed(99)
    rs = [torch.randn(o.shape, generator=g) for o in outs]
    loss = sum((o * r).sum() for o, r in zip(outs, rs))
    loss.backward()
    return {
        'name': name,
        'config': config,
        'params': {k: t(v.detach()) for k, v in module.state_dict().items()},
        'inputs': {k: t(v.detach()) for k, v in inputs.items()},
        'masks': {k: t(v) for k, v in kwargs.items() if isinstance(v, torch.Tensor)},
        'R': [t(r) for r in rs],
        'outputs': [t(o.detach()) for o in outs],
        'grads': {**{k: t(p.grad) for k, p in module.named_parameters()},
                  **{f'input.{k}': t(v.grad) for k, v in inputs.items() if v.dtype == torch.float64}},
    }


def randn(*shape):
    return torch.randn(*shape)


def causal(sz):
    return nn.Transformer.generate_square_subsequent_mask(sz).to(torch.float64)


def main():
    torch.manual_seed(0)
    cases = []
    E, H, L, S, N = 8, 2, 3, 4, 2

    def mha_out(m, i, kw):
        out, w = m(i['query'], i['key'], i['value'], **kw)
        return [out, w] if w is not None else [out]

    # MultiheadAttention -------------------------------------------------------------------------
    m = nn.MultiheadAttention(E, H)
    cases.append(record('mha-seq-first', m, {'query': randn(L, N, E), 'key': randn(S, N, E), 'value': randn(S, N, E)},
                        {}, mha_out, {'embedDim': E, 'numHeads': H}))

    m = nn.MultiheadAttention(E, H, batch_first=True)
    attn_bool = torch.tensor([[False, False, True, True], [False, True, False, True], [False, False, False, True]])
    kpm_bool = torch.tensor([[False, False, False, True], [False, False, True, True]])
    cases.append(record('mha-batch-first-bool-masks-per-head', m,
                        {'query': randn(N, L, E), 'key': randn(N, S, E), 'value': randn(N, S, E)},
                        {'attn_mask': attn_bool, 'key_padding_mask': kpm_bool, 'average_attn_weights': False}, mha_out,
                        {'embedDim': E, 'numHeads': H, 'batchFirst': True, 'averageAttnWeights': False}))

    m = nn.MultiheadAttention(E, H, kdim=5, vdim=6)
    attn_float = torch.randn(N * H, L, S)
    cases.append(record('mha-kdim-vdim-float-mask', m,
                        {'query': randn(L, N, E), 'key': randn(S, N, 5), 'value': randn(S, N, 6)},
                        {'attn_mask': attn_float, 'key_padding_mask': kpm_bool}, mha_out,
                        {'embedDim': E, 'numHeads': H, 'kdim': 5, 'vdim': 6}))

    m = nn.MultiheadAttention(E, 4, bias=False, batch_first=True)
    x = randn(N, L, E)
    cases.append(record('mha-self-no-bias-causal', m, {'query': x},
                        {'attn_mask': causal(L)}, lambda m, i, kw: list(filter(lambda o: o is not None, m(i['query'], i['query'], i['query'], **kw))),
                        {'embedDim': E, 'numHeads': 4, 'bias': False, 'batchFirst': True, 'self': True}))

    m = nn.MultiheadAttention(E, H)
    cases.append(record('mha-unbatched-no-weights', m, {'query': randn(L, E), 'key': randn(S, E), 'value': randn(S, E)},
                        {'key_padding_mask': torch.tensor([False, True, False, False]), 'need_weights': False}, mha_out,
                        {'embedDim': E, 'numHeads': H, 'needWeights': False}))

    # Encoder and decoder layers -----------------------------------------------------------------
    FF = 16
    for norm_first, act, bf in [(False, 'relu', False), (True, 'gelu', True)]:
        layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=act, batch_first=bf, norm_first=norm_first)
        src = randn(N, S, E) if bf else randn(S, N, E)
        cases.append(record(f'encoder-layer-{"pre" if norm_first else "post"}-{act}', layer, {'src': src},
                            {'src_mask': causal(S), 'src_key_padding_mask': kpm_bool},
                            lambda m, i, kw: [m(i['src'], **kw)],
                            {'dModel': E, 'nhead': H, 'dimFeedforward': FF, 'activation': act, 'batchFirst': bf, 'normFirst': norm_first}))
        layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=act, batch_first=bf, norm_first=norm_first)
        tgt = randn(N, L, E) if bf else randn(L, N, E)
        mem = randn(N, S, E) if bf else randn(S, N, E)
        cases.append(record(f'decoder-layer-{"pre" if norm_first else "post"}-{act}', layer, {'tgt': tgt, 'memory': mem},
                            {'tgt_mask': causal(L), 'memory_key_padding_mask': kpm_bool, 'tgt_key_padding_mask': torch.tensor([[False] * L, [False, False, True]])},
                            lambda m, i, kw: [m(i['tgt'], i['memory'], **kw)],
                            {'dModel': E, 'nhead': H, 'dimFeedforward': FF, 'activation': act, 'batchFirst': bf, 'normFirst': norm_first}))

    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0), 2, norm=nn.LayerNorm(E))
    cases.append(record('encoder-stack', enc, {'src': randn(S, N, E)}, {'src_key_padding_mask': kpm_bool},
                        lambda m, i, kw: [m(i['src'], **kw)], {'dModel': E, 'nhead': H, 'dimFeedforward': FF, 'numLayers': 2, 'norm': True}))
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2)
    cases.append(record('decoder-stack', dec, {'tgt': randn(L, N, E), 'memory': randn(S, N, E)}, {'tgt_mask': causal(L)},
                        lambda m, i, kw: [m(i['tgt'], i['memory'], **kw)], {'dModel': E, 'nhead': H, 'dimFeedforward': FF, 'numLayers': 2, 'norm': False}))

    tr = nn.Transformer(E, H, 2, 2, FF, dropout=0.0, batch_first=True)
    cases.append(record('transformer', tr, {'src': randn(N, S, E), 'tgt': randn(N, L, E)},
                        {'tgt_mask': causal(L), 'src_key_padding_mask': kpm_bool, 'memory_key_padding_mask': kpm_bool},
                        lambda m, i, kw: [m(i['src'], i['tgt'], **kw)],
                        {'dModel': E, 'nhead': H, 'numEncoderLayers': 2, 'numDecoderLayers': 2, 'dimFeedforward': FF, 'batchFirst': True}))

    # BERT's encoder layer is a post-norm GELU Transformer encoder layer with eps 1e-12.
    bert = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation='gelu', layer_norm_eps=1e-12, batch_first=True)
    cases.append(record('bert-style-encoder-layer', bert, {'src': randn(N, S, E)}, {'src_key_padding_mask': kpm_bool},
                        lambda m, i, kw: [m(i['src'], **kw)],
                        {'dModel': E, 'nhead': H, 'dimFeedforward': FF, 'activation': 'gelu', 'layerNormEps': 1e-12, 'batchFirst': True}))

    with open(OUT, 'w') as f:
        json.dump({'note': 'non-finite numbers are the strings "-Infinity"/"Infinity"', 'generator': 'packages/attention/scripts/gen_fixtures.py', 'torch': torch.__version__, 'cases': cases}, f)
    print(f'wrote {len(cases)} cases to {OUT}')


if __name__ == '__main__':
    main()

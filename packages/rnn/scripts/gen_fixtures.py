#!/usr/bin/python3
"""Golden fixtures for packages/rnn/test/golden.test.ts (PyTorch 1.13, float64).

recurrent.json: torch.nn.RNN / GRU / LSTM (tanh and relu, 1-2 layers, bidirectional, batch_first,
initial states, packed variable-length input) and RNNCell / GRUCell / LSTMCell. For each case:
the state dict by PyTorch's names, the inputs, the outputs and final states, and the gradients of
the input, the initial states and every parameter for the loss sum_k sum(out_k * R_k), with fixed
random weights R_k per output. Everything is float64 and written with repr (exact round trip).

Packed input: pack_padded_sequence(x, lengths, enforce_sorted=False) and
pad_packed_sequence(total_length=T), so padded outputs are 0, as refnets' `lengths` argument.

Run with Debian's torch: /usr/bin/python3 packages/rnn/scripts/gen_fixtures.py
"""
import json
import os

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'recurrent.json')
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
T, B, I, H = 5, 3, 4, 3


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def enc(t):
    return {'shape': list(t.shape), 'data': flat(t)}


def layer_case(name, kind, num_layers=1, bidirectional=False, batch_first=False, states=False, lengths=None,
               nonlinearity='tanh', bias=True):
    cls = {'rnn': nn.RNN, 'gru': nn.GRU, 'lstm': nn.LSTM}[kind]
    kw = {'nonlinearity': nonlinearity} if kind == 'rnn' else {}
    m = cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias, **kw)
    D = 2 if bidirectional else 1
    x = torch.randn(B, T, I) if batch_first else torch.randn(T, B, I)
    x.requires_grad_(True)
    h0 = (torch.randn(num_layers * D, B, H) * 0.5).requires_grad_(True) if states else None
    c0 = (torch.randn(num_layers * D, B, H) * 0.5).requires_grad_(True) if states and kind == 'lstm' else None
    inp = x
    if lengths is not None:
        inp = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    hx = None
    if states:
        hx = (h0, c0) if kind == 'lstm' else h0
    out, st = m(inp, hx)
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    outs = [out, st[0], st[1]] if kind == 'lstm' else [out, st]
    rs = [torch.randn(*o.shape) for o in outs]
    loss = sum((o * r).sum() for o, r in zip(outs, rs))
    loss.backward()
    return {
        'name': name, 'kind': kind, 'nonlinearity': nonlinearity, 'numLayers': num_layers, 'bidirectional': bidirectional,
        'batchFirst': batch_first, 'bias': bias, 'inputSize': I, 'hiddenSize': H, 'lengths': lengths,
        'stateDict': {k: enc(v) for k, v in m.state_dict().items()},
        'x': enc(x), 'h0': enc(h0) if h0 is not None else None, 'c0': enc(c0) if c0 is not None else None,
        'outputs': [enc(o) for o in outs], 'R': [enc(r) for r in rs],
        'grads': {k: enc(p.grad) for k, p in m.named_parameters()},
        'dx': enc(x.grad), 'dh0': enc(h0.grad) if h0 is not None else None, 'dc0': enc(c0.grad) if c0 is not None else None,
    }


def cell_case(name, kind, nonlinearity='tanh'):
    cls = {'rnn': nn.RNNCell, 'gru': nn.GRUCell, 'lstm': nn.LSTMCell}[kind]
    kw = {'nonlinearity': nonlinearity} if kind == 'rnn' else {}
    m = cls(I, H, **kw)
    x = torch.randn(B, I, requires_grad=True)
    h = torch.randn(B, H, requires_grad=True)
    c = torch.randn(B, H, requires_grad=True)
    outs = list(m(x, (h, c))) if kind == 'lstm' else [m(x, h)]
    rs = [torch.randn(*o.shape) for o in outs]
    sum((o * r).sum() for o, r in zip(outs, rs)).backward()
    return {
        'name': name, 'kind': kind + '-cell', 'nonlinearity': nonlinearity, 'inputSize': I, 'hiddenSize': H,
        'stateDict': {k: enc(v) for k, v in m.state_dict().items()},
        'x': enc(x), 'h0': enc(h), 'c0': enc(c) if kind == 'lstm' else None,
        'outputs': [enc(o) for o in outs], 'R': [enc(r) for r in rs],
        'grads': {k: enc(p.grad) for k, p in m.named_parameters()},
        'dx': enc(x.grad), 'dh0': enc(h.grad), 'dc0': enc(c.grad) if kind == 'lstm' else None,
    }


cases = [
    layer_case('rnn-tanh', 'rnn'),
    layer_case('rnn-relu-2layer-bi-batch-first-states', 'rnn', 2, True, True, True, nonlinearity='relu'),
    layer_case('rnn-tanh-bi-packed', 'rnn', 1, True, False, True, lengths=[5, 2, 4]),
    layer_case('gru', 'gru'),
    layer_case('gru-2layer-bi-states', 'gru', 2, True, False, True),
    layer_case('gru-2layer-bi-batch-first-packed', 'gru', 2, True, True, True, lengths=[3, 5, 1]),
    layer_case('lstm', 'lstm'),
    layer_case('lstm-2layer-bi-batch-first-states', 'lstm', 2, True, True, True),
    layer_case('lstm-2layer-bi-packed', 'lstm', 2, True, False, True, lengths=[2, 5, 4]),
    layer_case('lstm-no-bias', 'lstm', 1, False, False, True, bias=False),
    cell_case('rnn-cell', 'rnn'),
    cell_case('rnn-cell-relu', 'rnn', 'relu'),
    cell_case('gru-cell', 'gru'),
    cell_case('lstm-cell', 'lstm'),
]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f)
print(f'wrote {len(cases)} cases to {OUT}')

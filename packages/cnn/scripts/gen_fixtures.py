#!/usr/bin/python3
"""Golden fixtures for packages/cnn/test (PyTorch 1.13, torchvision 0.14):

  <model>.json   torchvision's alexnet, vgg11, googlenet, resnet18, resnet50 and densenet121 with deterministic
                 weights, run at 224x224: the logits (test/torchvision.test.ts)
  layers.json    conv, transposed conv, pooling, batch norm and LRN forward and autograd backward in
                 float64 (test/golden-layers.test.ts)
  layouts.json   state-dict keys and shapes, parameter counts and conv/linear MACs of the other
                 torchvision builders (test/models.test.ts)

For the models:

The weights are too big to commit, so every state-dict tensor is filled with a formula that
packages/cnn/test/helpers/fixture-weights.ts reproduces bit for bit:

  u(t, i)  = a uniform in [-1, 1) from a 32-bit integer hash of the tensor number t (its position in
             the state dict) and the element index i (murmur3's fmix32 finaliser), exactly
             (h >> 8) * 2^-23 - 1, so it has 24 significant bits
  value    = float32(center + spread * u(t, i)), computed in float64 from these exact inputs and
             rounded once to float32 (the same IEEE operations in numpy and JavaScript)

with (center, spread) by kind of tensor:
  weight of rank >= 2 (conv, linear)   0, gain / sqrt(fan_in), fan_in = numel / shape[0]
  batch-norm weight (rank-1 weight)    bn_weight_center, bn_weight
  batch-norm bias (module has stats)   0, bn_bias
  other bias                           0, bias
  running_mean                         0, running_mean
  running_var                          1, running_var   (spread < 1, so positive)
  num_batches_tracked                  left at 0
and the input image, 1x3x224x224, is u(INPUT_T, i).

The models run in eval mode in float32 (the reference) and float64 (to record how far float32
itself is from exact). Each fixture stores the formula parameters, the state-dict keys and shapes
in torchvision's order, the logits and the float32-vs-float64 gap.

Run with Debian's torch/torchvision (PyTorch 1.13, torchvision 0.14), all fixtures or some:
  /usr/bin/python3 packages/cnn/scripts/gen_fixtures.py [layers] [layouts] [model ...]
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torchvision

INPUT_T = 1_000_003
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')

# gain 2 keeps the activations' scale roughly constant through ReLU layers (uniform[-1, 1) has
# variance 1/3, so the weight variance is 4/(3 fan_in), a little under He's 2/fan_in) and the logits
# of order 1 to 10, so an absolute tolerance of 1e-4 is a meaningful test.
FORMULA = {
    'hash': 'murmur3-fmix32((i * 0x9E3779B1 + t * 0x85EBCA77 + 0x165667B1) mod 2^32); u = (h >>> 8) * 2^-23 - 1',
    'inputT': INPUT_T,
    'gain': 2.0,
    'bias': 0.1,
    'bnWeightCenter': 1.0,
    'bnWeight': 0.2,
    'bnBias': 0.1,
    'runningMean': 0.1,
    'runningVar': 0.5,
}

# Per-model overrides of FORMULA. In eval mode the batch norms do not renormalise, so every residual
# block adds its branch's variance to the trunk's: with gamma around 1 the ResNet logits reach 35
# (resnet18) and 53 (resnet50), where float32 rounding alone differs by 2e-5 and 8e-5. Gamma
# around 0.7 keeps them of order 1 (float32 vs float64 about 1.5e-6).
OVERRIDES = {
    'resnet18': {'bnWeightCenter': 0.7},
    'resnet50': {'bnWeightCenter': 0.7},
}

BUILDERS = {
    'alexnet': lambda: torchvision.models.alexnet(),
    'vgg11': lambda: torchvision.models.vgg11(),
    'googlenet': lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True),
    'resnet18': lambda: torchvision.models.resnet18(),
    'resnet50': lambda: torchvision.models.resnet50(),
    'densenet121': lambda: torchvision.models.densenet121(),
}


def uniform(t: int, n: int) -> np.ndarray:
    """u(t, i) for i < n, in float64 (exact: 24 significant bits)."""
    i = np.arange(n, dtype=np.uint32)
    base = np.uint32((t * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF)
    with np.errstate(over='ignore'):
        h = i * np.uint32(0x9E3779B1) + base
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        h ^= h >> np.uint32(16)
    return (h >> np.uint32(8)).astype(np.float64) * 2.0 ** -23 - 1.0


def center_spread(key: str, shape: tuple, keys: list, f: dict):
    """(center, spread) of a state-dict tensor, or None to leave it alone."""
    if key.endswith('num_batches_tracked'):
        return None
    if key.endswith('running_mean'):
        return 0.0, f['runningMean']
    if key.endswith('running_var'):
        return 1.0, f['runningVar']
    if key.endswith('weight') and len(shape) >= 2:
        fan_in = math.prod(shape) // shape[0]
        return 0.0, f['gain'] / math.sqrt(fan_in)
    if key.endswith('weight'):
        return f['bnWeightCenter'], f['bnWeight']
    if key.endswith('bias'):
        is_bn = key[: -len('bias')] + 'running_mean' in keys
        return 0.0, f['bnBias'] if is_bn else f['bias']
    raise ValueError(f'no rule for {key}')


def fill(model: torch.nn.Module, f: dict) -> None:
    sd = model.state_dict()
    keys = list(sd.keys())
    with torch.no_grad():
        for t, (k, v) in enumerate(sd.items()):
            cs = center_spread(k, tuple(v.shape), keys, f)
            if cs is None:
                continue
            c, s = cs
            vals = (c + s * uniform(t, v.numel())).astype(np.float32)
            v.copy_(torch.from_numpy(vals).reshape(v.shape))


# ---- layer golden: forward and autograd backward in float64 -----------------------------------
#
# Each case fills its tensors with the same hash (exact in float64 on both sides): the input with
# u(1, i), the weight with u(2, i) / sqrt(fan_in), the bias with 0.1 u(3, i), batch-norm gamma
# with 1 + 0.2 u(2, i), beta with 0.1 u(3, i), running mean 0.1 u(5, i), running var 1 + 0.5 u(6, i),
# and the upstream gradient dL/dy with u(4, i). The fixture stores y, dL/dx and dL/d(parameter),
# so test/golden-layers.test.ts compares refnets' forward and backward with PyTorch's autograd.

LAYER_CASES = [
    # name, layer, options (refnets' spelling), input shape
    ('conv2d 3x3 padding 1', 'conv2d', {'inChannels': 4, 'outChannels': 6, 'kernelSize': 3, 'padding': 1}, [2, 4, 7, 7]),
    ('conv2d stride 2 valid', 'conv2d', {'inChannels': 4, 'outChannels': 5, 'kernelSize': 3, 'stride': 2, 'padding': 'valid'}, [2, 4, 8, 7]),
    ('conv2d kernel [3, 2] stride [2, 1] padding [1, 0] dilation [2, 1]', 'conv2d',
     {'inChannels': 3, 'outChannels': 4, 'kernelSize': [3, 2], 'stride': [2, 1], 'padding': [1, 0], 'dilation': [2, 1]}, [2, 3, 9, 6]),
    ('conv2d groups 2 dilation 2 padding 2', 'conv2d', {'inChannels': 4, 'outChannels': 6, 'kernelSize': 3, 'groups': 2, 'dilation': 2, 'padding': 2}, [2, 4, 7, 7]),
    ('conv2d depthwise stride 2 no bias', 'conv2d', {'inChannels': 4, 'outChannels': 8, 'kernelSize': 3, 'groups': 4, 'stride': 2, 'padding': 1, 'bias': False}, [2, 4, 7, 7]),
    ("conv2d 'same' even kernel", 'conv2d', {'inChannels': 3, 'outChannels': 4, 'kernelSize': 4, 'padding': 'same'}, [2, 3, 6, 7]),
    ('conv2d padding per side [2, 0, 1, 3]', 'conv2d', {'inChannels': 3, 'outChannels': 4, 'kernelSize': 3, 'padding': [2, 0, 1, 3]}, [2, 3, 6, 6]),
    ('conv-transpose2d stride 2 padding 1 outputPadding 1', 'convTranspose2d',
     {'inChannels': 4, 'outChannels': 3, 'kernelSize': 3, 'stride': 2, 'padding': 1, 'outputPadding': 1}, [2, 4, 4, 5]),
    ('conv-transpose2d kernel 4 stride 2 padding 1 no bias (FCN)', 'convTranspose2d',
     {'inChannels': 3, 'outChannels': 3, 'kernelSize': 4, 'stride': 2, 'padding': 1, 'bias': False}, [1, 3, 4, 4]),
    ('conv-transpose2d groups 2 dilation 2 stride [2, 3] outputPadding [1, 0]', 'convTranspose2d',
     {'inChannels': 4, 'outChannels': 6, 'kernelSize': 3, 'stride': [2, 3], 'padding': [1, 0], 'outputPadding': [1, 0], 'groups': 2, 'dilation': 2}, [2, 4, 3, 4]),
    ('max-pool2d 3x3 stride 2 padding 1', 'maxPool2d', {'kernelSize': 3, 'stride': 2, 'padding': 1}, [2, 3, 7, 7]),
    ('max-pool2d 3x3 stride 2 ceil mode', 'maxPool2d', {'kernelSize': 3, 'stride': 2, 'ceilMode': True}, [2, 3, 8, 8]),
    ('max-pool2d 2x2 stride 1 dilation 2', 'maxPool2d', {'kernelSize': 2, 'stride': 1, 'dilation': 2}, [1, 3, 6, 6]),
    ('avg-pool2d 3x3 stride 2 padding 1 ceil mode', 'avgPool2d', {'kernelSize': 3, 'stride': 2, 'padding': 1, 'ceilMode': True}, [2, 3, 8, 8]),
    ('avg-pool2d 3x3 stride 2 padding 1 ceil mode countIncludePad false', 'avgPool2d',
     {'kernelSize': 3, 'stride': 2, 'padding': 1, 'ceilMode': True, 'countIncludePad': False}, [2, 3, 8, 8]),
    ('adaptive-avg-pool2d [3, 4] from 7x7', 'adaptiveAvgPool2d', {'outputSize': [3, 4]}, [2, 3, 7, 7]),
    ('batch-norm2d training', 'batchNorm2d', {'numFeatures': 3, 'training': True}, [4, 3, 5, 5]),
    ('batch-norm2d eval', 'batchNorm2d', {'numFeatures': 3, 'training': False}, [4, 3, 5, 5]),
    ('local-response-norm size 5 (AlexNet)', 'localResponseNorm', {'size': 5, 'alpha': 5e-4, 'beta': 0.75, 'k': 2.0}, [2, 7, 3, 3]),
]


def hashed(t: int, shape, center=0.0, spread=1.0) -> torch.Tensor:
    n = math.prod(shape)
    return torch.from_numpy(center + spread * uniform(t, n)).reshape(shape)


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def torch_layer(kind: str, o: dict):
    nn = torch.nn
    if kind == 'conv2d':
        pad = o.get('padding', 0)
        pre = None
        if isinstance(pad, list) and len(pad) == 4:  # [top, left, bottom, right] -> F.pad (left, right, top, bottom)
            pre = (pad[1], pad[3], pad[0], pad[2])
            pad = 0
        elif isinstance(pad, list):
            pad = tuple(pad)
        m = nn.Conv2d(o['inChannels'], o['outChannels'], pair(o['kernelSize']), stride=pair(o.get('stride', 1)), padding=pad,
                      dilation=pair(o.get('dilation', 1)), groups=o.get('groups', 1), bias=o.get('bias', True))
        if pre is None:
            return m
        return m, lambda x: m(torch.nn.functional.pad(x, pre))
    if kind == 'convTranspose2d':
        return nn.ConvTranspose2d(o['inChannels'], o['outChannels'], pair(o['kernelSize']), stride=pair(o.get('stride', 1)),
                                  padding=pair(o.get('padding', 0)), output_padding=pair(o.get('outputPadding', 0)),
                                  groups=o.get('groups', 1), dilation=pair(o.get('dilation', 1)), bias=o.get('bias', True))
    if kind == 'maxPool2d':
        return nn.MaxPool2d(o['kernelSize'], stride=o.get('stride'), padding=o.get('padding', 0), dilation=o.get('dilation', 1),
                            ceil_mode=o.get('ceilMode', False))
    if kind == 'avgPool2d':
        return nn.AvgPool2d(o['kernelSize'], stride=o.get('stride'), padding=o.get('padding', 0), ceil_mode=o.get('ceilMode', False),
                            count_include_pad=o.get('countIncludePad', True))
    if kind == 'adaptiveAvgPool2d':
        return nn.AdaptiveAvgPool2d(tuple(o['outputSize']))
    if kind == 'batchNorm2d':
        return nn.BatchNorm2d(o['numFeatures'])
    if kind == 'localResponseNorm':
        return nn.LocalResponseNorm(o['size'], alpha=o['alpha'], beta=o['beta'], k=o['k'])
    raise ValueError(kind)


def flat(t: torch.Tensor):
    return [float(v) for v in t.detach().flatten()]


def layer_fixture():
    cases = []
    for name, kind, opts, shape in LAYER_CASES:
        built = torch_layer(kind, opts)
        m, run = built if isinstance(built, tuple) else (built, built)
        m = m.double()
        with torch.no_grad():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = opts['numFeatures']
                m.weight.copy_(hashed(2, [c], 1.0, 0.2))
                m.bias.copy_(hashed(3, [c], 0.0, 0.1))
                m.running_mean.copy_(hashed(5, [c], 0.0, 0.1))
                m.running_var.copy_(hashed(6, [c], 1.0, 0.5))
                m.train(opts['training'])
            elif hasattr(m, 'weight'):
                w = m.weight
                fan_in = w.numel() // w.shape[0]
                w.copy_(hashed(2, list(w.shape), 0.0, 1.0 / math.sqrt(fan_in)))
                if m.bias is not None:
                    m.bias.copy_(hashed(3, list(m.bias.shape), 0.0, 0.1))
        x = hashed(1, shape).requires_grad_(True)
        y = run(x)
        dy = hashed(4, list(y.shape))
        y.backward(dy)
        case = {'name': name, 'layer': kind, 'options': opts, 'inputShape': shape, 'outputShape': list(y.shape), 'y': flat(y), 'dx': flat(x.grad)}
        if getattr(m, 'weight', None) is not None:
            case['dweight'] = flat(m.weight.grad)
        if getattr(m, 'bias', None) is not None:
            case['dbias'] = flat(m.bias.grad)
        if isinstance(m, torch.nn.BatchNorm2d):
            case['runningMean'] = flat(m.running_mean)
            case['runningVar'] = flat(m.running_var)
        cases.append(case)
    out = {
        'torch': torch.__version__,
        'hash': FORMULA['hash'],
        'fill': {'input': [1, 0, 1], 'weight': [2, 0, '1/sqrt(fan_in)'], 'bias': [3, 0, 0.1], 'bnWeight': [2, 1, 0.2], 'bnBias': [3, 0, 0.1],
                 'runningMean': [5, 0, 0.1], 'runningVar': [6, 1, 0.5], 'dy': [4, 0, 1]},
        'cases': cases,
    }
    with open(os.path.join(OUT_DIR, 'layers.json'), 'w') as fh:
        json.dump(out, fh)
    print(f'layers: {len(cases)} cases')


# ---- layouts: state-dict keys, shapes, parameter counts and MACs of torchvision's builders ----------

LAYOUT_BUILDERS = {
    'alexnet': lambda: torchvision.models.alexnet(),
    'vgg13': lambda: torchvision.models.vgg13(init_weights=False),
    'vgg16': lambda: torchvision.models.vgg16(init_weights=False),
    'vgg19': lambda: torchvision.models.vgg19(init_weights=False),
    'vgg11_bn': lambda: torchvision.models.vgg11_bn(init_weights=False),
    'vgg13_bn': lambda: torchvision.models.vgg13_bn(init_weights=False),
    'vgg16_bn': lambda: torchvision.models.vgg16_bn(init_weights=False),
    'vgg19_bn': lambda: torchvision.models.vgg19_bn(init_weights=False),
    'googlenet': lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
    'resnet18': lambda: torchvision.models.resnet18(),
    'resnet34': lambda: torchvision.models.resnet34(),
    'resnet101': lambda: torchvision.models.resnet101(),
    'resnet152': lambda: torchvision.models.resnet152(),
}


def macs(model: torch.nn.Module, size: int = 224) -> int:
    """Multiply-accumulates of one 1x3xSxS forward: conv kh kw (c_in / g) c_out H_out W_out, linear in out + out."""
    total = [0]

    def conv(m, _, y):
        kh, kw = m.kernel_size
        total[0] += kh * kw * (m.in_channels // m.groups) * m.out_channels * y.shape[0] * y.shape[2] * y.shape[3]

    def linear(m, x, _):
        rows = x[0].numel() // m.in_features
        total[0] += rows * (m.in_features * m.out_features + (m.out_features if m.bias is not None else 0))

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks += [m.register_forward_hook(linear) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total[0]


def layout_fixture():
    out = {'torch': torch.__version__, 'torchvision': torchvision.__version__, 'models': {}}
    for name, build in LAYOUT_BUILDERS.items():
        model = build()
        out['models'][name] = {
            'keys': [[k, list(v.shape)] for k, v in model.state_dict().items()],
            'parameters': sum(p.numel() for p in model.parameters()),
            'macs224': macs(model),
        }
        print(f"layouts: {name} {out['models'][name]['parameters']:,} parameters, {out['models'][name]['macs224']:,} MACs")
    with open(os.path.join(OUT_DIR, 'layouts.json'), 'w') as fh:
        json.dump(out, fh)


def main(names):
    torch.set_num_threads(os.cpu_count() or 1)
    os.makedirs(OUT_DIR, exist_ok=True)
    if 'layers' in names:
        layer_fixture()
    if 'layouts' in names:
        layout_fixture()
    names = [n for n in names if n not in ('layers', 'layouts')]
    x64 = torch.from_numpy(uniform(INPUT_T, 3 * 224 * 224).astype(np.float32).astype(np.float64)).reshape(1, 3, 224, 224)
    for name in names:
        f = {**FORMULA, **OVERRIDES.get(name, {})}
        torch.manual_seed(0)
        model = BUILDERS[name]().eval()
        fill(model, f)
        sd = model.state_dict()
        t0 = time.time()
        with torch.no_grad():
            y32 = model(x64.float()).double()
            y64 = model.double()(x64)
        secs = time.time() - t0
        gap = (y32 - y64).abs().max().item()
        out = {
            'model': name,
            'torch': torch.__version__,
            'torchvision': torchvision.__version__,
            'formula': f,
            'keys': [[k, list(v.shape)] for k, v in sd.items()],
            'inputShape': [1, 3, 224, 224],
            # float32 values: 8 significant digits (a relative change below 1e-8) keep the file small.
            'logits': [float(f'{v:.8g}') for v in y32.flatten().tolist()],
            'logits64': [float(v) for v in y64.flatten()],
            'float32VsFloat64MaxAbs': gap,
        }
        with open(os.path.join(OUT_DIR, f'{name}.json'), 'w') as fh:
            json.dump(out, fh)
        print(f'{name}: {len(sd)} tensors, logits mean {y64.mean().item():.3f} std {y64.std().item():.3f} '
              f'max |y| {y64.abs().max().item():.3f}, float32 vs float64 {gap:.2e}, {secs:.1f}s')


if __name__ == '__main__':
    main(sys.argv[1:] or ['layers', 'layouts', *BUILDERS])

#!/usr/bin/python3
"""Golden fixtures for the convolution and pooling ops of @refnets/core, from PyTorch (float64).

Run with the system interpreter that has Debian's python3-torch:

    /usr/bin/python3 packages/core/scripts/gen_conv_fixtures.py

Writes packages/core/test/fixtures/conv.json, read by test/golden-conv.test.ts. Each case holds the
refnets options (same names as the TypeScript API), the inputs, a fixed upstream gradient `gy`, the
forward output `y` and the gradients of sum(y * gy) with respect to every input. A tensor is
{"shape": [...], "data": [...]} (flat, row-major).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def t(a):
    return {"shape": list(a.shape), "data": a.detach().reshape(-1).tolist()}


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def case(name, fn, inputs, options):
    """Run fn(*inputs), then backward a fixed random upstream gradient; record everything."""
    leaves = [a.clone().requires_grad_(True) if a is not None else None for a in inputs]
    y = fn(*leaves)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    out = {"name": name, "options": options, "y": t(y), "gy": t(gy)}
    for key, a in zip(["x", "w", "b"], leaves):
        if a is not None:
            out[key] = t(a)
            out["g" + key] = t(a.grad)
    return out


def same_pads(n, k, s, d):
    """'same' for any stride: output ceil(n / s), the extra padding at the end (ONNX SAME_UPPER)."""
    total = max(0, (math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n)
    return total // 2, total - total // 2


def conv_ref(opts):
    """conv2d with refnets' padding forms: int, [ph, pw], [top, left, bottom, right], 'valid', 'same'."""
    s, d, g = pair(opts.get("stride", 1)), pair(opts.get("dilation", 1)), opts.get("groups", 1)
    p = opts.get("padding", 0)

    def fn(x, w, b=None):
        if p == "same":
            (t_, b_), (l_, r_) = same_pads(x.shape[2], w.shape[2], s[0], d[0]), same_pads(x.shape[3], w.shape[3], s[1], d[1])
            pads = [t_, l_, b_, r_]
        elif p == "valid":
            pads = [0, 0, 0, 0]
        elif isinstance(p, int):
            pads = [p, p, p, p]
        elif len(p) == 2:
            pads = [p[0], p[1], p[0], p[1]]
        else:
            pads = list(p)
        xp = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))  # F.pad order: left, right, top, bottom
        return F.conv2d(xp, w, b, stride=s, dilation=d, groups=g)

    return fn


def randn(*shape):
    return torch.randn(*shape)


conv2d = [
    case("basic 3x3", conv_ref({}), [randn(2, 3, 7, 6), randn(4, 3, 3, 3), randn(4)], {}),
    case("stride 2 padding 1", conv_ref({"stride": 2, "padding": 1}), [randn(2, 3, 7, 8), randn(4, 3, 3, 3), randn(4)], {"stride": 2, "padding": 1}),
    case("dilation 2 padding 2", conv_ref({"dilation": 2, "padding": 2}), [randn(1, 2, 8, 7), randn(3, 2, 3, 3), None], {"dilation": 2, "padding": 2}),
    case("groups 2, stride [2, 1], padding [1, 0]", conv_ref({"groups": 2, "stride": [2, 1], "padding": [1, 0]}),
         [randn(2, 4, 6, 6), randn(6, 2, 3, 3), randn(6)], {"groups": 2, "stride": [2, 1], "padding": [1, 0]}),
    case("depthwise", conv_ref({"groups": 4, "padding": 1}), [randn(2, 4, 5, 5), randn(4, 1, 3, 3), None], {"groups": 4, "padding": 1}),
    case("depthwise multiplier 2", conv_ref({"groups": 3, "stride": 2}), [randn(1, 3, 7, 7), randn(6, 1, 3, 3), randn(6)], {"groups": 3, "stride": 2}),
    case("same, even kernel", conv_ref({"padding": "same"}), [randn(1, 2, 6, 5), randn(3, 2, 4, 3), randn(3)], {"padding": "same"}),
    case("same, stride 2", conv_ref({"padding": "same", "stride": 2}), [randn(1, 2, 7, 6), randn(3, 2, 3, 3), randn(3)], {"padding": "same", "stride": 2}),
    case("same, dilation 2", conv_ref({"padding": "same", "dilation": 2}), [randn(1, 2, 6, 6), randn(2, 2, 3, 2), None], {"padding": "same", "dilation": 2}),
    case("valid", conv_ref({"padding": "valid"}), [randn(1, 2, 5, 6), randn(2, 2, 2, 3), randn(2)], {"padding": "valid"}),
    case("asymmetric padding [2, 0, 1, 3]", conv_ref({"padding": [2, 0, 1, 3]}), [randn(2, 2, 5, 4), randn(3, 2, 3, 3), randn(3)], {"padding": [2, 0, 1, 3]}),
    case("1x1", conv_ref({}), [randn(2, 5, 4, 3), randn(3, 5, 1, 1), randn(3)], {}),
    case("1x1 stride 2", conv_ref({"stride": 2}), [randn(2, 4, 5, 5), randn(6, 4, 1, 1), None], {"stride": 2}),
    case("5x5 stride [1, 3] dilation [2, 1] groups 2", conv_ref({"stride": [1, 3], "dilation": [2, 1], "groups": 2, "padding": [3, 1]}),
         [randn(1, 4, 9, 10), randn(2, 2, 5, 5), randn(2)], {"stride": [1, 3], "dilation": [2, 1], "groups": 2, "padding": [3, 1]}),
]


def conv_t_ref(opts):
    s, d, g = pair(opts.get("stride", 1)), pair(opts.get("dilation", 1)), opts.get("groups", 1)
    p, op = pair(opts.get("padding", 0)), pair(opts.get("outputPadding", 0))
    return lambda x, w, b=None: F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d)


def conv_t(name, x, w, b, opts):
    return case(name, conv_t_ref(opts), [x, w, b], opts)


conv_transpose2d = [
    conv_t("stride 2 padding 1 outputPadding 1", randn(2, 3, 4, 4), randn(3, 2, 3, 3), randn(2), {"stride": 2, "padding": 1, "outputPadding": 1}),
    conv_t("groups 2 stride 2", randn(1, 4, 3, 3), randn(4, 3, 3, 3), randn(6), {"groups": 2, "stride": 2}),
    conv_t("dilation 2 outputPadding 1", randn(1, 2, 4, 3), randn(2, 3, 3, 3), None, {"dilation": 2, "padding": 1, "outputPadding": 1}),
    conv_t("upsample x2 (FCN, kernel 4)", randn(1, 2, 3, 3), randn(2, 2, 4, 4), None, {"stride": 2, "padding": 1}),
    conv_t("stride [2, 3] kernel [2, 3]", randn(2, 2, 3, 2), randn(2, 3, 2, 3), randn(3), {"stride": [2, 3]}),
    conv_t("1x1", randn(2, 3, 3, 3), randn(3, 2, 1, 1), randn(2), {}),
]

conv1d = [
    case("stride 2 padding 1", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [randn(2, 3, 9), randn(4, 3, 3), randn(4)], {"stride": 2, "padding": 1}),
    case("dilation 2 groups 2", lambda x, w: F.conv1d(x, w, None, dilation=2, groups=2), [randn(1, 4, 8), randn(2, 2, 3)], {"dilation": 2, "groups": 2}),
]


def max_ref(o):
    k = o["kernelSize"]
    return lambda x: F.max_pool2d(x, k, o.get("stride", k), o.get("padding", 0), o.get("dilation", 1), o.get("ceilMode", False))


def avg_ref(o):
    k = o["kernelSize"]
    return lambda x: F.avg_pool2d(x, k, o.get("stride", k), o.get("padding", 0), o.get("ceilMode", False), o.get("countIncludePad", True))


max_pool2d = [case(json.dumps(o), max_ref(o), [randn(*shape)], o) for shape, o in [
    ((2, 3, 6, 6), {"kernelSize": 2}),
    ((1, 2, 9, 8), {"kernelSize": 3, "stride": 2, "padding": 1}),
    ((1, 2, 8, 8), {"kernelSize": 3, "stride": 2, "ceilMode": True}),
    ((1, 2, 9, 10), {"kernelSize": 3, "stride": 2, "padding": 1, "ceilMode": True}),
    ((1, 2, 9, 9), {"kernelSize": 2, "stride": 2, "dilation": 2, "padding": 1}),
    ((1, 1, 7, 9), {"kernelSize": [2, 3], "stride": [1, 2], "padding": [1, 1]}),
    ((1, 2, 5, 5), {"kernelSize": 3, "stride": 1, "padding": 1}),
]]

avg_pool2d = [case(json.dumps(o), avg_ref(o), [randn(*shape)], o) for shape, o in [
    ((2, 3, 6, 6), {"kernelSize": 2}),
    ((1, 2, 7, 8), {"kernelSize": 3, "stride": 2, "padding": 1}),
    ((1, 2, 7, 8), {"kernelSize": 3, "stride": 2, "padding": 1, "countIncludePad": False}),
    ((1, 2, 6, 6), {"kernelSize": 3, "stride": 2, "padding": 1, "ceilMode": True}),
    ((1, 2, 6, 6), {"kernelSize": 3, "stride": 2, "padding": 1, "ceilMode": True, "countIncludePad": False}),
    ((1, 1, 5, 5), {"kernelSize": 2, "stride": 2, "ceilMode": True}),
    ((1, 1, 9, 7), {"kernelSize": [3, 2], "stride": [2, 1], "padding": [1, 1]}),
]]

adaptive_avg_pool2d = [case(f"{shape} -> {o}", lambda x, o=o: F.adaptive_avg_pool2d(x, o), [randn(*shape)], {"outputSize": o}) for shape, o in [
    ((2, 2, 5, 7), [3, 4]),
    ((1, 3, 6, 6), [2, 3]),
    ((1, 2, 4, 5), [1, 1]),
    ((1, 2, 3, 3), [5, 4]),
]]

adaptive_max_pool2d = [case(f"{shape} -> {o}", lambda x, o=o: F.adaptive_max_pool2d(x, o), [randn(*shape)], {"outputSize": o}) for shape, o in [
    ((2, 2, 5, 7), [3, 4]),
    ((1, 3, 6, 4), [3, 2]),
    ((1, 2, 4, 5), [1, 1]),
]]

local_response_norm = [case(json.dumps(o), lambda x, o=o: F.local_response_norm(x, o["size"], o.get("alpha", 1e-4), o.get("beta", 0.75), o.get("k", 1.0)), [randn(*shape)], o)
                       for shape, o in [
    ((2, 7, 3, 3), {"size": 5}),
    ((2, 7, 3, 3), {"size": 5, "alpha": 0.5, "beta": 0.75, "k": 2.0}),
    ((1, 6, 2, 3), {"size": 4, "alpha": 0.8, "beta": 0.5, "k": 1.0}),
    ((1, 5, 4), {"size": 3, "alpha": 1.0, "beta": 1.0, "k": 0.5}),
]]

fixtures = {
    "generator": "packages/core/scripts/gen_conv_fixtures.py",
    "torch": torch.__version__,
    "conv2d": conv2d,
    "convTranspose2d": conv_transpose2d,
    "conv1d": conv1d,
    "maxPool2d": max_pool2d,
    "avgPool2d": avg_pool2d,
    "adaptiveAvgPool2d": adaptive_avg_pool2d,
    "adaptiveMaxPool2d": adaptive_max_pool2d,
    "localResponseNorm": local_response_norm,
}

out = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "conv.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(fixtures, f)
print(f"wrote {os.path.normpath(out)}: " + ", ".join(f"{k} {len(v)}" for k, v in fixtures.items() if isinstance(v, list)))

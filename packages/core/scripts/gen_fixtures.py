#!/usr/bin/python3
"""Golden fixtures for the layers, losses, normalisation, optimisers and schedulers of @refnets/core.

Run with the system interpreter that has Debian's python3-torch:

    /usr/bin/python3 packages/core/scripts/gen_fixtures.py

Writes, in packages/core/test/fixtures/:

- mlp.json     Linear(5, 7) -> activation -> Linear(7, 3) for every refnets activation (float64):
               weights, input, output and the gradients of sum(y * gy) for a fixed upstream gy.
- losses.json  every loss with each reduction (and its options): value and input gradient.
- norm.json    BatchNorm1d over three training steps (running statistics after each), then eval;
               LayerNorm with affine parameters.
- optim.json   20 steps of each optimiser configuration on a fixed Rosenbrock-plus-quadratic
               objective, and 20 epochs of each learning-rate schedule.
- mlp.safetensors + mlp-safetensors.json
               a float32 Sequential(Linear(4, 8), ReLU, Linear(8, 3)) state dict, written with
               numpy in the safetensors layout (no safetensors package), an input and the output.

A tensor is {"shape": [...], "data": [...]} (flat, row-major). Options use the refnets (TypeScript)
names; this script translates them to PyTorch's. Everything is float64 except the safetensors MLP.
"""
import json
import os
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
# PyTorch's SequentialLR steps its parts with an explicit epoch at the milestones and warns about it.
warnings.filterwarnings("ignore", message="The epoch parameter")
torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")


def t(a):
    return {"shape": list(a.shape), "data": a.detach().reshape(-1).tolist()}


def ti(a):
    """An integer tensor (class targets)."""
    return {"shape": list(a.shape), "data": [int(v) for v in a.reshape(-1).tolist()]}


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---- mlp.json ------------------------------------------------------------------------------
#
# (name, refnets/torch class name, constructor args): the argument order is the same in both.
ACTIVATIONS = [
    ("Sigmoid", "Sigmoid", []),
    ("Tanh", "Tanh", []),
    ("ReLU", "ReLU", []),
    ("LeakyReLU(0.1)", "LeakyReLU", [0.1]),
    ("PReLU(1)", "PReLU", [1, 0.25]),
    ("PReLU(7) per channel", "PReLU", [7, 0.25]),
    ("ELU", "ELU", []),
    ("ELU(0.5)", "ELU", [0.5]),
    ("SELU", "SELU", []),
    ("SiLU", "SiLU", []),
    ("Mish", "Mish", []),
    ("GELU exact", "GELU", ["none"]),
    ("GELU tanh", "GELU", ["tanh"]),
    ("Softplus", "Softplus", []),
    # beta x > threshold for part of the batch: the linear branch is exercised too.
    ("Softplus(2, 3)", "Softplus", [2, 3]),
    ("Hardsigmoid", "Hardsigmoid", []),
]


class ExactHardsigmoid(nn.Module):
    """clamp(x / 6 + 1/2, 0, 1): the same forward as nn.Hardsigmoid.

    NOTE: PyTorch 1.13's hardsigmoid backward multiplies by 1/6 rounded to float32 even for float64
    (0.16666667163..., off by 5e-9), so its gradients are wrong in the 8th digit; clamp's backward
    is exact (the two differ only at exactly x = +-3, which random inputs never hit).
    """

    def forward(self, x):
        return (x / 6 + 0.5).clamp(0, 1)


def mlp_case(name, cls, args):
    act = ExactHardsigmoid() if cls == "Hardsigmoid" else getattr(nn, cls)(*args)
    model = nn.Sequential(nn.Linear(5, 7), act, nn.Linear(7, 3))
    with torch.no_grad():
        # Pre-activations of a few units, so both sides of every kink and both softplus branches occur.
        model[0].weight.copy_(torch.randn(7, 5))
        model[0].bias.copy_(torch.randn(7) * 0.5)
        model[2].weight.copy_(torch.randn(3, 7) * 0.5)
        model[2].bias.copy_(torch.randn(3) * 0.5)
        if cls == "PReLU":
            model[1].weight.copy_(torch.rand(args[0]) * 0.6 - 0.1)
    params = {k: t(v) for k, v in model.state_dict().items()}
    x = torch.randn(4, 5).requires_grad_(True)
    y = model(x)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    grads = {"x": t(x.grad)}
    for k, p in model.named_parameters():
        grads[k] = t(p.grad)
    return {"name": name, "activation": cls, "args": args, "params": params, "x": t(x), "y": t(y), "gy": t(gy), "grads": grads}


def gen_mlp():
    write("mlp.json", {"cases": [mlp_case(*a) for a in ACTIVATIONS]})


# ---- losses.json ---------------------------------------------------------------------------

def loss_case(name, fn, options, inp, target, tensors=None):
    """fn: the refnets functional name; options: refnets names (tensors given separately)."""
    tensors = tensors or {}
    x = inp.clone().requires_grad_(True)
    red = options.get("reduction", "mean")
    if fn == "mseLoss":
        y = F.mse_loss(x, target, reduction=red)
    elif fn == "l1Loss":
        y = F.l1_loss(x, target, reduction=red)
    elif fn == "huberLoss":
        y = F.huber_loss(x, target, reduction=red, delta=options["delta"])
    elif fn == "smoothL1Loss":
        y = F.smooth_l1_loss(x, target, reduction=red, beta=options["beta"])
    elif fn == "binaryCrossEntropy":
        y = F.binary_cross_entropy(x, target, weight=tensors.get("weight"), reduction=red)
    elif fn == "binaryCrossEntropyWithLogits":
        y = F.binary_cross_entropy_with_logits(x, target, weight=tensors.get("weight"), pos_weight=tensors.get("posWeight"), reduction=red)
    elif fn == "crossEntropy":
        y = F.cross_entropy(x, target, weight=tensors.get("weight"), ignore_index=options.get("ignoreIndex", -100),
                            reduction=red, label_smoothing=options.get("labelSmoothing", 0.0))
    elif fn == "nllLoss":
        y = F.nll_loss(x, target, weight=tensors.get("weight"), ignore_index=options.get("ignoreIndex", -100), reduction=red)
    elif fn == "multiMarginLoss":
        y = F.multi_margin_loss(x, target, margin=options.get("margin", 1.0), weight=tensors.get("weight"), reduction=red)
    else:
        raise ValueError(fn)
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    integer = target.dtype == torch.int64
    return {
        "name": f"{name} ({red})", "fn": fn, "options": options, "tensors": {k: t(v) for k, v in tensors.items()},
        "input": t(inp), "target": ti(target) if integer else t(target), "targetDtype": "int32" if integer else "float64",
        "y": t(y), "gy": t(gy), "gx": t(x.grad),
    }


def gen_losses():
    cases = []
    reds = ["mean", "sum", "none"]
    a, b = torch.randn(4, 3) * 1.5, torch.randn(4, 3)
    for r in reds:
        cases.append(loss_case("MSE", "mseLoss", {"reduction": r}, a, b))
        cases.append(loss_case("L1", "l1Loss", {"reduction": r}, a, b))
        for delta in [1.0, 0.5]:
            cases.append(loss_case(f"Huber delta {delta}", "huberLoss", {"reduction": r, "delta": delta}, a, b))
        for beta in [1.0, 0.5]:
            cases.append(loss_case(f"SmoothL1 beta {beta}", "smoothL1Loss", {"reduction": r, "beta": beta}, a, b))

    p = torch.sigmoid(torch.randn(5, 3) * 2)
    soft = torch.rand(5, 3)
    hard = (torch.rand(5, 3) > 0.5).double()
    w3 = torch.rand(3) + 0.5
    for r in reds:
        cases.append(loss_case("BCE hard targets", "binaryCrossEntropy", {"reduction": r}, p, hard))
        cases.append(loss_case("BCE soft targets, weight", "binaryCrossEntropy", {"reduction": r}, p, soft, {"weight": w3}))

    logits = torch.randn(5, 3) * 3
    pw = torch.tensor([0.5, 2.0, 3.0])
    for r in reds:
        cases.append(loss_case("BCEWithLogits", "binaryCrossEntropyWithLogits", {"reduction": r}, logits, hard))
        cases.append(loss_case("BCEWithLogits posWeight", "binaryCrossEntropyWithLogits", {"reduction": r}, logits, soft, {"posWeight": pw}))
        cases.append(loss_case("BCEWithLogits weight + posWeight", "binaryCrossEntropyWithLogits", {"reduction": r}, logits, hard, {"weight": w3, "posWeight": pw}))

    z = torch.randn(6, 4) * 2
    y = torch.tensor([0, 3, 1, 2, 3, 1])
    y_ign = torch.tensor([0, 3, -1, 2, 3, -1])
    w4 = torch.tensor([0.5, 1.0, 2.0, 1.5])
    z3 = torch.randn(2, 4, 3)  # (N, C, L)
    y3 = torch.tensor([[0, 3, 1], [2, 2, -1]])
    for r in reds:
        cases.append(loss_case("CE", "crossEntropy", {"reduction": r}, z, y))
        cases.append(loss_case("CE weight", "crossEntropy", {"reduction": r}, z, y, {"weight": w4}))
        cases.append(loss_case("CE ignoreIndex -1", "crossEntropy", {"reduction": r, "ignoreIndex": -1}, z, y_ign))
        cases.append(loss_case("CE labelSmoothing 0.1", "crossEntropy", {"reduction": r, "labelSmoothing": 0.1}, z, y))
        cases.append(loss_case("CE weight + ignoreIndex + labelSmoothing 0.2", "crossEntropy",
                               {"reduction": r, "ignoreIndex": -1, "labelSmoothing": 0.2}, z, y_ign, {"weight": w4}))
        cases.append(loss_case("CE (N, C, L) ignoreIndex", "crossEntropy", {"reduction": r, "ignoreIndex": -1}, z3, y3))
        logp = F.log_softmax(z, 1)
        cases.append(loss_case("NLL", "nllLoss", {"reduction": r}, logp, y))
        cases.append(loss_case("NLL weight + ignoreIndex", "nllLoss", {"reduction": r, "ignoreIndex": -1}, logp, y_ign, {"weight": w4}))
        zm = torch.randn(6, 4) * 0.7
        cases.append(loss_case("MultiMargin", "multiMarginLoss", {"reduction": r}, zm, y))
        cases.append(loss_case("MultiMargin margin 0.5, weight", "multiMarginLoss", {"reduction": r, "margin": 0.5}, zm, y, {"weight": w4}))
    write("losses.json", {"cases": cases})


# ---- norm.json -----------------------------------------------------------------------------

def grads_of(y, leaves):
    gy = torch.randn_like(y)
    (y * gy).sum().backward()
    return gy, [l.grad.clone() for l in leaves]


def bn_case(name, shape, momentum, eps):
    c = shape[1]
    bn = nn.BatchNorm1d(c, momentum=momentum, eps=eps)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c) + 0.5)
        bn.bias.copy_(torch.randn(c) * 0.5)
    weight, bias = t(bn.weight), t(bn.bias)
    steps = []
    bn.train()
    for _ in range(3):
        x = (torch.randn(*shape) * 2 + 1).requires_grad_(True)
        bn.zero_grad()
        y = bn(x)
        gy, (gx, gw, gb) = grads_of(y, [x, bn.weight, bn.bias])
        steps.append({"x": t(x), "y": t(y), "gy": t(gy), "gx": t(gx), "gweight": t(gw), "gbias": t(gb),
                      "runningMean": t(bn.running_mean), "runningVar": t(bn.running_var)})
    bn.eval()
    x = (torch.randn(*shape) * 2 + 1).requires_grad_(True)
    bn.zero_grad()
    y = bn(x)
    gy, (gx, gw, gb) = grads_of(y, [x, bn.weight, bn.bias])
    ev = {"x": t(x), "y": t(y), "gy": t(gy), "gx": t(gx), "gweight": t(gw), "gbias": t(gb)}
    return {"name": name, "numFeatures": c, "options": {"momentum": momentum, "eps": eps}, "weight": weight, "bias": bias, "steps": steps, "eval": ev}


def ln_case(name, shape, normalized, eps):
    ln = nn.LayerNorm(normalized, eps=eps)
    with torch.no_grad():
        ln.weight.copy_(torch.rand(*normalized) + 0.5)
        ln.bias.copy_(torch.randn(*normalized) * 0.5)
    x = (torch.randn(*shape) * 3 - 1).requires_grad_(True)
    y = ln(x)
    gy, (gx, gw, gb) = grads_of(y, [x, ln.weight, ln.bias])
    return {"name": name, "normalizedShape": list(normalized), "eps": eps, "weight": t(ln.weight), "bias": t(ln.bias),
            "x": t(x), "y": t(y), "gy": t(gy), "gx": t(gx), "gweight": t(gw), "gbias": t(gb)}


def gen_norm():
    write("norm.json", {
        "batchNorm1d": [
            bn_case("(N, C) = (8, 3)", (8, 3), 0.1, 1e-5),
            bn_case("(N, C, L) = (4, 3, 5)", (4, 3, 5), 0.1, 1e-5),
            bn_case("(N, C) = (6, 4), momentum 0.3, eps 1e-3", (6, 4), 0.3, 1e-3),
        ],
        "layerNorm": [
            ln_case("(4, 6) over [6]", (4, 6), [6], 1e-5),
            ln_case("(2, 3, 5) over [5]", (2, 3, 5), [5], 1e-5),
            ln_case("(2, 3, 5) over [3, 5], eps 1e-3", (2, 3, 5), [3, 5], 1e-3),
        ],
    })


# ---- optim.json ----------------------------------------------------------------------------
#
# Objective over three parameters u (3), v (3), W (2, 3), with fixed S and T (2, 3):
#   f = sum((1 - u)^2) + 5 * sum((v - u^2)^2) + sum(S * (W - T)^2)
# (three decoupled 2-d Rosenbrock valleys, narrowed to a factor 5, plus an ill-conditioned quadratic).

OBJ_S = torch.tensor([[0.5, 2.0, 10.0], [1.0, 0.2, 4.0]])
OBJ_T = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
INIT = {"u": torch.tensor([-1.2, 0.5, 1.5]), "v": torch.tensor([1.0, -0.5, 2.0]), "W": torch.tensor([[0.0, 0.0, 0.0], [2.0, -1.0, 1.0]])}


def objective(u, v, W):
    return ((1 - u) ** 2).sum() + 5 * ((v - u ** 2) ** 2).sum() + (OBJ_S * (W - OBJ_T) ** 2).sum()


def torch_optimizer(name, params, o):
    if name == "SGD":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0), dampening=o.get("dampening", 0),
                               weight_decay=o.get("weightDecay", 0), nesterov=o.get("nesterov", False))
    if name == "AdaGrad":
        return torch.optim.Adagrad(params, lr=o["lr"], lr_decay=o.get("lrDecay", 0), weight_decay=o.get("weightDecay", 0),
                                   initial_accumulator_value=o.get("initialAccumulatorValue", 0), eps=o.get("eps", 1e-10))
    if name == "RMSProp":
        return torch.optim.RMSprop(params, lr=o["lr"], alpha=o.get("alpha", 0.99), eps=o.get("eps", 1e-8),
                                   weight_decay=o.get("weightDecay", 0), momentum=o.get("momentum", 0), centered=o.get("centered", False))
    if name in ("Adam", "AdamW"):
        cls = torch.optim.Adam if name == "Adam" else torch.optim.AdamW
        wd = o.get("weightDecay", 0 if name == "Adam" else 0.01)
        return cls(params, lr=o["lr"], betas=(o.get("beta1", 0.9), o.get("beta2", 0.999)), eps=o.get("eps", 1e-8),
                   weight_decay=wd, amsgrad=o.get("amsgrad", False))
    raise ValueError(name)


OPTIMIZERS = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "weightDecay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.8, "dampening": 0.3, "weightDecay": 0.05}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weightDecay": 0.1}),
    ("AdaGrad", {"lr": 0.3}),
    ("AdaGrad", {"lr": 0.3, "lrDecay": 0.05, "weightDecay": 0.1, "initialAccumulatorValue": 0.2}),
    ("RMSProp", {"lr": 0.01}),
    ("RMSProp", {"lr": 0.01, "alpha": 0.9, "weightDecay": 0.1}),
    ("RMSProp", {"lr": 0.005, "momentum": 0.9}),
    ("RMSProp", {"lr": 0.01, "centered": True}),
    ("RMSProp", {"lr": 0.005, "alpha": 0.95, "momentum": 0.5, "centered": True, "weightDecay": 0.05}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weightDecay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weightDecay": 0.2}),
    ("AdamW", {"lr": 0.05, "weightDecay": 0.1, "amsgrad": True}),
]
STEPS = 20


def optim_case(name, o):
    params = {k: v.clone().requires_grad_(True) for k, v in INIT.items()}
    opt = torch_optimizer(name, list(params.values()), o)
    losses, history = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = objective(params["u"], params["v"], params["W"])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        history.append({k: p.detach().reshape(-1).tolist() for k, p in params.items()})
    label = ", ".join(f"{k} {v}" for k, v in o.items())
    return {"name": f"{name}({label})", "optimizer": name, "options": o, "losses": losses, "params": history}


SCHEDULERS = [
    # (name, refnets class, refnets options, torch constructor)
    ("StepLR(3, 0.5)", "StepLR", {"stepSize": 3, "gamma": 0.5}, lambda opt: torch.optim.lr_scheduler.StepLR(opt, 3, 0.5)),
    ("ExponentialLR(0.9)", "ExponentialLR", {"gamma": 0.9}, lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)),
    ("InverseTimeLR(0.5)", "InverseTimeLR", {"decay": 0.5}, lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1 / (1 + 0.5 * e))),
    ("CosineAnnealingLR(8, 0.001)", "CosineAnnealingLR", {"tMax": 8, "etaMin": 0.001},
     lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 8, 0.001)),
    ("LinearLR default", "LinearLR", {}, lambda opt: torch.optim.lr_scheduler.LinearLR(opt)),
    ("LinearLR(0.25, 0.8, 6)", "LinearLR", {"startFactor": 0.25, "endFactor": 0.8, "totalIters": 6},
     lambda opt: torch.optim.lr_scheduler.LinearLR(opt, 0.25, 0.8, 6)),
    ("LinearWarmup(5, 0.1)", "LinearWarmup", {"warmupEpochs": 5, "startFactor": 0.1},
     lambda opt: torch.optim.lr_scheduler.LinearLR(opt, 0.1, 1.0, 5)),
    # Warm-up then cosine: options name the parts (refnets class and options) and the milestones.
    ("SequentialLR(warm-up 5, cosine 15)", "SequentialLR",
     {"schedulers": [["LinearWarmup", {"warmupEpochs": 5, "startFactor": 0.1}], ["CosineAnnealingLR", {"tMax": 15, "etaMin": 0.001}]], "milestones": [5]},
     lambda opt: torch.optim.lr_scheduler.SequentialLR(opt, [torch.optim.lr_scheduler.LinearLR(opt, 0.1, 1.0, 5),
                                                             torch.optim.lr_scheduler.CosineAnnealingLR(opt, 15, 0.001)], [5])),
]
EPOCHS = 20


def sched_case(name, cls, o, make):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    s = make(opt)
    lrs = []
    for _ in range(EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return {"name": name, "scheduler": cls, "options": o, "baseLr": 0.1, "lrs": lrs}


def gen_optim():
    write("optim.json", {
        "objective": {"S": t(OBJ_S), "T": t(OBJ_T), "init": {k: t(v) for k, v in INIT.items()}},
        "optimizers": [optim_case(*c) for c in OPTIMIZERS],
        "schedulers": [sched_case(*c) for c in SCHEDULERS],
    })


# ---- mlp.safetensors -----------------------------------------------------------------------

def r8(v):
    return float(f"{v:.8g}")


def write_safetensors(path, tensors):
    """The safetensors layout by hand: u64 LE header length, JSON header, raw LE data (8-aligned header)."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # pad with spaces so the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(np.uint64(len(text)).astype("<u8").tobytes())
        f.write(text)
        for b in blobs:
            f.write(b)


def gen_safetensors():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).float()
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    path = os.path.join(OUT, "mlp.safetensors")
    write_safetensors(path, sd)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    # The input is rounded to 8 significant digits first, so the JSON decimals give the same float32.
    x = torch.tensor([[r8(v) for v in row] for row in (torch.randn(5, 4) * 1.5).tolist()], dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    write("mlp-safetensors.json", {
        "x": {"shape": list(x.shape), "data": x.reshape(-1).tolist()},
        "output": {"shape": list(y.shape), "data": [r8(v) for v in y.reshape(-1).tolist()]},
    })


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    gen_mlp()
    gen_losses()
    gen_norm()
    gen_optim()
    gen_safetensors()

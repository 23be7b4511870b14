"""Golden values for test/augment.test.ts: torchvision's deterministic colour adjustments and
PyTorch's bilinear interpolation on small random inputs. Run with Debian's interpreter:

    /usr/bin/python3 scripts/gen_augment_fixtures.py

Writes test/fixtures/augment.json (a few KB).
"""
import json
import os

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF


def r8(t):
    return [float(f"{v:.8g}") for v in t.flatten().tolist()]


torch.manual_seed(0)
img = torch.rand(3, 5, 6)
batch = torch.rand(2, 2, 5, 7, dtype=torch.float64)
out = {
    "image": {"shape": list(img.shape), "data": r8(img)},
    "brightness": {"factor": 1.3, "data": r8(TF.adjust_brightness(img, 1.3))},
    "contrast": {"factor": 0.6, "data": r8(TF.adjust_contrast(img, 0.6))},
    "saturation": {"factor": 1.7, "data": r8(TF.adjust_saturation(img, 1.7))},
    "hue": [{"factor": f, "data": r8(TF.adjust_hue(img, f))} for f in (0.23, -0.41)],
    "batch": {"shape": list(batch.shape), "data": batch.flatten().tolist()},
    "resize": [
        {"size": list(s), "data": F.interpolate(batch, size=s, mode="bilinear", align_corners=False).flatten().tolist()}
        for s in ((3, 9), (10, 4))
    ],
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "test", "fixtures", "augment.json"), "w") as f:
    json.dump(out, f)

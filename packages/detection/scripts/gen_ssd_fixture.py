#!/usr/bin/python3
"""Golden fixture for SSD300-VGG16 (test/ssd300.test.ts), from torchvision 0.14's ssd300_vgg16:

  ssd300.json   the state-dict keys and shapes in torchvision's order, the default boxes and the raw
                head outputs (bbox_regression, cls_logits) of model.head(model.backbone(x)) for one
                300x300 input, in float32; every 7th value of each output (they are large)

The weights are deterministic so the test rebuilds them instead of reading 24M numbers: state-dict
tensor number t (in torchvision's order) is filled with float32(center + spread * u(t, i)), where
u(t, i) in [-1, 1) is murmur3's fmix32 of (i * 0x9E3779B1 + t * 0x85EBCA77 + 0x165667B1) mod 2^32,
top 24 bits scaled (the same formula as packages/cnn/scripts/gen_fixtures.py):
  conv weight     0, 2 / sqrt(fan_in)
  bias            0, 0.1
  scale_weight    20, 0 (torchvision's initial value)
and the input x (1, 3, 300, 300) is u(1000003, i).  Run:  /usr/bin/python3 scripts/gen_ssd_fixture.py
"""
import json
import math
import os

import numpy as np
import torch
import torchvision
from torchvision.models.detection import ssd300_vgg16
from torchvision.models.detection.image_list import ImageList

NUM_CLASSES = 5
STRIDE = 7
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'ssd300.json')


def uniform(t, n):
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


def center_spread(key, shape):
    if key.endswith('scale_weight'):
        return 20.0, 0.0
    if key.endswith('weight'):
        return 0.0, 2.0 / math.sqrt(math.prod(shape) // shape[0])
    if key.endswith('bias'):
        return 0.0, 0.1
    raise ValueError(key)


torch.manual_seed(0)
model = ssd300_vgg16(weights=None, weights_backbone=None, num_classes=NUM_CLASSES).eval()
sd = model.state_dict()
keys = []
with torch.no_grad():
    for t, (k, v) in enumerate(sd.items()):
        c, s = center_spread(k, tuple(v.shape))
        v.copy_(torch.from_numpy((c + s * uniform(t, v.numel())).astype(np.float32)).reshape(v.shape))
        keys.append([k, list(v.shape)])
x = torch.from_numpy(uniform(1_000_003, 3 * 300 * 300).astype(np.float32)).reshape(1, 3, 300, 300)
with torch.no_grad():
    feats = list(model.backbone(x).values())
    head = model.head(feats)
    anchors = model.anchor_generator(ImageList(x, [(300, 300)]), feats)[0]
fx = {
    'torchvision': torchvision.__version__, 'numClasses': NUM_CLASSES, 'stride': STRIDE, 'keys': keys,
    'featureShapes': [list(f.shape) for f in feats],
    'bboxRegressionShape': list(head['bbox_regression'].shape), 'clsLogitsShape': list(head['cls_logits'].shape),
    'bboxRegression': head['bbox_regression'].flatten()[::STRIDE].tolist(),
    'clsLogits': head['cls_logits'].flatten()[::STRIDE].tolist(),
    'defaultBoxesShape': list(anchors.shape), 'defaultBoxes': anchors.flatten()[::STRIDE].tolist(),
}
with open(OUT, 'w') as f:
    json.dump(fx, f)
print('wrote', OUT, [len(fx[k]) for k in ['bboxRegression', 'clsLogits', 'defaultBoxes']])

#!/usr/bin/python3
"""Golden fixtures for packages/detection/test (PyTorch 1.13, torchvision 0.14), all in float64:

  ops.json   box_convert, box_iou, generalized/distance/complete_box_iou (pairwise), their losses
             (element-wise, with the autograd gradient of sum(loss * w) for both box sets),
             sigmoid_focal_loss, nms and batched_nms (with ties and identical boxes),
             roi_align (aligned both ways, several sampling ratios) and roi_pool, forward and
             the autograd backward for a given output gradient

Every input is written into the fixture, so the tests need no random generator in common with
this script. Run once with the system interpreter:  /usr/bin/python3 scripts/gen_fixtures.py
"""
import json
import os

import torch
import torchvision
from torchvision import ops

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


def t(x):
    return x.detach().tolist()


def rand_boxes(n, size=20.0):
    xy = torch.rand(n, 2) * size
    wh = torch.rand(n, 2) * size * 0.6 + 0.5
    return torch.cat([xy, xy + wh], 1)


fx = {'torch': torch.__version__, 'torchvision': torchvision.__version__}

# ---- box_convert --------------------------------------------------------------------------------
b = rand_boxes(6)
conv = {}
for src in ['xyxy', 'xywh', 'cxcywh']:
    for dst in ['xyxy', 'xywh', 'cxcywh']:
        conv[f'{src}->{dst}'] = t(ops.box_convert(b, src, dst))
fx['box_convert'] = {'boxes': t(b), 'out': conv}

# ---- pairwise IoU family ------------------------------------------------------------------------
b1 = rand_boxes(5)
b2 = torch.cat([rand_boxes(5), b1[:1].clone(), torch.tensor([[100.0, 100.0, 101.0, 103.0]])])  # identical + disjoint
fx['pairwise'] = {
    'boxes1': t(b1), 'boxes2': t(b2),
    'box_iou': t(ops.box_iou(b1, b2)),
    'generalized_box_iou': t(ops.generalized_box_iou(b1, b2)),
    'distance_box_iou': t(ops.distance_box_iou(b1, b2)),
    'complete_box_iou': t(ops.complete_box_iou(b1, b2)),
}

# ---- element-wise losses with gradients -----------------------------------------------------------
p1 = rand_boxes(7)
p2 = torch.cat([rand_boxes(5), p1[5:6].clone(), torch.tensor([[60.0, 60.0, 65.0, 62.0]])])  # identical + disjoint
w = torch.rand(7)
losses = {'boxes1': t(p1), 'boxes2': t(p2), 'weights': t(w)}
for name in ['generalized_box_iou_loss', 'distance_box_iou_loss', 'complete_box_iou_loss']:
    a = p1.clone().requires_grad_()
    c = p2.clone().requires_grad_()
    loss = getattr(ops, name)(a, c)
    (loss * w).sum().backward()
    losses[name] = {
        'none': t(loss), 'mean': getattr(ops, name)(p1, p2, reduction='mean').item(),
        'sum': getattr(ops, name)(p1, p2, reduction='sum').item(),
        'grad1': t(a.grad), 'grad2': t(c.grad),
    }
fx['losses'] = losses

# ---- sigmoid focal loss --------------------------------------------------------------------------------
logits = torch.randn(4, 5) * 2
targets = (torch.rand(4, 5) > 0.6).double()
fx['focal'] = {
    'inputs': t(logits), 'targets': t(targets),
    'default': t(ops.sigmoid_focal_loss(logits, targets)),
    'alpha_-1_gamma_0': t(ops.sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0)),
    'alpha_0.5_gamma_1.5_mean': ops.sigmoid_focal_loss(logits, targets, alpha=0.5, gamma=1.5, reduction='mean').item(),
}

# ---- NMS ---------------------------------------------------------------------------------------------------
nb = rand_boxes(40, 30.0)
ns = torch.round(torch.rand(40) * 10) / 10  # one decimal: many ties
nb[7] = nb[3]  # identical boxes, different scores
nb[8] = nb[3]
ns[8] = ns[3]  # identical boxes, the same score
classes = torch.randint(0, 3, (40,))
nms_cases = []
for thr in [0.0, 0.3, 0.5, 0.7]:
    nms_cases.append({'iou_threshold': thr, 'keep': t(ops.nms(nb, ns, thr)), 'batched_keep': t(ops.batched_nms(nb, ns, classes, thr))})
fx['nms'] = {'boxes': t(nb), 'scores': t(ns), 'classes': t(classes), 'cases': nms_cases}

# ---- RoI align / pool -------------------------------------------------------------------------------------
x = torch.randn(2, 3, 10, 12)
rois = torch.tensor([
    [0, 1.0, 1.5, 9.0, 7.0],
    [1, 0.0, 0.0, 23.0, 19.0],
    [0, 5.3, 2.2, 6.1, 3.0],     # smaller than one bin
    [1, -4.0, -3.0, 8.0, 30.0],  # partly outside the map
    [0, 10.0, 4.0, 16.0, 18.5],
])
roi_cases = []
for out_size, scale, ratio, aligned in [((3, 4), 0.5, -1, False), ((3, 4), 0.5, -1, True), ((2, 2), 0.5, 2, True),
                                        ((2, 3), 0.5, 1, False), ((4, 4), 1.0, 3, True)]:
    xi = x.clone().requires_grad_()
    y = ops.roi_align(xi, rois, out_size, scale, ratio, aligned)
    g = torch.randn(y.shape)
    y.backward(g)
    roi_cases.append({'output_size': list(out_size), 'spatial_scale': scale, 'sampling_ratio': ratio, 'aligned': aligned,
                      'out': t(y), 'grad_output': t(g), 'grad_input': t(xi.grad)})
pool_cases = []
for out_size, scale in [((3, 3), 0.5), ((2, 4), 1.0)]:
    xi = x.clone().requires_grad_()
    y = ops.roi_pool(xi, rois, out_size, scale)
    g = torch.randn(y.shape)
    y.backward(g)
    pool_cases.append({'output_size': list(out_size), 'spatial_scale': scale, 'out': t(y), 'grad_output': t(g), 'grad_input': t(xi.grad)})
fx['roi'] = {'input': t(x), 'rois': t(rois), 'align': roi_cases, 'pool': pool_cases}

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, 'ops.json'), 'w') as f:
    json.dump(fx, f)
print('wrote', os.path.join(OUT, 'ops.json'))

/**
 * The IoU family, pairwise (an (N, M) matrix, as torchvision.ops.box_iou) and paired (element-wise
 * over broadcastable (..., 4) boxes, as the box-regression losses use them):
 * - IoU = |A ∩ B| / |A ∪ B|;
 * - GIoU (Rezatofighi et al. 2019, https://arxiv.org/abs/1902.09630) subtracts the share of the
 *   smallest enclosing box C not covered by the union: IoU - (|C| - |A ∪ B|) / |C|;
 * - DIoU (Zheng et al. 2020, https://arxiv.org/abs/1911.08287) subtracts the squared centre distance
 *   over the squared diagonal of C: IoU - ρ²(b, b_gt) / c²;
 * - CIoU (same paper; the YOLOv4 box loss) further subtracts α v with the aspect-ratio term
 *   v = 4/π² (atan(w_gt/h_gt) - atan(w/h))² and α = v / (1 - IoU + v), treated as a constant.
 * All are built from core ops (plus Atan below), so they have gradients; values follow torchvision 0.14.
 */
import { ShapeError, type Tensor, allocate, apply, defineOp, maximum, minimum, sumTo, Tensor as T } from '@refnets/core'
import { checkBoxShape, unbindBoxes } from './boxes.js'

/** atan, element-wise, with d/dx atan(x) = 1 / (1 + x²); exports as ONNX Atan. */
export const Atan = defineOp({
  name: 'Atan',
  forward: ([x]) => {
    const d = x!.data
    const y = allocate(x!.dtype as 'float32' | 'float64', d.length)
    for (let i = 0; i < d.length; i++) y[i] = Math.atan(d[i]!)
    return new T(y, x!.shape)
  },
  backward: (dy, { inputs: [x] }) => [dy.div(x!.mul(x!).add(1))],
  onnx: 'Atan',
})
export const atan = (x: Tensor): Tensor => apply(Atan, [x], {})

/**
 * NOTE: element-wise max/min whose gradient is split in half at ties, as PyTorch's torch.max/min
 * of two tensors. Core's Max/Min give a tie's whole gradient to the first operand; both are valid
 * subgradients, but identical boxes (a tie in every coordinate) would then get other gradients
 * than torchvision's losses give them.
 */
const tieMask = (a: Tensor, b: Tensor, pick: Tensor): Tensor => pick.to(a.dtype).add(a.eq(b).to(a.dtype).mul(0.5))
const SplitMax = defineOp({
  name: 'Max',
  forward: ([a, b]) => maximum(a!, b!),
  backward: (dy, { inputs: [a, b] }) => {
    const m = tieMask(a!, b!, a!.gt(b!))
    return [sumTo(dy.mul(m), a!.shape), sumTo(dy.mul(m.neg().add(1)), b!.shape)]
  },
  onnx: 'Max',
})
const SplitMin = defineOp({
  name: 'Min',
  forward: ([a, b]) => minimum(a!, b!),
  backward: (dy, { inputs: [a, b] }) => {
    const m = tieMask(a!, b!, a!.lt(b!))
    return [sumTo(dy.mul(m), a!.shape), sumTo(dy.mul(m.neg().add(1)), b!.shape)]
  },
  onnx: 'Min',
})
const max2 = (a: Tensor, b: Tensor): Tensor => apply(SplitMax, [a, b], {})
const min2 = (a: Tensor, b: Tensor): Tensor => apply(SplitMin, [a, b], {})

/** The pieces every member of the family needs, for broadcastable (..., 4) corner boxes a and b. */
interface Parts {
  inter: Tensor
  union: Tensor
  /** Enclosing box width and height. */
  cw: Tensor
  ch: Tensor
  /** Squared distance between the centres. */
  centre2: Tensor
  a: [Tensor, Tensor, Tensor, Tensor]
  b: [Tensor, Tensor, Tensor, Tensor]
}

function parts(boxesA: Tensor, boxesB: Tensor): Parts {
  checkBoxShape(boxesA, 'boxes1')
  checkBoxShape(boxesB, 'boxes2')
  const a = unbindBoxes(boxesA)
  const b = unbindBoxes(boxesB)
  const [ax1, ay1, ax2, ay2] = a
  const [bx1, by1, bx2, by2] = b
  // NOTE: relu of the overlap widths: 0 (with zero gradient) for disjoint boxes, as torchvision's
  // clamp(min=0) in box_iou and the mask in _loss_inter_union.
  const iw = min2(ax2, bx2).sub(max2(ax1, bx1)).relu()
  const ih = min2(ay2, by2).sub(max2(ay1, by1)).relu()
  const inter = iw.mul(ih)
  const areaA = ax2.sub(ax1).mul(ay2.sub(ay1))
  const areaB = bx2.sub(bx1).mul(by2.sub(by1))
  const union = areaA.add(areaB).sub(inter)
  const cw = max2(ax2, bx2).sub(min2(ax1, bx1))
  const ch = max2(ay2, by2).sub(min2(ay1, by1))
  const dx = ax1.add(ax2).div(2).sub(bx1.add(bx2).div(2))
  const dy = ay1.add(ay2).div(2).sub(by1.add(by2).div(2))
  return { inter, union, cw, ch, centre2: dx.square().add(dy.square()), a, b }
}

/** v = 4/π² (atan(w_b / h_b) - atan(w_a / h_a))², the CIoU aspect-ratio consistency term. */
function aspectTerm(p: Parts): Tensor {
  const [ax1, ay1, ax2, ay2] = p.a
  const [bx1, by1, bx2, by2] = p.b
  const d = atan(bx2.sub(bx1).div(by2.sub(by1))).sub(atan(ax2.sub(ax1).div(ay2.sub(ay1))))
  return d.square().mul(4 / (Math.PI * Math.PI))
}

const pair = (a: Tensor, b: Tensor): [Tensor, Tensor] => {
  checkBoxShape(a, 'boxes1')
  checkBoxShape(b, 'boxes2')
  if (a.rank !== 2 || b.rank !== 2)
    throw new ShapeError(`pairwise IoU takes (N, 4) and (M, 4) boxes, got [${a.shape}] and [${b.shape}]`)
  return [a.unsqueeze(1), b.unsqueeze(0)]
}

// ---- paired (element-wise, broadcasting) -------------------------------------------------------

/** IoU of paired boxes: (..., 4) x (..., 4) -> (...). */
export function pairedBoxIou(a: Tensor, b: Tensor): Tensor {
  const p = parts(a, b)
  return p.inter.div(p.union)
}

/** GIoU of paired boxes. */
export function pairedGeneralizedBoxIou(a: Tensor, b: Tensor): Tensor {
  const p = parts(a, b)
  const areaC = p.cw.relu().mul(p.ch.relu())
  return p.inter.div(p.union).sub(areaC.sub(p.union).div(areaC))
}

/** DIoU of paired boxes; eps keeps the diagonal term finite for two identical points. */
export function pairedDistanceBoxIou(a: Tensor, b: Tensor, eps = 1e-7): Tensor {
  const p = parts(a, b)
  const diag2 = p.cw.relu().square().add(p.ch.relu().square()).add(eps)
  return p.inter.div(p.union).sub(p.centre2.div(diag2))
}

/** CIoU of paired boxes (α is a constant: no gradient flows through it). */
export function pairedCompleteBoxIou(a: Tensor, b: Tensor, eps = 1e-7): Tensor {
  const p = parts(a, b)
  const iou = p.inter.div(p.union)
  const diag2 = p.cw.relu().square().add(p.ch.relu().square()).add(eps)
  const v = aspectTerm(p)
  const alpha = v.div(iou.neg().add(1).add(v).add(eps)).detach()
  return iou.sub(p.centre2.div(diag2)).sub(alpha.mul(v))
}

// ---- pairwise (N, 4) x (M, 4) -> (N, M) ------------------------------------------------------------

/** IoU matrix of (N, 4) and (M, 4) corner boxes: (N, M), as torchvision.ops.box_iou. */
export const boxIou = (a: Tensor, b: Tensor): Tensor => pairedBoxIou(...pair(a, b))
/** GIoU matrix, as torchvision.ops.generalized_box_iou. */
export const generalizedBoxIou = (a: Tensor, b: Tensor): Tensor => pairedGeneralizedBoxIou(...pair(a, b))
/** DIoU matrix, as torchvision.ops.distance_box_iou. */
export const distanceBoxIou = (a: Tensor, b: Tensor, eps = 1e-7): Tensor => pairedDistanceBoxIou(...pair(a, b), eps)
/** CIoU matrix, as torchvision.ops.complete_box_iou. */
export const completeBoxIou = (a: Tensor, b: Tensor, eps = 1e-7): Tensor => pairedCompleteBoxIou(...pair(a, b), eps)

export const iouInternals = { parts, aspectTerm }

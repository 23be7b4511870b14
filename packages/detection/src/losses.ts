/**
 * Box-regression and classification losses of detectors, element-wise over paired (..., 4) corner
 * boxes with torchvision 0.14's formulas (torchvision.ops.*_loss), so gradients and values agree:
 * - GIoU loss 1 - GIoU (Rezatofighi et al. 2019, https://arxiv.org/abs/1902.09630);
 * - DIoU loss 1 - IoU + ρ²/c² and CIoU loss 1 - IoU + ρ²/c² + α v (Zheng et al. 2020,
 *   https://arxiv.org/abs/1911.08287), the YOLOv4 box loss;
 * - sigmoid focal loss α_t (1 - p_t)^γ BCE (Lin et al. 2017, https://arxiv.org/abs/1708.02002);
 * - smooth L1 (Girshick 2015, https://arxiv.org/abs/1504.08083), the SSD / Fast R-CNN box loss.
 * NOTE: in the losses, IoU is inter / (union + eps) and the enclosing area is divided by
 * (area_c + eps), as torchvision does, so two degenerate boxes give a finite loss.
 */
import { ArgumentError, type Tensor, binaryCrossEntropyWithLogits, smoothL1Loss, sigmoid } from '@refnets/core'
import { iouInternals } from './iou.js'

export type Reduction = 'none' | 'mean' | 'sum'

/** Reduce a loss; the mean of an empty loss is 0 (not NaN), as torchvision's IoU losses. */
export function reduceLoss(loss: Tensor, reduction: Reduction, what: string): Tensor {
  if (reduction === 'none') return loss
  if (reduction === 'sum') return loss.sum()
  if (reduction === 'mean') return loss.size === 0 ? loss.sum().mul(0) : loss.mean()
  throw new ArgumentError(`${what}: reduction must be 'none', 'mean' or 'sum', got '${reduction}'`)
}

function lossParts(a: Tensor, b: Tensor, eps: number) {
  const p = iouInternals.parts(a, b)
  const iou = p.inter.div(p.union.add(eps))
  return { p, iou }
}

/** 1 - GIoU of paired (..., 4) corner boxes. */
export function generalizedBoxIouLoss(
  boxes1: Tensor,
  boxes2: Tensor,
  reduction: Reduction = 'none',
  eps = 1e-7,
): Tensor {
  const { p, iou } = lossParts(boxes1, boxes2, eps)
  const areaC = p.cw.mul(p.ch)
  const giou = iou.sub(areaC.sub(p.union).div(areaC.add(eps)))
  return reduceLoss(giou.neg().add(1), reduction, 'generalizedBoxIouLoss')
}

function diou(boxes1: Tensor, boxes2: Tensor, eps: number) {
  const { p, iou } = lossParts(boxes1, boxes2, eps)
  const diag2 = p.cw.square().add(p.ch.square()).add(eps)
  return { p, iou, loss: iou.neg().add(1).add(p.centre2.div(diag2)) }
}

/** 1 - DIoU of paired (..., 4) corner boxes. */
export function distanceBoxIouLoss(boxes1: Tensor, boxes2: Tensor, reduction: Reduction = 'none', eps = 1e-7): Tensor {
  return reduceLoss(diou(boxes1, boxes2, eps).loss, reduction, 'distanceBoxIouLoss')
}

/**
 * 1 - CIoU of paired (..., 4) corner boxes. The trade-off α = v / (1 - IoU + v + eps) carries no
 * gradient (the paper's choice, and torchvision's); pass `alpha` to fix it instead, which makes the
 * loss an ordinary differentiable function of the boxes (that is what gradcheck checks).
 */
export function completeBoxIouLoss(
  boxes1: Tensor,
  boxes2: Tensor,
  reduction: Reduction = 'none',
  eps = 1e-7,
  alpha?: Tensor,
): Tensor {
  const { p, iou, loss } = diou(boxes1, boxes2, eps)
  const v = iouInternals.aspectTerm(p)
  alpha ??= v.div(iou.neg().add(1).add(v).add(eps)).detach()
  return reduceLoss(loss.add(alpha.mul(v)), reduction, 'completeBoxIouLoss')
}

/** CIoU's α = v / (1 - IoU + v + eps) for paired boxes (no gradient), as completeBoxIouLoss uses it. */
export function ciouAlpha(boxes1: Tensor, boxes2: Tensor, eps = 1e-7): Tensor {
  const { p, iou } = lossParts(boxes1.detach(), boxes2.detach(), eps)
  const v = iouInternals.aspectTerm(p)
  return v.div(iou.neg().add(1).add(v).add(eps))
}

export interface FocalLossOptions {
  /** Weight of the positive class in (0, 1), or a negative number for none (default 0.25). */
  alpha?: number
  /** Focusing exponent (default 2). */
  gamma?: number
  reduction?: Reduction
}

/** Sigmoid focal loss of logits against {0, 1} (or soft) targets of the same shape. */
export function sigmoidFocalLoss(
  inputs: Tensor,
  targets: Tensor,
  { alpha = 0.25, gamma = 2, reduction = 'none' }: FocalLossOptions = {},
): Tensor {
  const p = sigmoid(inputs)
  const ce = binaryCrossEntropyWithLogits(inputs, targets, { reduction: 'none' })
  // p_t = p t + (1 - p)(1 - t)
  const pt = p.mul(targets).add(p.neg().add(1).mul(targets.neg().add(1)))
  let loss = ce.mul(pt.neg().add(1).pow(gamma))
  if (alpha >= 0)
    loss = targets
      .mul(alpha)
      .add(
        targets
          .neg()
          .add(1)
          .mul(1 - alpha),
      )
      .mul(loss)
  return reduceLoss(loss, reduction, 'sigmoidFocalLoss')
}

export { smoothL1Loss }

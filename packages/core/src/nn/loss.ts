/**
 * Loss modules over the functional losses in ops/loss.ts (PyTorch names, defaults and reductions:
 * https://pytorch.org/docs/stable/nn.html#loss-functions).
 */
import * as L from '../ops/loss.js'
import type { Reduction } from '../ops/loss.js'
import type { Tensor } from '../tensor.js'
import { Module } from './module.js'

abstract class Loss extends Module<[Tensor, Tensor]> {
  constructor(readonly reduction: Reduction = 'mean') {
    super()
  }
}

export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return L.mseLoss(input, target, this.reduction)
  }
}
export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return L.l1Loss(input, target, this.reduction)
  }
}
export class HuberLoss extends Loss {
  constructor(
    readonly delta = 1,
    reduction: Reduction = 'mean',
  ) {
    super(reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.huberLoss(input, target, this.delta, this.reduction)
  }
}
export class SmoothL1Loss extends Loss {
  constructor(
    readonly beta = 1,
    reduction: Reduction = 'mean',
  ) {
    super(reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.smoothL1Loss(input, target, this.beta, this.reduction)
  }
}
export class BCELoss extends Loss {
  constructor(readonly opts: { weight?: Tensor; reduction?: Reduction } = {}) {
    super(opts.reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.binaryCrossEntropy(input, target, this.opts)
  }
}
export class BCEWithLogitsLoss extends Loss {
  constructor(readonly opts: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {}) {
    super(opts.reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.binaryCrossEntropyWithLogits(input, target, this.opts)
  }
}
export class CrossEntropyLoss extends Loss {
  constructor(readonly opts: L.ClassLossOptions & { labelSmoothing?: number } = {}) {
    super(opts.reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.crossEntropy(input, target, this.opts)
  }
}
export class NLLLoss extends Loss {
  constructor(readonly opts: L.ClassLossOptions = {}) {
    super(opts.reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.nllLoss(input, target, this.opts)
  }
}
/** Multiclass SVM hinge loss (margin 1), PyTorch's MultiMarginLoss with p = 1. */
export class MultiMarginLoss extends Loss {
  constructor(readonly opts: { margin?: number; weight?: Tensor; reduction?: Reduction } = {}) {
    super(opts.reduction)
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return L.multiMarginLoss(input, target, this.opts)
  }
}

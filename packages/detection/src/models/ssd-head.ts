/**
 * SSD's prediction heads (Liu et al. 2016, https://arxiv.org/abs/1512.02325, section 2.1): on each
 * feature map a 3x3 convolution predicts, per pixel and per default box, C class scores and 4 box
 * offsets. Outputs of all levels are flattened pixel by pixel and concatenated, so row a of the
 * result belongs to default box a (the order ssdDefaultBoxes produces).
 * Names follow torchvision's SSDHead: classification_head.module_list.N, regression_head.module_list.N.
 */
import { Module, type Tensor, concat } from '@refnets/core'
import { Conv2d } from '@refnets/cnn'

/** One 3x3 conv per level; forward gives (N, sum_l H_l W_l A_l, columns). */
export class SsdScoringHead extends Module<[Tensor[]], Tensor> {
  module_list: Conv2d[]

  constructor(
    inChannels: number[],
    anchorsPerLevel: number[],
    readonly columns: number,
  ) {
    super()
    this.module_list = inChannels.map((c, i) => new Conv2d(c, anchorsPerLevel[i]! * columns, 3, { padding: 1 }))
  }

  forward(features: Tensor[]): Tensor {
    const outs = features.map((f, i) => {
      const y = this.module_list[i]!.call(f) // (N, A * columns, H, W)
      const [n, , h, w] = y.shape as [number, number, number, number]
      // (N, A, cols, H, W) -> (N, H, W, A, cols) -> (N, H W A, cols)
      return y.reshape(n, -1, this.columns, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, this.columns)
    })
    return concat(outs, 1)
  }
}

/** Class logits and box offsets for every default box: [bboxRegression (N, A, 4), clsLogits (N, A, C)]. */
export class SsdHead extends Module<[Tensor[]], [Tensor, Tensor]> {
  classification_head: SsdScoringHead
  regression_head: SsdScoringHead

  constructor(inChannels: number[], anchorsPerLevel: number[], numClasses: number) {
    super()
    this.classification_head = new SsdScoringHead(inChannels, anchorsPerLevel, numClasses)
    this.regression_head = new SsdScoringHead(inChannels, anchorsPerLevel, 4)
  }

  forward(features: Tensor[]): [Tensor, Tensor] {
    return [this.regression_head.call(features), this.classification_head.call(features)]
  }
}

/**
 * d2l's tiny SSD (d2l.ai, "Single Shot Multibox Detection", https://d2l.ai/chapter_computer-vision/ssd.html;
 * Liu et al. 2016, https://arxiv.org/abs/1512.02325).
 *
 * Key idea: five feature maps (32, 16, 8, 4, 1 for a 256x256 image), each from a down-sampling
 * block (two conv-BN-ReLU and a 2x2 max pool), and on each a 3x3 class predictor and a 3x3 box
 * predictor for 4 anchors per pixel (sizes [s, sqrt(s s')] x ratio 1, plus ratios 2 and 1/2).
 * Small anchors sit on fine maps, large ones on coarse maps.
 * Names follow d2l's PyTorch code: blk_N, cls_N, bbox_N.
 */
import { Module, type Tensor, concat, nn } from '@refnets/core'
import { AdaptiveMaxPool2d, BatchNorm2d, Conv2d, MaxPool2d } from '@refnets/cnn'
import { multiboxPrior } from '../anchors.js'

/** d2l's down_sample_blk: 2 x (conv 3x3, BN, ReLU), then max pool 2: halves H and W. */
export function downSampleBlock(inChannels: number, outChannels: number): nn.Sequential {
  const layers: Module[] = []
  for (let i = 0; i < 2; i++) {
    layers.push(
      new Conv2d(i ? outChannels : inChannels, outChannels, 3, { padding: 1 }),
      new BatchNorm2d(outChannels),
      new nn.ReLU(),
    )
  }
  return new nn.Sequential(...layers, new MaxPool2d(2))
}

export const TINY_SSD_SIZES = [
  [0.2, 0.272],
  [0.37, 0.447],
  [0.54, 0.619],
  [0.71, 0.79],
  [0.88, 0.961],
]
export const TINY_SSD_RATIOS = [1, 2, 0.5]

export interface TinySsdOptions {
  /** Object classes (without the background; d2l's banana data set has 1). */
  numClasses?: number
  /** Base widths of the three blocks of the base network (d2l: 16, 32, 64) and of the later blocks (d2l: 128). */
  widths?: [number, number, number, number]
}

/** Tiny SSD: forward gives [clsPreds (N, A, numClasses + 1), bboxPreds (N, A, 4)] for A anchors. */
export class TinySsd extends Module<[Tensor], [Tensor, Tensor]> {
  blk_0: nn.Sequential
  blk_1: nn.Sequential
  blk_2: nn.Sequential
  blk_3: nn.Sequential
  blk_4: AdaptiveMaxPool2d
  cls_0: Conv2d
  cls_1: Conv2d
  cls_2: Conv2d
  cls_3: Conv2d
  cls_4: Conv2d
  bbox_0: Conv2d
  bbox_1: Conv2d
  bbox_2: Conv2d
  bbox_3: Conv2d
  bbox_4: Conv2d
  readonly numClasses: number
  readonly numAnchors = TINY_SSD_SIZES[0]!.length + TINY_SSD_RATIOS.length - 1

  constructor({ numClasses = 1, widths = [16, 32, 64, 128] }: TinySsdOptions = {}) {
    super()
    this.numClasses = numClasses
    const [a, b, c, d] = widths
    this.blk_0 = new nn.Sequential(downSampleBlock(3, a), downSampleBlock(a, b), downSampleBlock(b, c)) // base_net
    this.blk_1 = downSampleBlock(c, d)
    this.blk_2 = downSampleBlock(d, d)
    this.blk_3 = downSampleBlock(d, d)
    this.blk_4 = new AdaptiveMaxPool2d([1, 1])
    const chans = [c, d, d, d, d]
    const k = this.numAnchors
    ;[this.cls_0, this.cls_1, this.cls_2, this.cls_3, this.cls_4] = chans.map(
      (ch) => new Conv2d(ch, k * (numClasses + 1), 3, { padding: 1 }),
    ) as Conv2d[]
    ;[this.bbox_0, this.bbox_1, this.bbox_2, this.bbox_3, this.bbox_4] = chans.map(
      (ch) => new Conv2d(ch, k * 4, 3, { padding: 1 }),
    ) as Conv2d[]
  }

  private get blocks(): Module[] {
    return [this.blk_0, this.blk_1, this.blk_2, this.blk_3, this.blk_4]
  }
  private get cls(): Conv2d[] {
    return [this.cls_0, this.cls_1, this.cls_2, this.cls_3, this.cls_4]
  }
  private get bbox(): Conv2d[] {
    return [this.bbox_0, this.bbox_1, this.bbox_2, this.bbox_3, this.bbox_4]
  }

  forward(x: Tensor): [Tensor, Tensor] {
    const n = x.shape[0]!
    const cls: Tensor[] = []
    const box: Tensor[] = []
    let y = x
    for (let i = 0; i < 5; i++) {
      y = this.blocks[i]!.call(y) // (N, 3, 256, 256) -> (N, 64, 32, 32) -> (N, 128, 16, 16) -> 8 -> 4 -> 1
      // (N, k (C + 1), H, W) -> (N, H, W, k (C + 1)) -> (N, H W k, C + 1): d2l's flatten_pred
      cls.push(
        this.cls[i]!.call(y)
          .permute(0, 2, 3, 1)
          .reshape(n, -1, this.numClasses + 1),
      )
      box.push(this.bbox[i]!.call(y).permute(0, 2, 3, 1).reshape(n, -1, 4))
    }
    return [concat(cls, 1), concat(box, 1)]
  }

  /** The anchors (corner, relative to the image) for an input of (h, w): those of each feature map in order. */
  anchors(h: number, w: number): Tensor {
    const sizes: [number, number][] = []
    // base net: 3 pools; then a pool per block; the last block pools to 1x1.
    let [fh, fw] = [Math.floor(h / 8), Math.floor(w / 8)]
    for (let i = 0; i < 4; i++) {
      sizes.push([fh, fw])
      fh = Math.floor(fh / 2)
      fw = Math.floor(fw / 2)
    }
    sizes.push([1, 1])
    return concat(
      sizes.map(([a, b], i) => multiboxPrior(a, b, TINY_SSD_SIZES[i]!, TINY_SSD_RATIOS)),
      0,
    )
  }
}

/**
 * SSD300 with a VGG-16 backbone (Liu et al. 2016, "SSD: Single Shot MultiBox Detector",
 * https://arxiv.org/abs/1512.02325; d2l.ai, "Single Shot Multibox Detection",
 * https://d2l.ai/chapter_computer-vision/ssd.html).
 *
 * Key idea: predict classes and box offsets for default boxes of several scales directly from six
 * feature maps of decreasing resolution (38, 19, 10, 5, 3, 1 at 300x300): fine maps for small
 * objects, coarse maps for large ones, all in one pass. VGG-16 is cut after conv4_3 (L2-normalised
 * with a learned per-channel scale, initially 20), pool5 becomes 3x3 stride 1, fc6/fc7 become a
 * dilated 3x3 and a 1x1 convolution, and four extra blocks halve the map.
 *
 * Names and layout follow torchvision's ssd300_vgg16 (backbone.features.N, backbone.scale_weight,
 * backbone.extra.N..., head.classification_head.module_list.N, head.regression_head.module_list.N),
 * so its state dict loads by name and the raw head outputs agree (test/ssd300.test.ts).
 */
import { Module, type Tensor, full, nn } from '@refnets/core'
import { Conv2d, MaxPool2d, vggBlock } from '@refnets/cnn'
import { ssdBoxesPerLevel, ssdDefaultBoxes, type SsdDefaultBoxOptions } from '../anchors.js'
import { SsdHead } from './ssd-head.js'

/** torchvision's SSD300 default boxes. */
export const SSD300_BOXES: SsdDefaultBoxOptions = {
  aspectRatios: [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
  scales: [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
  steps: [8, 16, 32, 64, 100, 300],
}

const relu = () => new nn.ReLU()
const extraBlock = (cin: number, mid: number, cout: number, strided: boolean): nn.Sequential =>
  new nn.Sequential(
    new Conv2d(cin, mid, 1),
    relu(),
    new Conv2d(mid, cout, 3, strided ? { padding: 1, stride: 2 } : {}),
    relu(),
  )

/** The VGG-16 feature extractor of SSD300: six maps with 512, 1024, 512, 256, 256, 256 channels. */
export class SsdVggBackbone extends Module<[Tensor], Tensor[]> {
  features: nn.Sequential
  scale_weight: nn.Parameter
  extra: nn.Sequential[]

  constructor() {
    super()
    const vgg = [
      [2, 64],
      [2, 128],
      [3, 256],
      [3, 512],
      [3, 512],
    ].flatMap(([n, c], i, a) => vggBlock(n!, i === 0 ? 3 : a[i - 1]![1]!, c!))
    // NOTE: pool3 rounds up (ceil mode), so 75 -> 38 and conv4_3 is 38x38 as in the paper.
    vgg[16] = new MaxPool2d(2, { stride: 2, ceilMode: true })
    this.features = new nn.Sequential(...vgg.slice(0, 23)) // up to conv4_3 + ReLU
    this.scale_weight = new nn.Parameter(full([512], 20))
    const fc = new nn.Sequential(
      new MaxPool2d(3, { stride: 1, padding: 1 }), // pool5, 3x3 stride 1
      new Conv2d(512, 1024, 3, { padding: 6, dilation: 6 }),
      relu(), // fc6 as an atrous conv
      new Conv2d(1024, 1024, 1),
      relu(), // fc7
    )
    this.extra = [
      new nn.Sequential(...vgg.slice(23, 30), fc), // pool4, conv5_1..3, fc6, fc7: 19x19
      extraBlock(1024, 256, 512, true), // conv8_2: 10x10
      extraBlock(512, 128, 256, true), // conv9_2: 5x5
      extraBlock(256, 128, 256, false), // conv10_2: 3x3
      extraBlock(256, 128, 256, false), // conv11_2: 1x1
    ]
  }

  forward(x: Tensor): Tensor[] {
    // (N, 3, 300, 300) -> (N, 512, 38, 38)
    let y = this.features.call(x)
    // NOTE: L2 normalisation over channels with max(norm, 1e-12), as F.normalize, then the learned scale.
    const norm = y.square().sum(1, true).sqrt().maximum(1e-12)
    const out = [y.div(norm).mul(this.scale_weight.reshape(1, -1, 1, 1))]
    for (const block of this.extra) {
      y = block.call(y) // -> (N, 1024, 19, 19), (N, 512, 10, 10), (N, 256, 5, 5), (N, 256, 3, 3), (N, 256, 1, 1)
      out.push(y)
    }
    return out
  }
}

export interface Ssd300Options {
  /** Classes including the background (torchvision's default 91 for COCO). */
  numClasses?: number
}

/** SSD300-VGG16: forward gives [bboxRegression (N, 8732, 4), clsLogits (N, 8732, numClasses)]. */
export class Ssd300 extends Module<[Tensor], [Tensor, Tensor]> {
  backbone: SsdVggBackbone
  head: SsdHead
  readonly numClasses: number

  constructor({ numClasses = 91 }: Ssd300Options = {}) {
    super()
    this.numClasses = numClasses
    this.backbone = new SsdVggBackbone()
    this.head = new SsdHead([512, 1024, 512, 256, 256, 256], ssdBoxesPerLevel(SSD300_BOXES.aspectRatios), numClasses)
  }

  forward(x: Tensor): [Tensor, Tensor] {
    return this.head.call(this.backbone.call(x))
  }

  /** The 8732 default boxes (corner, pixels) for a 300x300 image. */
  defaultBoxes(): Tensor {
    return ssdDefaultBoxes(
      [
        [38, 38],
        [19, 19],
        [10, 10],
        [5, 5],
        [3, 3],
        [1, 1],
      ],
      [300, 300],
      SSD300_BOXES,
    )
  }
}

export const ssd300Vgg16 = (o: Ssd300Options = {}): Ssd300 => new Ssd300(o)

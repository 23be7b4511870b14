/**
 * FCN, fully convolutional network for semantic segmentation. Long, Shelhamer & Darrell 2015,
 * "Fully convolutional networks for semantic segmentation", https://arxiv.org/abs/1411.4038
 * (d2l.ai, https://d2l.ai/chapter_computer-vision/fcn.html).
 *
 * Key idea: classify every pixel with a network that has no fully connected layer, so it takes any
 * input size. A CNN body shrinks the image 32x; a 1x1 conv turns the channels into class scores;
 * a transposed convolution (https://d2l.ai/chapter_computer-vision/transposed-conv.html) upsamples the scores back to
 * the input size. Initialised as bilinear interpolation, the transposed conv starts as a sensible upsampler and is
 * then learned.
 *
 * This is d2l.ai's FCN (13.11): the body is ResNet-18 without its average pool and fc (children
 * 0 conv1, 1 bn1, 2 relu, 3 maxpool, 4..7 layer1..layer4), then `final_conv` (1x1, 512 -> classes)
 * and `transpose_conv` (kernel 64, stride 32, padding 16). State-dict names are d2l's
 * (`0.weight`, `4.0.conv1.weight`, `final_conv.weight`, `transpose_conv.weight`), so a model trained
 * with d2l's PyTorch code loads directly, and `fcnResnet18({ backbone })` takes a (pretrained) ResNet-18.
 */
import { Module, type Tensor, noGrad } from '@refnets/core'
import { Conv2d, ConvTranspose2d, bilinearKernel } from '../layers/conv.js'
import { type ResNet, resnet18 } from './resnet.js'

export interface FCNOptions {
  /** PASCAL VOC: 20 classes + background. */
  numClasses?: number
  /** A ResNet-18 whose body (all but avgpool and fc) is reused, e.g. with pretrained weights. */
  backbone?: ResNet
}

export class FCN extends Module {
  readonly body: Module[]
  final_conv: Conv2d
  transpose_conv: ConvTranspose2d

  constructor({ numClasses = 21, backbone = resnet18() }: FCNOptions = {}) {
    super()
    const r = backbone
    this.body = [r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4]
    const channels = r.fc.inFeatures
    this.final_conv = new Conv2d(channels, numClasses, 1)
    this.transpose_conv = new ConvTranspose2d(numClasses, numClasses, 64, { padding: 16, stride: 32 })
    noGrad(() => this.transpose_conv.weight.storage.set(bilinearKernel(numClasses, numClasses, 64).storage))
  }

  // d2l's names: the body's children by index, then final_conv and transpose_conv.
  override *namedChildren(): Iterable<[string, Module<any, any>]> {
    for (let i = 0; i < this.body.length; i++) yield [String(i), this.body[i]!]
    yield ['final_conv', this.final_conv]
    yield ['transpose_conv', this.transpose_conv]
  }

  forward(x: Tensor): Tensor {
    for (const m of this.body) x = m.call(x) // (B, 3, H, W) -> (B, 512, H/32, W/32)
    x = this.final_conv.call(x) // -> (B, numClasses, H/32, W/32)
    return this.transpose_conv.call(x) // -> (B, numClasses, H, W): a score per class and pixel
  }
}

export const fcnResnet18 = (opts: FCNOptions = {}) => new FCN(opts)

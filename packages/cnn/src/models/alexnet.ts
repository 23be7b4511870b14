/**
 * AlexNet. Krizhevsky, Sutskever & Hinton 2012, "ImageNet classification with deep convolutional
 * neural networks", https://doi.org/10.1145/3065386 (d2l.ai 8.1,
 * https://d2l.ai/chapter_convolutional-modern/alexnet.html).
 *
 * Key idea: LeNet made much bigger (about 60 million parameters) and trained on ImageNet
 * with the tricks that made depth work: ReLU instead of sigmoid, dropout in the classifier, data
 * augmentation, local response normalisation, overlapping max pooling and two GPUs.
 *
 * Layout and names follow torchvision's `alexnet` (the "one weird trick" variant: 64/192/384/256/256
 * channels, no LRN): features.0 ... features.12, avgpool AdaptiveAvgPool2d(6, 6), classifier.1/.4/.6.
 * `alexnet({ lrn: true })` adds the paper's LRN after the first two ReLUs; that shifts the
 * features.* indices (features.0, .4, .8, .10, .12 are the convs), so torchvision weights no longer load.
 */
import { type Tensor, flatten, nn } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { LocalResponseNorm } from '../layers/norm.js'
import { AdaptiveAvgPool2d, MaxPool2d } from '../layers/pool.js'

/**
 * The paper's LRN: k = 2, n = 5, alpha = 1e-4, beta = 0.75 with b = a / (k + alpha * sum a^2)^beta.
 * NOTE: PyTorch/ONNX LRN divide alpha by n, so the paper's alpha is 5 * 1e-4 here.
 */
export const ALEXNET_LRN = { size: 5, alpha: 5e-4, beta: 0.75, k: 2 } as const

export interface AlexNetOptions {
  numClasses?: number
  inChannels?: number
  dropout?: number
  /** Insert the paper's local response normalisation after conv1 and conv2 (default false, as torchvision). */
  lrn?: boolean
}

export class AlexNet extends nn.Module {
  features: nn.Sequential
  avgpool: AdaptiveAvgPool2d
  classifier: nn.Sequential

  constructor({ numClasses = 1000, inChannels = 3, dropout = 0.5, lrn = false }: AlexNetOptions = {}) {
    super()
    const norm = () => (lrn ? [new LocalResponseNorm(ALEXNET_LRN.size, ALEXNET_LRN)] : [])
    this.features = new nn.Sequential(
      new Conv2d(inChannels, 64, 11, { stride: 4, padding: 2 }),
      new nn.ReLU(),
      ...norm(),
      new MaxPool2d(3, { stride: 2 }),
      new Conv2d(64, 192, 5, { padding: 2 }),
      new nn.ReLU(),
      ...norm(),
      new MaxPool2d(3, { stride: 2 }),
      new Conv2d(192, 384, 3, { padding: 1 }),
      new nn.ReLU(),
      new Conv2d(384, 256, 3, { padding: 1 }),
      new nn.ReLU(),
      new Conv2d(256, 256, 3, { padding: 1 }),
      new nn.ReLU(),
      new MaxPool2d(3, { stride: 2 }),
    )
    this.avgpool = new AdaptiveAvgPool2d([6, 6])
    this.classifier = new nn.Sequential(
      new nn.Dropout(dropout),
      new nn.Linear(256 * 6 * 6, 4096),
      new nn.ReLU(),
      new nn.Dropout(dropout),
      new nn.Linear(4096, 4096),
      new nn.ReLU(),
      new nn.Linear(4096, numClasses),
    )
  }

  forward(x: Tensor): Tensor {
    // (B, 3, 224, 224) -> conv 11x11/4 -> (B, 64, 55, 55) -> pool 3/2 -> (B, 64, 27, 27)
    //   -> conv 5x5 -> (B, 192, 27, 27) -> pool -> (B, 192, 13, 13) -> 3 convs 3x3 -> (B, 256, 13, 13)
    //   -> pool -> (B, 256, 6, 6)
    x = this.features.call(x)
    x = this.avgpool.call(x) // (B, 256, 6, 6) at any input size >= 63
    x = flatten(x, 1) // (B, 9216)
    return this.classifier.call(x) // (B, numClasses)
  }
}

/** torchvision's alexnet: 61,100,840 parameters with 1000 classes. */
export const alexnet = (opts: AlexNetOptions = {}) => new AlexNet(opts)

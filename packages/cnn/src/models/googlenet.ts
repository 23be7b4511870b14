/**
 * GoogLeNet (Inception v1). Szegedy et al. 2015, "Going deeper with convolutions",
 * https://arxiv.org/abs/1409.4842 (d2l.ai 8.4, https://d2l.ai/chapter_convolutional-modern/googlenet.html).
 *
 * Key idea: the Inception block runs 1x1, 3x3, 5x5 convolutions and a 3x3 max pool in parallel and
 * concatenates them along channels ("why pick one? I'll take them all", 选个p，我全都要): the network
 * need not choose a kernel size. 1x1 convolutions before the 3x3/5x5 branches (and after the pool)
 * cut the channels first, so the block stays cheap. Nine blocks in three stages, global average
 * pooling, one linear layer.
 *
 * This is torchvision's `googlenet` (aux_logits=False, transform_input=False): every conv is a
 * BasicConv2d (conv without bias, batch norm with eps 0.001, ReLU), and branch3 uses a 3x3 conv
 * where the paper has 5x5 (torchvision keeps it for its pretrained weights). Names: conv1.conv,
 * conv1.bn, inception3a.branch1.conv, inception3a.branch2.0.conv, ..., fc. d2l's GoogLeNet (8.4) is
 * the same graph without batch norm.
 */
import { Module, type Tensor, concat, flatten, nn, relu } from '@refnets/core'
import { Conv2d, type Conv2dOptions, type Pair } from '../layers/conv.js'
import { BatchNorm2d } from '../layers/norm.js'
import { AdaptiveAvgPool2d, MaxPool2d } from '../layers/pool.js'

/** conv (no bias) -> batch norm (eps 0.001) -> ReLU: (B, C_in, H, W) -> (B, C_out, H', W'). */
export class BasicConv2d extends Module {
  conv: Conv2d
  bn: BatchNorm2d

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Omit<Conv2dOptions, 'bias'> = {}) {
    super()
    this.conv = new Conv2d(inChannels, outChannels, kernelSize, { ...opts, bias: false })
    this.bn = new BatchNorm2d(outChannels, { eps: 0.001 })
  }

  forward(x: Tensor): Tensor {
    return relu(this.bn.call(this.conv.call(x)))
  }
}

/**
 * Inception block: four parallel paths concatenated on channels,
 * (B, C_in, H, W) -> (B, ch1x1 + ch3x3 + ch5x5 + poolProj, H, W).
 */
export class Inception extends Module {
  branch1: BasicConv2d
  branch2: nn.Sequential
  branch3: nn.Sequential
  branch4: nn.Sequential

  constructor(
    inChannels: number,
    ch1x1: number,
    ch3x3red: number,
    ch3x3: number,
    ch5x5red: number,
    ch5x5: number,
    poolProj: number,
  ) {
    super()
    this.branch1 = new BasicConv2d(inChannels, ch1x1, 1)
    this.branch2 = new nn.Sequential(
      new BasicConv2d(inChannels, ch3x3red, 1),
      new BasicConv2d(ch3x3red, ch3x3, 3, { padding: 1 }),
    )
    // NOTE: 3x3 where the paper says 5x5: torchvision's known deviation, kept so its weights load.
    this.branch3 = new nn.Sequential(
      new BasicConv2d(inChannels, ch5x5red, 1),
      new BasicConv2d(ch5x5red, ch5x5, 3, { padding: 1 }),
    )
    this.branch4 = new nn.Sequential(
      new MaxPool2d(3, { stride: 1, padding: 1, ceilMode: true }),
      new BasicConv2d(inChannels, poolProj, 1),
    )
  }

  forward(x: Tensor): Tensor {
    // each branch keeps H, W; channels are concatenated
    return concat([this.branch1.call(x), this.branch2.call(x), this.branch3.call(x), this.branch4.call(x)], 1)
  }
}

/** Input channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. */
export type InceptionConfig = readonly [number, number, number, number, number, number, number]

/** The paper's Table 1. */
export const INCEPTION_CONFIGS = {
  inception3a: [192, 64, 96, 128, 16, 32, 32],
  inception3b: [256, 128, 128, 192, 32, 96, 64],
  inception4a: [480, 192, 96, 208, 16, 48, 64],
  inception4b: [512, 160, 112, 224, 24, 64, 64],
  inception4c: [512, 128, 128, 256, 24, 64, 64],
  inception4d: [512, 112, 144, 288, 32, 64, 64],
  inception4e: [528, 256, 160, 320, 32, 128, 128],
  inception5a: [832, 256, 160, 320, 32, 128, 128],
  inception5b: [832, 384, 192, 384, 48, 128, 128],
} as const satisfies Record<string, InceptionConfig>

const inception = (name: keyof typeof INCEPTION_CONFIGS) =>
  new Inception(...(INCEPTION_CONFIGS[name] as InceptionConfig))

export interface GoogLeNetOptions {
  numClasses?: number
  inChannels?: number
  dropout?: number
  /** Apply torchvision's init (default true, torchvision's `init_weights`); false keeps the layers' defaults. */
  initWeights?: boolean
}

export class GoogLeNet extends Module {
  // Field order = torchvision's registration order, so state-dict keys come in the same order.
  conv1: BasicConv2d
  maxpool1 = new MaxPool2d(3, { stride: 2, ceilMode: true })
  conv2: BasicConv2d
  conv3: BasicConv2d
  maxpool2 = new MaxPool2d(3, { stride: 2, ceilMode: true })
  inception3a = inception('inception3a')
  inception3b = inception('inception3b')
  maxpool3 = new MaxPool2d(3, { stride: 2, ceilMode: true })
  inception4a = inception('inception4a')
  inception4b = inception('inception4b')
  inception4c = inception('inception4c')
  inception4d = inception('inception4d')
  inception4e = inception('inception4e')
  maxpool4 = new MaxPool2d(2, { stride: 2, ceilMode: true })
  inception5a = inception('inception5a')
  inception5b = inception('inception5b')
  avgpool = new AdaptiveAvgPool2d([1, 1])
  dropout: nn.Dropout
  fc: nn.Linear

  constructor({ numClasses = 1000, inChannels = 3, dropout = 0.2, initWeights = true }: GoogLeNetOptions = {}) {
    super()
    this.conv1 = new BasicConv2d(inChannels, 64, 7, { stride: 2, padding: 3 })
    this.conv2 = new BasicConv2d(64, 64, 1)
    this.conv3 = new BasicConv2d(64, 192, 3, { padding: 1 })
    this.dropout = new nn.Dropout(dropout)
    this.fc = new nn.Linear(1024, numClasses)
    if (initWeights) this.torchvisionInit()
  }

  /**
   * torchvision's init: convs and the linear layer N(0, 0.01) truncated to [-2, 2] (a no-op at this
   * std), batch norms gamma 1, beta 0 (their defaults).
   */
  private torchvisionInit(): void {
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d || m instanceof nn.Linear) {
        nn.normal_(m.weight, 0, 0.01)
        if (m instanceof nn.Linear && m.bias) nn.zeros_(m.bias)
      }
    }
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.call(x) // (B, 3, 224, 224) -> (B, 64, 112, 112)
    x = this.maxpool1.call(x) // -> (B, 64, 56, 56)
    x = this.conv3.call(this.conv2.call(x)) // -> (B, 192, 56, 56)
    x = this.maxpool2.call(x) // -> (B, 192, 28, 28)
    x = this.inception3b.call(this.inception3a.call(x)) // -> (B, 256, 28, 28) -> (B, 480, 28, 28)
    x = this.maxpool3.call(x) // -> (B, 480, 14, 14)
    for (const block of [this.inception4a, this.inception4b, this.inception4c, this.inception4d, this.inception4e])
      x = block.call(x)
    // 512, 512, 512, 528, 832 channels at 14 x 14
    x = this.maxpool4.call(x) // -> (B, 832, 7, 7)
    x = this.inception5b.call(this.inception5a.call(x)) // -> (B, 832, 7, 7) -> (B, 1024, 7, 7)
    x = flatten(this.avgpool.call(x), 1) // -> (B, 1024)
    return this.fc.call(this.dropout.call(x)) // -> (B, numClasses)
  }
}

/** torchvision's googlenet without auxiliary heads: 6,624,904 parameters with 1000 classes. */
export const googlenet = (opts: GoogLeNetOptions = {}) => new GoogLeNet(opts)

/**
 * DenseNet. Huang, Liu, van der Maaten & Weinberger 2017, "Densely connected convolutional
 * networks", https://arxiv.org/abs/1608.06993 (d2l.ai 8.7, https://d2l.ai/chapter_convolutional-modern/densenet.html).
 *
 * Key idea: where ResNet adds a block's output to its input, a dense block concatenates it. Layer l
 * of a block sees the channels of every earlier layer, [x_0, x_1, ..., x_{l-1}], and contributes
 * `growthRate` new ones, so features are reused rather than relearned and each layer stays narrow
 * (32 channels). A dense layer is BN-ReLU-1x1 conv (a bottleneck to 4 x growth channels) then
 * BN-ReLU-3x3 conv; between blocks a transition layer (BN-ReLU-1x1 conv halving the channels, 2x2
 * average pool) keeps the growing width in check.
 *
 * This is torchvision's `densenet121` (memory_efficient off, drop_rate 0): blocks of (6, 12, 24, 16)
 * layers, growth 32, 64 stem channels. Names: features.conv0, features.norm0,
 * features.denseblock1.denselayer1.norm1 / conv1 / norm2 / conv2, features.transition1.norm / conv,
 * features.norm5, classifier.
 */
import { Module, type ModelSpec, type Tensor, concat, flatten, nn, relu } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { BatchNorm2d } from '../layers/norm.js'
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from '../layers/pool.js'
import { imageSpec, imagenet, logits, measured } from '../spec-helpers.js'

/** Modules applied in order under the given names, as torch.nn.Sequential(OrderedDict(...)). */
export class NamedSequential extends Module {
  constructor(readonly entries: [string, Module][]) {
    super()
  }

  override *namedChildren(): Iterable<[string, Module<any, any>]> {
    yield* this.entries
  }

  forward(x: Tensor): Tensor {
    for (const [, m] of this.entries) x = m.call(x)
    return x
  }
}

/** BN-ReLU-1x1 conv-BN-ReLU-3x3 conv: (B, C_in, H, W) -> (B, growthRate, H, W), the new features only. */
export class DenseLayer extends Module {
  norm1: BatchNorm2d
  conv1: Conv2d
  norm2: BatchNorm2d
  conv2: Conv2d

  constructor(inChannels: number, growthRate: number, bnSize: number) {
    super()
    this.norm1 = new BatchNorm2d(inChannels)
    this.conv1 = new Conv2d(inChannels, bnSize * growthRate, 1, { bias: false })
    this.norm2 = new BatchNorm2d(bnSize * growthRate)
    this.conv2 = new Conv2d(bnSize * growthRate, growthRate, 3, { padding: 1, bias: false })
  }

  forward(x: Tensor): Tensor {
    const b = this.conv1.call(relu(this.norm1.call(x))) // (B, C_in, H, W) -> (B, bnSize k, H, W)
    return this.conv2.call(relu(this.norm2.call(b))) // -> (B, k, H, W)
  }
}

/** `numLayers` dense layers: (B, C, H, W) -> (B, C + numLayers growthRate, H, W). */
export class DenseBlock extends Module {
  readonly layers: [string, DenseLayer][]

  constructor(numLayers: number, inChannels: number, growthRate: number, bnSize: number) {
    super()
    this.layers = Array.from({ length: numLayers }, (_, i) => [
      `denselayer${i + 1}`,
      new DenseLayer(inChannels + i * growthRate, growthRate, bnSize),
    ])
  }

  override *namedChildren(): Iterable<[string, Module<any, any>]> {
    yield* this.layers
  }

  forward(x: Tensor): Tensor {
    const features = [x]
    // each layer sees every earlier output: (B, C + l k, H, W) -> (B, k, H, W)
    for (const [, layer] of this.layers) features.push(layer.call(concat(features, 1)))
    return concat(features, 1) // (B, C + L k, H, W)
  }
}

/** BN-ReLU-1x1 conv-2x2 average pool: (B, C_in, H, W) -> (B, C_out, H/2, W/2). */
const transition = (inChannels: number, outChannels: number) =>
  new NamedSequential([
    ['norm', new BatchNorm2d(inChannels)],
    ['relu', new nn.ReLU()],
    ['conv', new Conv2d(inChannels, outChannels, 1, { bias: false })],
    ['pool', new AvgPool2d(2, { stride: 2 })],
  ])

export interface DenseNetOptions {
  growthRate?: number
  blockConfig?: readonly number[]
  numInitFeatures?: number
  /** Bottleneck width as a multiple of the growth rate. */
  bnSize?: number
  numClasses?: number
  inChannels?: number
}

export class DenseNet extends Module {
  features: NamedSequential
  avgpool = new AdaptiveAvgPool2d([1, 1])
  classifier: nn.Linear

  constructor(opts: DenseNetOptions = {}) {
    super()
    const {
      growthRate = 32,
      blockConfig = [6, 12, 24, 16],
      numInitFeatures = 64,
      bnSize = 4,
      numClasses = 1000,
      inChannels = 3,
    } = opts
    const entries: [string, Module][] = [
      ['conv0', new Conv2d(inChannels, numInitFeatures, 7, { stride: 2, padding: 3, bias: false })],
      ['norm0', new BatchNorm2d(numInitFeatures)],
      ['relu0', new nn.ReLU()],
      ['pool0', new MaxPool2d(3, { stride: 2, padding: 1 })],
    ]
    let c = numInitFeatures
    blockConfig.forEach((numLayers, i) => {
      entries.push([`denseblock${i + 1}`, new DenseBlock(numLayers, c, growthRate, bnSize)])
      c += numLayers * growthRate
      if (i !== blockConfig.length - 1) {
        entries.push([`transition${i + 1}`, transition(c, Math.floor(c / 2))])
        c = Math.floor(c / 2)
      }
    })
    entries.push(['norm5', new BatchNorm2d(c)])
    this.features = new NamedSequential(entries)
    this.classifier = new nn.Linear(c, numClasses)
    // torchvision: Kaiming normal (fan_in) for convs; batch norm gamma 1, beta 0; classifier bias 0.
    for (const [, m] of this.namedModules()) if (m instanceof Conv2d) nn.kaimingNormal_(m.weight)
    nn.zeros_(this.classifier.bias!)
  }

  forward(x: Tensor): Tensor {
    // (B, 3, 224, 224) -> stem (B, 64, 56, 56) -> blocks and transitions -> (B, 1024, 7, 7) for densenet121
    x = relu(this.features.call(x))
    x = flatten(this.avgpool.call(x), 1) // -> (B, 1024)
    return this.classifier.call(x) // -> (B, numClasses)
  }
}

/** DenseNet-121: 7,978,856 parameters with 1000 classes. */
export const densenet121 = (opts: DenseNetOptions = {}) =>
  new DenseNet({ growthRate: 32, blockConfig: [6, 12, 24, 16], numInitFeatures: 64, ...opts })

const DENSENET = 'Huang et al. 2017, Densely connected convolutional networks'

/** The registry entries of this file (collected by src/specs.ts). */
export const densenetSpecs: ModelSpec[] = [
  // measured max abs error / max |reference| against ONNX Runtime: 5.87e-6
  imageSpec('densenet121', 'densenet', DENSENET, () => densenet121(), imagenet, logits(1000), {
    tolerance: measured(5.87e-6),
  }),
]

/**
 * ResNet. He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition",
 * https://arxiv.org/abs/1512.03385 (d2l.ai 8.6, https://d2l.ai/chapter_convolutional-modern/resnet.html).
 *
 * Key idea: a residual block learns f(x) - x and adds its input back, y = relu(F(x) + x). Plain
 * deep networks degrade (training error rises with depth, not overfitting: the paper's figure 1); with the
 * identity shortcut a block can always fall back to the identity, and gradients flow through the
 * sum unchanged ("a large number plus a small one is still a large number", 大数加小数为大数).
 * When the shape changes, a 1x1 conv (stride 2) with batch norm projects the shortcut. The basic
 * block is two 3x3 convs (ResNet-18/34); the bottleneck is 1x1 (reduce), 3x3, 1x1 (expand 4x) for
 * the deeper nets (50/101/152).
 *
 * This is torchvision's `resnet` (v1.5: the bottleneck's stride sits on the 3x3 conv). Names:
 * conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., layer2.0.downsample.0 (conv) / .1 (bn), fc.
 */
import { Module, type Tensor, flatten, nn } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { BatchNorm2d } from '../layers/norm.js'
import { AdaptiveAvgPool2d, MaxPool2d } from '../layers/pool.js'

const conv3x3 = (inC: number, outC: number, stride = 1) => new Conv2d(inC, outC, 3, { stride, padding: 1, bias: false })
const conv1x1 = (inC: number, outC: number, stride = 1) => new Conv2d(inC, outC, 1, { stride, bias: false })

/** Two 3x3 convs: (B, C_in, H, W) -> (B, planes, H / stride, W / stride). */
export class BasicBlock extends Module {
  static readonly expansion = 1
  conv1: Conv2d
  bn1: BatchNorm2d
  relu = new nn.ReLU()
  conv2: Conv2d
  bn2: BatchNorm2d
  downsample: nn.Sequential | null

  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super()
    this.conv1 = conv3x3(inplanes, planes, stride)
    this.bn1 = new BatchNorm2d(planes)
    this.conv2 = conv3x3(planes, planes)
    this.bn2 = new BatchNorm2d(planes)
    this.downsample = downsample
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.call(x) : x // (B, planes, H/s, W/s)
    let out = this.relu.call(this.bn1.call(this.conv1.call(x))) // (B, planes, H/s, W/s)
    out = this.bn2.call(this.conv2.call(out))
    return this.relu.call(out.add(identity)) // F(x) + x
  }
}

/** 1x1 reduce, 3x3 (stride), 1x1 expand: (B, C_in, H, W) -> (B, 4 planes, H / stride, W / stride). */
export class Bottleneck extends Module {
  static readonly expansion = 4
  conv1: Conv2d
  bn1: BatchNorm2d
  conv2: Conv2d
  bn2: BatchNorm2d
  conv3: Conv2d
  bn3: BatchNorm2d
  relu = new nn.ReLU()
  downsample: nn.Sequential | null

  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super()
    this.conv1 = conv1x1(inplanes, planes)
    this.bn1 = new BatchNorm2d(planes)
    this.conv2 = conv3x3(planes, planes, stride)
    this.bn2 = new BatchNorm2d(planes)
    this.conv3 = conv1x1(planes, planes * Bottleneck.expansion)
    this.bn3 = new BatchNorm2d(planes * Bottleneck.expansion)
    this.downsample = downsample
  }

  forward(x: Tensor): Tensor {
    const identity = this.downsample ? this.downsample.call(x) : x // (B, 4 planes, H/s, W/s)
    let out = this.relu.call(this.bn1.call(this.conv1.call(x))) // (B, planes, H, W)
    out = this.relu.call(this.bn2.call(this.conv2.call(out))) // (B, planes, H/s, W/s)
    out = this.bn3.call(this.conv3.call(out)) // (B, 4 planes, H/s, W/s)
    return this.relu.call(out.add(identity))
  }
}

export type Block = typeof BasicBlock | typeof Bottleneck
export type ResNetConfig = readonly [Block, readonly [number, number, number, number]]

/** Blocks per stage (the paper's Table 1). */
export const RESNET_CONFIGS = {
  resnet18: [BasicBlock, [2, 2, 2, 2]],
  resnet34: [BasicBlock, [3, 4, 6, 3]],
  resnet50: [Bottleneck, [3, 4, 6, 3]],
  resnet101: [Bottleneck, [3, 4, 23, 3]],
  resnet152: [Bottleneck, [3, 8, 36, 3]],
} as const satisfies Record<string, ResNetConfig>

export interface ResNetOptions {
  numClasses?: number
  inChannels?: number
  /** Start each residual branch's last batch norm at gamma = 0, so every block begins as the identity. */
  zeroInitResidual?: boolean
}

export class ResNet extends Module {
  conv1: Conv2d
  bn1: BatchNorm2d
  relu = new nn.ReLU()
  maxpool = new MaxPool2d(3, { stride: 2, padding: 1 })
  layer1: nn.Sequential
  layer2: nn.Sequential
  layer3: nn.Sequential
  layer4: nn.Sequential
  avgpool = new AdaptiveAvgPool2d([1, 1])
  fc: nn.Linear
  private inplanes = 64

  constructor(
    block: Block,
    layers: readonly [number, number, number, number],
    { numClasses = 1000, inChannels = 3, zeroInitResidual = false }: ResNetOptions = {},
  ) {
    super()
    this.conv1 = new Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, bias: false })
    this.bn1 = new BatchNorm2d(64)
    this.layer1 = this.makeLayer(block, 64, layers[0])
    this.layer2 = this.makeLayer(block, 128, layers[1], 2)
    this.layer3 = this.makeLayer(block, 256, layers[2], 2)
    this.layer4 = this.makeLayer(block, 512, layers[3], 2)
    this.fc = new nn.Linear(512 * block.expansion, numClasses)
    // torchvision: Kaiming normal (fan_out, ReLU) for convs; batch norm gamma 1, beta 0; fc keeps Linear's default.
    for (const [, m] of this.namedModules()) if (m instanceof Conv2d) nn.kaimingNormal_(m.weight, 0, 'fan_out')
    if (zeroInitResidual)
      for (const [, m] of this.namedModules()) {
        if (m instanceof Bottleneck) nn.zeros_(m.bn3.weight!)
        else if (m instanceof BasicBlock) nn.zeros_(m.bn2.weight!)
      }
  }

  /** A stage: `blocks` blocks, the first one with `stride` and a projection shortcut when the shape changes. */
  private makeLayer(block: Block, planes: number, blocks: number, stride = 1): nn.Sequential {
    let downsample: nn.Sequential | null = null
    if (stride !== 1 || this.inplanes !== planes * block.expansion)
      downsample = new nn.Sequential(
        conv1x1(this.inplanes, planes * block.expansion, stride),
        new BatchNorm2d(planes * block.expansion),
      )
    const layers: Module[] = [new block(this.inplanes, planes, stride, downsample)]
    this.inplanes = planes * block.expansion
    for (let i = 1; i < blocks; i++) layers.push(new block(this.inplanes, planes))
    return new nn.Sequential(...layers)
  }

  /** The convolutional body: (B, 3, H, W) -> (B, 512 expansion, H/32, W/32). */
  features(x: Tensor): Tensor {
    x = this.relu.call(this.bn1.call(this.conv1.call(x))) // (B, 3, 224, 224) -> (B, 64, 112, 112)
    x = this.maxpool.call(x) // -> (B, 64, 56, 56)
    x = this.layer1.call(x) // -> (B, 64 e, 56, 56)
    x = this.layer2.call(x) // -> (B, 128 e, 28, 28)
    x = this.layer3.call(x) // -> (B, 256 e, 14, 14)
    return this.layer4.call(x) // -> (B, 512 e, 7, 7)   (e = expansion: 1 basic, 4 bottleneck)
  }

  forward(x: Tensor): Tensor {
    x = this.features(x)
    x = flatten(this.avgpool.call(x), 1) // -> (B, 512 e)
    return this.fc.call(x) // -> (B, numClasses)
  }
}

const build =
  (name: keyof typeof RESNET_CONFIGS) =>
  (opts: ResNetOptions = {}) =>
    new ResNet(...(RESNET_CONFIGS[name] as ResNetConfig), opts)
/** 11,689,512 parameters with 1000 classes. */
export const resnet18 = build('resnet18')
/** 21,797,672 parameters. */
export const resnet34 = build('resnet34')
/** 25,557,032 parameters. */
export const resnet50 = build('resnet50')
/** 44,549,160 parameters. */
export const resnet101 = build('resnet101')
/** 60,192,808 parameters. */
export const resnet152 = build('resnet152')

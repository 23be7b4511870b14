/**
 * VGG. Simonyan & Zisserman 2014, "Very deep convolutional networks for large-scale image recognition",
 * https://arxiv.org/abs/1409.1556 (d2l.ai 8.2, https://d2l.ai/chapter_convolutional-modern/vgg.html).
 *
 * Key idea: build the network from repeated blocks (d2l 8.2 "networks using blocks"): a VGG block is
 * n 3x3 convolutions (padding 1, ReLU) and a 2x2 max pool. Two stacked 3x3 convs see 5x5 with fewer
 * parameters; deep-and-narrow beat shallow-and-wide (d2l.ai 8.2). Each block halves height and width
 * and (up to 512) doubles the channels, a regular pattern (VGG-16: 64, 128, 256, 512, 512).
 *
 * Names follow torchvision: features.N (convs, [batch norms], ReLUs and pools flattened in order),
 * avgpool AdaptiveAvgPool2d(7, 7), classifier.0/.3/.6. Batch-norm variants insert a BatchNorm2d after
 * each conv (vgg11Bn ... vgg19Bn, torchvision's vgg11_bn ...).
 */
import { Module, type Tensor, flatten, nn } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { BatchNorm2d } from '../layers/norm.js'
import { AdaptiveAvgPool2d, MaxPool2d } from '../layers/pool.js'

/** d2l's conv_arch: (number of convs, output channels) per block. */
export type VggArch = readonly (readonly [numConvs: number, outChannels: number])[]

/** The configurations of the paper's Table 1 (A, B, D, E). */
export const VGG_ARCHS = {
  vgg11: [
    [1, 64],
    [1, 128],
    [2, 256],
    [2, 512],
    [2, 512],
  ],
  vgg13: [
    [2, 64],
    [2, 128],
    [2, 256],
    [2, 512],
    [2, 512],
  ],
  vgg16: [
    [2, 64],
    [2, 128],
    [3, 256],
    [3, 512],
    [3, 512],
  ],
  vgg19: [
    [2, 64],
    [2, 128],
    [4, 256],
    [4, 512],
    [4, 512],
  ],
} as const satisfies Record<string, VggArch>

/** A VGG block's layers: numConvs x (conv 3x3 pad 1, [batch norm], ReLU), then max pool 2x2. */
export function vggBlock(numConvs: number, inChannels: number, outChannels: number, batchNorm = false): Module[] {
  const layers: Module[] = []
  for (let i = 0; i < numConvs; i++) {
    layers.push(new Conv2d(i === 0 ? inChannels : outChannels, outChannels, 3, { padding: 1 }))
    if (batchNorm) layers.push(new BatchNorm2d(outChannels))
    layers.push(new nn.ReLU())
  }
  layers.push(new MaxPool2d(2, { stride: 2 }))
  return layers
}

export interface VGGOptions {
  numClasses?: number
  inChannels?: number
  batchNorm?: boolean
  dropout?: number
  /**
   * Apply torchvision's init (default true, torchvision's `init_weights`). Pass false when a state
   * dict is loaded next: the layers keep their default init, and building VGG-16 takes ~3 s instead
   * of ~14 s (most of it drawing 120M normal samples for the classifier).
   */
  initWeights?: boolean
}

export class VGG extends Module {
  features: nn.Sequential
  avgpool: AdaptiveAvgPool2d
  classifier: nn.Sequential

  constructor(
    readonly arch: VggArch,
    { numClasses = 1000, inChannels = 3, batchNorm = false, dropout = 0.5, initWeights = true }: VGGOptions = {},
  ) {
    super()
    const layers: Module[] = []
    let c = inChannels
    for (const [numConvs, outChannels] of arch) {
      layers.push(...vggBlock(numConvs, c, outChannels, batchNorm))
      c = outChannels
    }
    this.features = new nn.Sequential(...layers)
    this.avgpool = new AdaptiveAvgPool2d([7, 7])
    this.classifier = new nn.Sequential(
      new nn.Linear(c * 7 * 7, 4096),
      new nn.ReLU(),
      new nn.Dropout(dropout),
      new nn.Linear(4096, 4096),
      new nn.ReLU(),
      new nn.Dropout(dropout),
      new nn.Linear(4096, numClasses),
    )
    if (initWeights) this.torchvisionInit()
  }

  /** torchvision's init: Kaiming normal (fan_out, ReLU) convs, zero biases; N(0, 0.01) linears. */
  private torchvisionInit(): void {
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        nn.kaimingNormal_(m.weight, 0, 'fan_out')
        if (m.bias) nn.zeros_(m.bias)
      } else if (m instanceof nn.Linear) {
        nn.normal_(m.weight, 0, 0.01)
        if (m.bias) nn.zeros_(m.bias)
      }
    }
  }

  forward(x: Tensor): Tensor {
    // (B, 3, 224, 224) -> 5 blocks, each halving H and W: 64 @ 112, 128 @ 56, 256 @ 28, 512 @ 14, 512 @ 7
    x = this.features.call(x) // (B, 512, H/32, W/32)
    x = this.avgpool.call(x) // (B, 512, 7, 7)
    x = flatten(x, 1) // (B, 25088)
    return this.classifier.call(x) // (B, numClasses)
  }
}

type VggOpts = Omit<VGGOptions, 'batchNorm'>
export const vgg11 = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg11, o)
export const vgg13 = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg13, o)
export const vgg16 = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg16, o)
export const vgg19 = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg19, o)
export const vgg11Bn = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg11, { ...o, batchNorm: true })
export const vgg13Bn = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg13, { ...o, batchNorm: true })
export const vgg16Bn = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg16, { ...o, batchNorm: true })
export const vgg19Bn = (o: VggOpts = {}) => new VGG(VGG_ARCHS.vgg19, { ...o, batchNorm: true })

/**
 * Pooling layers (d2l.ai, "Pooling", 汇聚层 in its Chinese edition,
 * https://d2l.ai/chapter_convolutional-neural-networks/pooling.html): a window slides over each channel separately
 * and takes the max or the mean. Pooling has no parameters and never mixes channels; it buys some tolerance to
 * small shifts of the input. Output size floor((n + 2p - f) / s) + 1, or the ceiling in ceil mode.
 */
import {
  Module,
  type Tensor,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  globalAvgPool2d,
  globalMaxPool2d,
  maxPool2d,
} from '@refnets/core'
import type { Pair } from './conv.js'

export interface MaxPool2dOptions {
  /** Default: the kernel size (non-overlapping windows). */
  stride?: Pair
  padding?: Pair
  dilation?: Pair
  /** Round the output size up: a last partial window is kept (PyTorch's rule). */
  ceilMode?: boolean
}

/** Max pooling, torch.nn.MaxPool2d: (B, C, H, W) -> (B, C, H_out, W_out). */
export class MaxPool2d extends Module {
  readonly stride: Pair
  readonly padding: Pair
  readonly dilation: Pair
  readonly ceilMode: boolean

  constructor(
    readonly kernelSize: Pair,
    { stride, padding = 0, dilation = 1, ceilMode = false }: MaxPool2dOptions = {},
  ) {
    super()
    this.stride = stride ?? kernelSize
    this.padding = padding
    this.dilation = dilation
    this.ceilMode = ceilMode
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      ceilMode: this.ceilMode,
    })
  }
}

export interface AvgPool2dOptions {
  stride?: Pair
  padding?: Pair
  ceilMode?: boolean
  /** Count the zero padding in each window's divisor (PyTorch default true). */
  countIncludePad?: boolean
}

/** Average pooling, torch.nn.AvgPool2d: (B, C, H, W) -> (B, C, H_out, W_out). */
export class AvgPool2d extends Module {
  readonly stride: Pair
  readonly padding: Pair
  readonly ceilMode: boolean
  readonly countIncludePad: boolean

  constructor(
    readonly kernelSize: Pair,
    { stride, padding = 0, ceilMode = false, countIncludePad = true }: AvgPool2dOptions = {},
  ) {
    super()
    this.stride = stride ?? kernelSize
    this.padding = padding
    this.ceilMode = ceilMode
    this.countIncludePad = countIncludePad
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
    })
  }
}

/**
 * Average pooling to a fixed output size whatever the input size (PyTorch's adaptive windows
 * [floor(i n / o), ceil((i + 1) n / o))): (B, C, H, W) -> (B, C, oh, ow). AlexNet and VGG use it so
 * the classifier sees 6x6 / 7x7 features at any input size.
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super()
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize)
  }
}

/** Max pooling to a fixed output size: (B, C, H, W) -> (B, C, oh, ow). */
export class AdaptiveMaxPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super()
  }
  forward(x: Tensor): Tensor {
    return adaptiveMaxPool2d(x, this.outputSize)
  }
}

/**
 * Global average pooling (NiN, GoogLeNet, ResNet): the mean of each channel, (B, C, H, W) ->
 * (B, C, 1, 1). Replacing fully connected layers with it removes most of the parameters
 * (Lin, Chen & Yan 2013, NiN, https://arxiv.org/abs/1312.4400).
 */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x)
  }
}

/** Global max pooling: (B, C, H, W) -> (B, C, 1, 1). */
export class GlobalMaxPool2d extends Module {
  forward(x: Tensor): Tensor {
    return globalMaxPool2d(x)
  }
}

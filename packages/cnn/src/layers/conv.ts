/**
 * Conv2d and ConvTranspose2d: thin modules over the functional `conv2d` / `convTranspose2d` of
 * @refnets/core, with PyTorch's parameter names, layouts and default initialisation, so a
 * torchvision state dict loads directly.
 *
 * A convolution (https://d2l.ai/chapter_convolutional-neural-networks/conv-layer.html) slides a
 * shared kernel over the image (parameter sharing and sparse connections); the output size is
 * floor((n + 2p - f) / s) + 1 (https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html), 'same'
 * padding gives ceil(n / s) (ONNX Conv's auto_pad, https://onnx.ai/onnx/operators/onnx__Conv.html), and a layer
 * has k*k*c_in*c_out + c_out parameters (c_in / groups with groups).
 */
import {
  ArgumentError,
  type Conv2dPadding,
  type DType,
  Module,
  Parameter,
  type Tensor,
  conv2d,
  convTranspose2d,
  nn,
  zeros,
} from '@refnets/core'

export type Pair = number | readonly [number, number]

/** `n` or `[h, w]` as a pair. */
export const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]])

export interface Conv2dOptions {
  stride?: Pair
  /** p (every side), [ph, pw], [top, left, bottom, right], 'valid' (none) or 'same' (output ceil(n / stride)). */
  padding?: Conv2dPadding
  dilation?: Pair
  /** Split channels into independent groups; groups = inChannels is a depthwise convolution. */
  groups?: number
  bias?: boolean
  dtype?: DType
}

/**
 * PyTorch's default init for conv weights: Kaiming uniform with a = sqrt(5), which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound. fan_in is dim 1 of the weight
 * times the kernel area (for a transposed conv, PyTorch's fan_in is out/groups * kh * kw).
 */
/** Channels and groups must be positive integers with both channel counts divisible by groups. */
function checkChannels(
  layer: string,
  inChannels: number,
  outChannels: number,
  kernelSize: [number, number],
  groups: number,
): void {
  const positive = (v: number) => Number.isInteger(v) && v > 0
  if (!positive(inChannels) || !positive(outChannels) || !positive(groups))
    throw new ArgumentError(
      `${layer}: channels and groups must be positive integers, got inChannels ${inChannels}, outChannels ${outChannels}, groups ${groups}`,
    )
  if (inChannels % groups !== 0 || outChannels % groups !== 0)
    throw new ArgumentError(
      `${layer}: inChannels (${inChannels}) and outChannels (${outChannels}) must both be divisible by groups (${groups})`,
    )
  if (!kernelSize.every(positive))
    throw new ArgumentError(`${layer}: kernel size must be positive integers, got [${kernelSize.join(', ')}]`)
}

function defaultInit(weight: Tensor, bias: Tensor | null): void {
  const [fanIn] = nn.fans(weight.shape)
  nn.kaimingUniform_(weight, Math.sqrt(5))
  if (bias) nn.uniform_(bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn))
}

/**
 * 2-D convolution layer: x (B, C_in, H, W) -> (B, C_out, H_out, W_out).
 * weight (C_out, C_in / groups, kH, kW), bias (C_out), as in torch.nn.Conv2d.
 */
export class Conv2d extends Module {
  weight: Parameter
  bias: Parameter | null
  readonly kernelSize: [number, number]
  readonly stride: Pair
  readonly padding: Conv2dPadding
  readonly dilation: Pair
  readonly groups: number

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, dtype = 'float32' }: Conv2dOptions = {},
  ) {
    super()
    this.kernelSize = pair(kernelSize)
    checkChannels('Conv2d', inChannels, outChannels, this.kernelSize, groups)
    this.stride = stride
    this.padding = padding
    this.dilation = dilation
    this.groups = groups
    const [kh, kw] = this.kernelSize
    this.weight = new Parameter(zeros([outChannels, inChannels / groups, kh, kw], { dtype }))
    this.bias = bias ? new Parameter(zeros([outChannels], { dtype })) : null
    defaultInit(this.weight, this.bias)
  }

  forward(x: Tensor): Tensor {
    // (B, C_in, H, W) -> (B, C_out, floor((H + 2p - d(k-1) - 1) / s) + 1, ...)
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    })
  }
}

export interface ConvTranspose2dOptions {
  stride?: Pair
  /** Rows/columns removed from each side of the output. */
  padding?: Pair
  /** Extra rows/columns at the bottom/right of the output (smaller than the stride). */
  outputPadding?: Pair
  groups?: number
  dilation?: Pair
  bias?: boolean
  dtype?: DType
}

/**
 * Transposed convolution (https://d2l.ai/chapter_computer-vision/transposed-conv.html, FCN upsampling): x (B, C_in,
 * H, W) -> (B, C_out, (H - 1)s - 2p + d(k - 1) + outputPadding + 1, ...). weight (C_in, C_out / groups, kH, kW)
 * as in torch.nn.ConvTranspose2d. It is the gradient of a Conv2d with respect to its input.
 */
export class ConvTranspose2d extends Module {
  weight: Parameter
  bias: Parameter | null
  readonly kernelSize: [number, number]
  readonly stride: Pair
  readonly padding: Pair
  readonly outputPadding: Pair
  readonly groups: number
  readonly dilation: Pair

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    {
      stride = 1,
      padding = 0,
      outputPadding = 0,
      groups = 1,
      dilation = 1,
      bias = true,
      dtype = 'float32',
    }: ConvTranspose2dOptions = {},
  ) {
    super()
    this.kernelSize = pair(kernelSize)
    checkChannels('ConvTranspose2d', inChannels, outChannels, this.kernelSize, groups)
    this.stride = stride
    this.padding = padding
    this.outputPadding = outputPadding
    this.groups = groups
    this.dilation = dilation
    const [kh, kw] = this.kernelSize
    this.weight = new Parameter(zeros([inChannels, outChannels / groups, kh, kw], { dtype }))
    this.bias = bias ? new Parameter(zeros([outChannels], { dtype })) : null
    defaultInit(this.weight, this.bias)
  }

  forward(x: Tensor): Tensor {
    // (B, C_in, H, W) -> (B, C_out, (H - 1)s - 2p + d(k - 1) + outputPadding + 1, ...)
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      groups: this.groups,
      dilation: this.dilation,
    })
  }
}

/**
 * The bilinear upsampling kernel (FCN, d2l 13.11 `bilinear_kernel`): a (C_in, C_out, k, k) weight
 * with the separable tent filter (1 - |i - center| / factor)(1 - |j - center| / factor) on channel
 * pairs c -> c and zeros elsewhere, so a ConvTranspose2d(stride = factor) initialised with it
 * starts as bilinear interpolation.
 */
export function bilinearKernel(
  inChannels: number,
  outChannels: number,
  kernelSize: number,
  dtype: DType = 'float32',
): Tensor {
  const factor = Math.floor((kernelSize + 1) / 2)
  const center = kernelSize % 2 === 1 ? factor - 1 : factor - 0.5
  const w = zeros([inChannels, outChannels, kernelSize, kernelSize], { dtype })
  const d = w.storage
  const k2 = kernelSize * kernelSize
  for (let c = 0; c < Math.min(inChannels, outChannels); c++)
    for (let i = 0; i < kernelSize; i++)
      for (let j = 0; j < kernelSize; j++)
        d[(c * outChannels + c) * k2 + i * kernelSize + j] =
          (1 - Math.abs(i - center) / factor) * (1 - Math.abs(j - center) / factor)
  return w
}

/**
 * Shape, parameter and FLOP arithmetic for convolutional networks.
 *
 * Output sizes (https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html;
 * 'same'/'valid' as ONNX Conv's auto_pad, https://onnx.ai/onnx/operators/onnx__Conv.html):
 *   conv / pool:   floor((n + 2p - f) / s) + 1, with a dilated kernel spanning d(f - 1) + 1 inputs
 *   'valid':       floor((n - f) / s) + 1        'same': ceil(n / s)
 *   pool ceilMode: the ceiling instead of the floor (a last window starting in the padding is dropped)
 *   transposed:    (n - 1)s - 2p + d(f - 1) + outputPadding + 1
 * The per-axis helpers live in @refnets/core next to the ops and are re-exported here.
 *
 * Parameters (https://d2l.ai/chapter_convolutional-neural-networks/channels.html): a conv layer has k*k*c_in*c_out +
 * c_out (c_in / groups with groups); a fully connected layer in*out + out.
 *
 * FLOPs: we count multiply-accumulates (MACs): a convolution costs output size x kernel size x input
 * channels (卷积计算量 = 输出数据大小 x 卷积核的尺度 x 输入通道数), e.g. 224x224x64x3x3x3, the convention of
 * torchvision's model tables (https://pytorch.org/vision/stable/models.html, ResNet-50 "4.09 GFLOPS"):
 *   Conv2d:          kH * kW * (c_in / groups) * c_out * H_out * W_out   per sample (bias not counted)
 *   ConvTranspose2d: kH * kW * c_in * (c_out / groups) * H_in * W_in     per sample (each input scatters a kernel)
 *   Linear:          in * out (+ out with a bias: 5 -> 10 is 5x10+10 = 60)  per row
 * Other layers (activations, pooling, batch norm, additions) are not counted: they are a small
 * fraction and conventions for them differ. Multiply by 2 for floating-point operations.
 */
import {
  type Module,
  ShapeError,
  type Tensor,
  conv2dOutputSize,
  convTranspose2dOutputSize,
  nn,
  noGrad,
  pool2dOutputSize,
  zeros,
} from '@refnets/core'
import { Conv2d, ConvTranspose2d, pair } from './layers/conv.js'

export { conv2dOutputSize, convTranspose2dOutputSize, pool2dOutputSize }

export interface Conv2dShapeOptions {
  stride?: number | readonly [number, number]
  /** p, [ph, pw], [top, left, bottom, right], 'valid' or 'same'. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number] | 'valid' | 'same'
  dilation?: number | readonly [number, number]
}

/** Output shape of a convolution: (B, C_in, H, W) -> (B, outChannels, H_out, W_out). */
export function conv2dOutputShape(
  inputShape: readonly number[],
  outChannels: number,
  kernelSize: number | readonly [number, number],
  { stride = 1, padding = 0, dilation = 1 }: Conv2dShapeOptions = {},
): [number, number, number, number] {
  if (inputShape.length !== 4)
    throw new ShapeError(`conv2dOutputShape: expected an input shape (B, C, H, W), got [${inputShape.join(', ')}]`)
  const [b, , h, w] = inputShape
  const [kh, kw] = pair(kernelSize)
  const [sh, sw] = pair(stride)
  const [dh, dw] = pair(dilation)
  // Per axis: 'valid' / 'same', p (both sides) or [before, after].
  type AxisPad = number | readonly [number, number] | 'valid' | 'same'
  const [ph, pw]: [AxisPad, AxisPad] =
    typeof padding === 'string'
      ? [padding, padding]
      : typeof padding === 'number'
        ? [padding, padding]
        : padding.length === 4
          ? [
              [padding[0], padding[2]],
              [padding[1], padding[3]],
            ]
          : [padding[0], padding[1]]
  return [b!, outChannels, conv2dOutputSize(h!, kh, sh, ph, dh), conv2dOutputSize(w!, kw, sw, pw, dw)]
}

/** Parameters of a conv layer (torch.nn.Conv2d's weight and bias): k*k*(c_in/groups)*c_out + c_out. */
export function conv2dParameterCount(
  inChannels: number,
  outChannels: number,
  kernelSize: number | readonly [number, number],
  { groups = 1, bias = true } = {},
): number {
  const [kh, kw] = pair(kernelSize)
  return kh * kw * (inChannels / groups) * outChannels + (bias ? outChannels : 0)
}

/** The number of parameter values of a module (all, or only those that require a gradient). */
export function countParameters(module: Module<any, any>, { trainableOnly = false } = {}): number {
  let n = 0
  for (const p of module.parameters()) if (!trainableOnly || p.requiresGrad) n += p.size
  return n
}

/** One leaf-module call recorded by `profile`. */
export interface LayerProfile {
  /** Module path (`layer1.0.conv1`). */
  name: string
  /** Class name (`Conv2d`). */
  type: string
  inputShape: number[]
  outputShape: number[]
  /** Parameter values owned by this module. */
  params: number
  /** Multiply-accumulates of this call (see the file header for the convention). */
  flops: number
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

function layerFlops(m: Module<any, any>, x: Tensor, y: Tensor): number {
  if (m instanceof Conv2d) {
    const [kh, kw] = m.kernelSize
    return kh * kw * (m.inChannels / m.groups) * m.outChannels * prod(y.shape.slice(2)) * y.shape[0]!
  }
  if (m instanceof ConvTranspose2d) {
    const [kh, kw] = m.kernelSize
    return kh * kw * m.inChannels * (m.outChannels / m.groups) * prod(x.shape.slice(2)) * x.shape[0]!
  }
  if (m instanceof nn.Linear) {
    const rows = prod(x.shape.slice(0, -1))
    return rows * (m.inFeatures * m.outFeatures + (m.bias ? m.outFeatures : 0))
  }
  return 0
}

/**
 * Run one forward pass on zeros of `inputShape` (evaluation mode, no gradient; the module's mode is
 * restored) and record every leaf-module call in order: its output shape, parameters and FLOPs.
 * The d2l habit of printing each layer's output shape, for any module.
 */
export function profile(module: Module<[Tensor], unknown>, inputShape: readonly number[]): LayerProfile[] {
  const rows: LayerProfile[] = []
  const modes = [...module.namedModules()].map(([, m]) => [m, m.training] as const)
  const leaves = [...module.namedModules()].filter(([, m]) => [...m.namedChildren()].length === 0)
  for (const [name, m] of leaves) {
    const original = m.forward
    const params = [...m.namedParameters()].reduce((n, [, p]) => n + p.size, 0)
    ;(m as { forward: unknown }).forward = (x: Tensor, ...rest: unknown[]) => {
      const y = original.call(m, x, ...rest) as Tensor
      rows.push({
        name,
        type: m.constructor.name,
        inputShape: [...x.shape],
        outputShape: [...y.shape],
        params,
        flops: layerFlops(m, x, y),
      })
      return y
    }
  }
  try {
    module.eval()
    noGrad(() => module.call(zeros([...inputShape])))
  } finally {
    for (const [, m] of leaves) delete (m as { forward?: unknown }).forward
    for (const [m, training] of modes) m.training = training
  }
  return rows
}

/** Multiply-accumulates of one forward pass on an input of `inputShape` (batch included). */
export function countFlops(module: Module<[Tensor], unknown>, inputShape: readonly number[]): number {
  return profile(module, inputShape).reduce((n, r) => n + r.flops, 0)
}

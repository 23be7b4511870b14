/**
 * Convolution (NCHW, PyTorch semantics and weight layouts): conv2d, convTranspose2d, conv1d and
 * the output-size helpers.
 *
 * Three primitive ops (2-D; named by their keys, see docs/architecture.md), each one's backward
 * written with the others, so every gradient is itself differentiable:
 * - `Conv`:           y  = conv(x, w) + b
 * - `ConvTranspose`:  y  = conv^T(x, w) + b   (the data gradient of Conv)
 * - `ConvWeightGrad`: dw = the weight gradient of Conv, bilinear in (x, dy)
 * Conv's dx is a ConvTranspose of dy; ConvTranspose's dx is a Conv of dy; and the weight gradient
 * of either is a ConvWeightGrad. Export: Conv and ConvTranspose. conv1d is a composite over the
 * 2-D Conv (a height-1 image) under the same key, exported as a 1-D Conv.
 */
import { kernel } from '../backend.js'
import { ArgumentError, DTypeError, ShapeError } from '../errors.js'
import type { Conv2dGeometry } from '../kernel-table.js'
import { type OpDef, apply, defineOp } from '../op.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { squeeze, unsqueeze } from './shape.js'
import { empty, fa, pair, requireFloat } from './util.js'

/** Padding per side in ONNX order for 2-D: [top, left, bottom, right]. */
type Pads2d = [number, number, number, number]
export type Conv2dPadding =
  | number
  | readonly [number, number]
  | readonly [number, number, number, number]
  | 'valid'
  | 'same'

export interface Conv2dOptions {
  stride?: number | readonly [number, number]
  /** Per side: p, [ph, pw], [top, left, bottom, right], 'valid' (none) or 'same' (output ceil(n / stride)). */
  padding?: Conv2dPadding
  dilation?: number | readonly [number, number]
  groups?: number
}

export interface ConvTranspose2dOptions {
  stride?: number | readonly [number, number]
  /** Removed from each side of the output: p, [ph, pw] or [top, left, bottom, right]. */
  padding?: number | readonly [number, number] | readonly [number, number, number, number]
  /** Extra rows/columns added at the bottom/right of the output (must be < stride or < dilation). */
  outputPadding?: number | readonly [number, number]
  groups?: number
  dilation?: number | readonly [number, number]
}

/** The attributes the conv ops record (all resolved: pads per side, pairs for H and W). */
export interface Conv2dAttrs {
  strides: [number, number]
  /** [top, left, bottom, right] */
  pads: [number, number, number, number]
  dilations: [number, number]
  groups: number
}
export type ConvTranspose2dAttrs = Conv2dAttrs & { outputPadding: [number, number] }
export type Conv2dWeightGradAttrs = Conv2dAttrs & { kernel: [number, number] }

// ---- output sizes -----------------------------------------------------------------------------

/**
 * Output length of a convolution along one axis: floor((n + 2p - f) / s) + 1 (d2l.ai,
 * https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html), where a
 * dilated kernel spans d(f - 1) + 1 inputs, so floor((n + 2p - d(f - 1) - 1) / s) + 1. `p` is the
 * padding per side, [before, after], 'valid' (none: floor((n - f) / s) + 1) or 'same'
 * (ceil(n / s), ONNX Conv's auto_pad, https://onnx.ai/onnx/operators/onnx__Conv.html).
 */
export function conv2dOutputSize(
  n: number,
  k: number,
  s = 1,
  p: number | readonly [number, number] | 'valid' | 'same' = 0,
  d = 1,
): number {
  if (p === 'same') return Math.ceil(n / s)
  const [a, b] = p === 'valid' ? [0, 0] : typeof p === 'number' ? [p, p] : p
  return Math.floor((n + a + b - d * (k - 1) - 1) / s) + 1
}

/** Output length of a transposed convolution: (n - 1)s - 2p + d(f - 1) + outputPadding + 1 (PyTorch, ONNX). */
export function convTranspose2dOutputSize(
  n: number,
  k: number,
  s = 1,
  p: number | readonly [number, number] = 0,
  d = 1,
  outputPadding = 0,
): number {
  const [a, b] = typeof p === 'number' ? [p, p] : p
  return (n - 1) * s - a - b + d * (k - 1) + outputPadding + 1
}

/**
 * 'same' padding along one axis for any stride: the output is ceil(n / s) (ONNX Conv, auto_pad), and the
 * total padding is split with the extra one at the end, like ONNX SAME_UPPER.
 * NOTE: PyTorch allows 'same' only with stride 1 (where this is its split too); TensorFlow's
 * padding='same' allows any stride with this split.
 */
export function samePadding(n: number, k: number, s = 1, d = 1): [number, number] {
  const total = Math.max(0, (Math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n)
  const before = Math.floor(total / 2)
  return [before, total - before]
}

const outLen = (n: number, k: number, s: number, before: number, after: number, d: number) =>
  Math.floor((n + before + after - d * (k - 1) - 1) / s) + 1

// ---- geometry ---------------------------------------------------------------------------------

/** The geometry of conv(x, w) for an input of shape x and weight of shape w. */
function convGeometry(x: readonly number[], w: readonly number[], a: Conv2dAttrs): Conv2dGeometry {
  const [batch, inC, inH, inW] = x as [number, number, number, number]
  const [outC, , kH, kW] = w as [number, number, number, number]
  return {
    batch,
    inC,
    inH,
    inW,
    outC,
    kH,
    kW,
    outH: outLen(inH, kH, a.strides[0], a.pads[0], a.pads[2], a.dilations[0]),
    outW: outLen(inW, kW, a.strides[1], a.pads[1], a.pads[3], a.dilations[1]),
    strideH: a.strides[0],
    strideW: a.strides[1],
    padTop: a.pads[0],
    padLeft: a.pads[1],
    dilationH: a.dilations[0],
    dilationW: a.dilations[1],
    groups: a.groups,
  }
}

/** The geometry of the convolution whose transpose maps x (N, Cin, H, W) with w (Cin, Cout/g, kH, kW). */
function convTGeometry(x: readonly number[], w: readonly number[], a: ConvTranspose2dAttrs): Conv2dGeometry {
  const [batch, cin, h, wd] = x as [number, number, number, number]
  const [, coutG, kH, kW] = w as [number, number, number, number]
  const [sh, sw] = a.strides
  const [dh, dw] = a.dilations
  return {
    batch,
    inC: coutG * a.groups,
    outC: cin,
    outH: h,
    outW: wd,
    kH,
    kW,
    inH: (h - 1) * sh - a.pads[0] - a.pads[2] + dh * (kH - 1) + 1 + a.outputPadding[0],
    inW: (wd - 1) * sw - a.pads[1] - a.pads[3] + dw * (kW - 1) + 1 + a.outputPadding[1],
    strideH: sh,
    strideW: sw,
    padTop: a.pads[0],
    padLeft: a.pads[1],
    dilationH: dh,
    dilationW: dw,
    groups: a.groups,
  }
}

const convOnly = (a: Conv2dAttrs): Conv2dAttrs => ({
  strides: a.strides,
  pads: a.pads,
  dilations: a.dilations,
  groups: a.groups,
})

// ---- primitive ops ----------------------------------------------------------------------------

/** dL/dx of conv(x, w) for an input of shape xShape: the transposed convolution of dy. */
function convInputGrad(dy: Tensor, w: Tensor, xShape: readonly number[], a: Conv2dAttrs): Tensor {
  // The transposed conv's output size without output padding falls short of the input by the
  // rows (columns) the forward stride skipped at the end; output padding adds them back.
  const full = (i: 0 | 1) =>
    (dy.shape[2 + i]! - 1) * a.strides[i] - a.pads[i] - a.pads[i + 2]! + a.dilations[i] * (w.shape[2 + i]! - 1) + 1
  return apply(ConvTranspose2d, [dy, w], {
    ...convOnly(a),
    outputPadding: [xShape[2]! - full(0), xShape[3]! - full(1)],
  })
}

const biasGrad = (dy: Tensor) => dy.sum([0, 2, 3])

export const Conv2d: OpDef<Conv2dAttrs> = defineOp<Conv2dAttrs>({
  name: 'Conv',
  forward: ([x, w, b], a) => {
    const g = convGeometry(x!.shape, w!.shape, a)
    const y = empty(x!.dtype, [g.batch, g.outC, g.outH, g.outW])
    kernel('Conv')(fa(x!), fa(w!), b ? fa(b) : null, fa(y), g)
    return y
  },
  backward: (dy, { inputs: [x, w, b], attrs }) => {
    const grads = [
      x!.requiresGrad ? convInputGrad(dy, w!, x!.shape, attrs) : null,
      w!.requiresGrad
        ? apply(Conv2dBackwardWeight, [x!, dy], { ...convOnly(attrs), kernel: [w!.shape[2]!, w!.shape[3]!] })
        : null,
    ]
    return b ? [...grads, b.requiresGrad ? biasGrad(dy) : null] : grads
  },
  onnx: (ctx, inputs, { inputs: [, w], attrs }) =>
    ctx.node('Conv', inputs, {
      kernel_shape: [w!.shape[2]!, w!.shape[3]!],
      strides: attrs.strides,
      pads: attrs.pads,
      dilations: attrs.dilations,
      group: attrs.groups,
    }),
})

export const ConvTranspose2d: OpDef<ConvTranspose2dAttrs> = defineOp<ConvTranspose2dAttrs>({
  name: 'ConvTranspose',
  forward: ([x, w, b], a) => {
    const g = convTGeometry(x!.shape, w!.shape, a)
    const y = empty(x!.dtype, [g.batch, g.inC, g.inH, g.inW])
    kernel('ConvTranspose')(fa(x!), fa(w!), b ? fa(b) : null, fa(y), g)
    return y
  },
  backward: (dy, { inputs: [x, w, b], attrs }) => {
    // The adjoint is the convolution of dy; output padding rows are never read, so it is the
    // conv with that much less padding at the end (which gives exactly x's size).
    const conv: Conv2dAttrs = {
      ...convOnly(attrs),
      pads: [
        attrs.pads[0],
        attrs.pads[1],
        attrs.pads[2] - attrs.outputPadding[0],
        attrs.pads[3] - attrs.outputPadding[1],
      ],
    }
    const grads = [
      x!.requiresGrad ? apply(Conv2d, [dy, w!], conv) : null,
      w!.requiresGrad ? apply(Conv2dBackwardWeight, [dy, x!], { ...conv, kernel: [w!.shape[2]!, w!.shape[3]!] }) : null,
    ]
    return b ? [...grads, b.requiresGrad ? biasGrad(dy) : null] : grads
  },
  onnx: (ctx, inputs, { inputs: [, w], attrs }) =>
    ctx.node('ConvTranspose', inputs, {
      kernel_shape: [w!.shape[2]!, w!.shape[3]!],
      strides: attrs.strides,
      pads: attrs.pads,
      dilations: attrs.dilations,
      group: attrs.groups,
      output_padding: attrs.outputPadding,
    }),
})

/** dL/dw of conv(x, w) given dy; inputs [x, dy]. Training only (no ONNX lowering). */
export const Conv2dBackwardWeight: OpDef<Conv2dWeightGradAttrs> = defineOp<Conv2dWeightGradAttrs>({
  name: 'ConvWeightGrad',
  forward: ([x, dy], a) => {
    const [n, inC, inH, inW] = x!.shape as [number, number, number, number]
    const [, outC, outH, outW] = dy!.shape as [number, number, number, number]
    const [kH, kW] = a.kernel
    const dw = empty(x!.dtype, [outC, inC / a.groups, kH, kW])
    kernel('ConvWeightGrad')(fa(x!), fa(dy!), fa(dw), {
      batch: n,
      inC,
      inH,
      inW,
      outC,
      outH,
      outW,
      kH,
      kW,
      strideH: a.strides[0],
      strideW: a.strides[1],
      padTop: a.pads[0],
      padLeft: a.pads[1],
      dilationH: a.dilations[0],
      dilationW: a.dilations[1],
      groups: a.groups,
    })
    return dw
  },
  // dw is bilinear in (x, dy): with upstream G (shaped like w), dL/dx = conv^T(dy, G), dL/ddy = conv(x, G).
  backward: (G, { inputs: [x, dy], attrs }) => [
    x!.requiresGrad ? convInputGrad(dy!, G, x!.shape, attrs) : null,
    dy!.requiresGrad ? apply(Conv2d, [x!, G], convOnly(attrs)) : null,
  ],
})

// ---- argument checks --------------------------------------------------------------------------

function explicitPads(op: string, p: number | readonly number[]): Pads2d {
  const pads = typeof p === 'number' ? [p, p, p, p] : p.length === 2 ? [p[0]!, p[1]!, p[0]!, p[1]!] : [...p]
  if (pads.length !== 4 || pads.some((e) => !Number.isInteger(e) || e < 0))
    throw new ArgumentError(
      `${op}: padding must be a non-negative integer, [ph, pw], [top, left, bottom, right], 'valid' or 'same', got ${JSON.stringify(p)}`,
    )
  return pads as Pads2d
}

function checkGroups(op: string, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1)
    throw new ArgumentError(`${op}: groups must be a positive integer, got ${groups}`)
}

function checkOperands(
  op: string,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  weightLayout: string,
): void {
  requireFloat(op, x, weight)
  if (weight.rank !== 4) throw new ShapeError(`${op}: weight must be 4-D ${weightLayout}, got ${fmt(weight.shape)}`)
  if (weight.dtype !== x.dtype) throw new DTypeError(`${op}: weight is ${weight.dtype} but the input is ${x.dtype}`)
  if (bias && bias.dtype !== x.dtype) throw new DTypeError(`${op}: bias is ${bias.dtype} but the input is ${x.dtype}`)
}

function checkBias(op: string, bias: Tensor | null | undefined, channels: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels))
    throw new ShapeError(`${op}: bias must have shape [${channels}] (one per output channel), got ${fmt(bias.shape)}`)
}

// ---- public functions -------------------------------------------------------------------------

/**
 * Check conv2d operands of shapes x (N, C, H, W) and w (outC, C / groups, kH, kW) and resolve the
 * options into the recorded attributes.
 */
function resolveConv2d(
  op: string,
  x: readonly number[],
  wt: readonly number[],
  bias: Tensor | null | undefined,
  opts: Conv2dOptions,
): Conv2dAttrs {
  const groups = opts.groups ?? 1
  checkGroups(op, groups)
  const [, c, h, w] = x as [number, number, number, number]
  const [outC, cg, kH, kW] = wt as [number, number, number, number]
  if (c % groups !== 0)
    throw new ShapeError(`${op}: input channels ${c} (input ${fmt(x)}) are not divisible by groups=${groups}`)
  if (outC % groups !== 0)
    throw new ShapeError(`${op}: output channels ${outC} (weight ${fmt(wt)}) are not divisible by groups=${groups}`)
  if (cg * groups !== c)
    throw new ShapeError(
      `${op}: weight ${fmt(wt)} with groups=${groups} expects ${cg * groups} input channels, got ${c} (input ${fmt(x)})`,
    )
  checkBias(op, bias, outC)
  const strides = pair(op, 'stride', opts.stride ?? 1, 1)
  const dilations = pair(op, 'dilation', opts.dilation ?? 1, 1)
  const p = opts.padding ?? 0
  let pads: Pads2d
  if (p === 'same') {
    const [t, b] = samePadding(h, kH, strides[0], dilations[0])
    const [l, r] = samePadding(w, kW, strides[1], dilations[1])
    pads = [t, l, b, r]
  } else pads = p === 'valid' ? [0, 0, 0, 0] : explicitPads(op, p)
  const [ekH, ekW] = [dilations[0] * (kH - 1) + 1, dilations[1] * (kW - 1) + 1]
  if (h + pads[0] + pads[2] < ekH || w + pads[1] + pads[3] < ekW)
    throw new ShapeError(
      `${op}: padded input ${h + pads[0] + pads[2]} x ${w + pads[1] + pads[3]} (input ${fmt(x)}, padding ${fmt(pads)}) is smaller than the kernel ${ekH} x ${ekW} (${kH} x ${kW}, dilation ${fmt(dilations)})`,
    )
  return { strides, pads, dilations, groups }
}

/**
 * 2-D convolution (cross-correlation, as in every framework): x (N, C, H, W) or unbatched (C, H, W),
 * weight (outC, C / groups, kH, kW), bias (outC). Output (N, outC, oH, oW) with oH from
 * conv2dOutputSize. groups = C gives a depthwise convolution; a 1x1 kernel mixes channels only.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d'
  checkOperands(op, x, weight, bias, '(outC, inC / groups, kH, kW)')
  if (x.rank === 3) return squeeze(conv2d(unsqueeze(x, 0), weight, bias, opts), 0)
  if (x.rank !== 4) throw new ShapeError(`${op}: expected input (N, C, H, W) or (C, H, W), got ${fmt(x.shape)}`)
  const attrs = resolveConv2d(op, x.shape, weight.shape, bias, opts)
  return apply(Conv2d, bias ? [x, weight, bias] : [x, weight], attrs)
}

/**
 * 2-D transposed convolution (the gradient of conv2d with respect to its input; upsamples by the
 * stride; https://d2l.ai/chapter_computer-vision/transposed-conv.html): x (N, Cin, H, W), weight
 * (Cin, Cout / groups, kH, kW) as in PyTorch, bias (Cout). Output size from convTranspose2dOutputSize.
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const op = 'convTranspose2d'
  checkOperands(op, x, weight, bias, '(inC, outC / groups, kH, kW)')
  if (x.rank === 3) return squeeze(convTranspose2d(unsqueeze(x, 0), weight, bias, opts), 0)
  if (x.rank !== 4) throw new ShapeError(`${op}: expected input (N, C, H, W) or (C, H, W), got ${fmt(x.shape)}`)
  const groups = opts.groups ?? 1
  checkGroups(op, groups)
  const c = x.shape[1]!
  const [wc, coutG] = weight.shape as [number, number, number, number]
  if (wc !== c)
    throw new ShapeError(
      `${op}: weight ${fmt(weight.shape)} expects ${wc} input channels, got ${c} (input ${fmt(x.shape)})`,
    )
  if (c % groups !== 0) throw new ShapeError(`${op}: input channels ${c} are not divisible by groups=${groups}`)
  checkBias(op, bias, coutG * groups)
  const strides = pair(op, 'stride', opts.stride ?? 1, 1)
  const dilations = pair(op, 'dilation', opts.dilation ?? 1, 1)
  const pads = explicitPads(op, opts.padding ?? 0)
  const outputPadding = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0)
  for (const i of [0, 1])
    if (outputPadding[i]! >= Math.max(strides[i]!, dilations[i]!))
      throw new ArgumentError(
        `${op}: outputPadding ${fmt(outputPadding)} must be smaller than the stride ${fmt(strides)} or the dilation ${fmt(dilations)}`,
      )
  const attrs: ConvTranspose2dAttrs = { strides, pads, dilations, groups, outputPadding }
  const g = convTGeometry(x.shape, weight.shape, attrs)
  if (g.inH < 1 || g.inW < 1)
    throw new ShapeError(
      `${op}: output size ${g.inH} x ${g.inW} is not positive (input ${fmt(x.shape)}, padding ${fmt(pads)})`,
    )
  return apply(ConvTranspose2d, bias ? [x, weight, bias] : [x, weight], attrs)
}

export interface Conv1dOptions {
  stride?: number
  /** Per side: p, [before, after], 'valid' or 'same'. */
  padding?: number | readonly [number, number] | 'valid' | 'same'
  dilation?: number
  groups?: number
}

/** conv1d as a conv2d over a height-1 image; exports as a 1-D ONNX Conv. */
const Conv1d = defineOp<Conv2dAttrs>({
  name: 'Conv',
  forward: ([x, w, b], a) =>
    squeeze(apply(Conv2d, b ? [unsqueeze(x!, 2), unsqueeze(w!, 2), b] : [unsqueeze(x!, 2), unsqueeze(w!, 2)], a), 2),
  onnx: (ctx, inputs, { inputs: [, w], attrs }) =>
    ctx.node('Conv', inputs, {
      kernel_shape: [w!.shape[2]!],
      strides: [attrs.strides[1]],
      pads: [attrs.pads[1], attrs.pads[3]],
      dilations: [attrs.dilations[1]],
      group: attrs.groups,
    }),
})

/** 1-D convolution: x (N, C, L), weight (outC, C / groups, k), bias (outC). */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions = {}): Tensor {
  const op = 'conv1d'
  requireFloat(op, x, weight)
  if (x.rank !== 3) throw new ShapeError(`${op}: expected input (N, C, L), got ${fmt(x.shape)}`)
  if (weight.rank !== 3)
    throw new ShapeError(`${op}: weight must be 3-D (outC, inC / groups, k), got ${fmt(weight.shape)}`)
  if (weight.dtype !== x.dtype || (bias && bias.dtype !== x.dtype))
    throw new DTypeError(`${op}: input, weight and bias must share one dtype`)
  const p = opts.padding ?? 0
  const padding: Conv2dPadding =
    p === 'same' || p === 'valid' ? p : typeof p === 'number' ? [0, p, 0, p] : [0, p[0], 0, p[1]]
  const [n, c, l] = x.shape as [number, number, number]
  const [o, cg, k] = weight.shape as [number, number, number]
  const attrs = resolveConv2d(op, [n, c, 1, l], [o, cg, 1, k], bias, {
    stride: [1, opts.stride ?? 1],
    dilation: [1, opts.dilation ?? 1],
    groups: opts.groups,
    padding,
  })
  return apply(Conv1d, bias ? [x, weight, bias] : [x, weight], attrs)
}

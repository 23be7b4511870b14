/**
 * Pooling (NCHW, PyTorch semantics; no parameters; https://d2l.ai/chapter_convolutional-neural-networks/pooling.html):
 * max and average pooling with padding, dilation (max) and ceil mode; adaptive and global pooling.
 *
 * MaxPool2d and AvgPool2d are primitive ops whose backward is a dedicated primitive (route the
 * gradient to the argmax; spread it evenly over the window), and each of those backward ops is
 * differentiable again with ops. Adaptive and global pools are composites with a native ONNX
 * lowering.
 */
import { kernel } from '../backend.js'
import { ArgumentError, OnnxExportError, ShapeError } from '../errors.js'
import type { Pool2dGeometry } from '../kernel-table.js'
import { type LoweringContext, type OpDef, apply, applyMulti, defineOp } from '../op.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { gatherElements } from './indexing.js'
import { matmul } from './linalg.js'
import { max, mean } from './reduce.js'
import { concat, fromValues, slice, transpose } from './shape.js'
import { empty, fa, pair, requireFloat } from './util.js'

export interface MaxPool2dOptions {
  kernelSize: number | readonly [number, number]
  /** Default: the kernel size. */
  stride?: number | readonly [number, number]
  /** Implicit -inf padding per side (at most half the kernel). */
  padding?: number | readonly [number, number]
  dilation?: number | readonly [number, number]
  ceilMode?: boolean
}

export interface AvgPool2dOptions {
  kernelSize: number | readonly [number, number]
  stride?: number | readonly [number, number]
  /** Implicit zero padding per side (at most half the kernel). */
  padding?: number | readonly [number, number]
  ceilMode?: boolean
  /** Count the zero padding in the divisor (default true, as in PyTorch). */
  countIncludePad?: boolean
}

/** The attributes the pool ops record. */
export interface Pool2dAttrs {
  kernel: [number, number]
  strides: [number, number]
  /** [top, left, bottom, right] (symmetric from the public functions). */
  pads: [number, number, number, number]
  dilations: [number, number]
  ceilMode: boolean
  /** The output size [oH, oW] (from pool2dOutputSize). */
  out: [number, number]
}
export type AvgPool2dAttrs = Pool2dAttrs & { countIncludePad: boolean }

/**
 * Output length of a pooling window along one axis: floor((n + 2p - f) / s) + 1 as for a conv
 * (https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html; a dilated window
 * spans d(f - 1) + 1), or with ceilMode the ceiling instead.
 * NOTE: PyTorch's ceil-mode rule, which ONNX adopted: a last window that would start in the right
 * padding is dropped, so every window starts inside the input or the left padding.
 */
export function pool2dOutputSize(n: number, k: number, s = k, p = 0, d = 1, ceilMode = false): number {
  const span = n + 2 * p - d * (k - 1) - 1
  let out = Math.floor((span + (ceilMode ? s - 1 : 0)) / s) + 1
  if (ceilMode && (out - 1) * s >= n + p) out--
  return out
}

function geometry(x: readonly number[], a: Pool2dAttrs): Pool2dGeometry {
  const [n, c, inH, inW] = x as [number, number, number, number]
  return {
    planes: n * c,
    inH,
    inW,
    outH: a.out[0],
    outW: a.out[1],
    kH: a.kernel[0],
    kW: a.kernel[1],
    strideH: a.strides[0],
    strideW: a.strides[1],
    padTop: a.pads[0],
    padLeft: a.pads[1],
    padBottom: a.pads[2],
    padRight: a.pads[3],
    dilationH: a.dilations[0],
    dilationW: a.dilations[1],
  }
}

const poolOnly = (a: Pool2dAttrs): Pool2dAttrs => ({
  kernel: a.kernel,
  strides: a.strides,
  pads: a.pads,
  dilations: a.dilations,
  ceilMode: a.ceilMode,
  out: a.out,
})

/**
 * Extra end padding that makes floor mode produce the ceil-mode windows: the part of the last
 * window that runs past the padded input.
 */
function ceilExtra(x: readonly number[], a: Pool2dAttrs): [number, number] {
  const ex = (i: 0 | 1) =>
    Math.max(
      0,
      (a.out[i] - 1) * a.strides[i] + a.dilations[i] * (a.kernel[i] - 1) + 1 - (x[2 + i]! + a.pads[i] + a.pads[i + 2]!),
    )
  return [ex(0), ex(1)]
}

const isOnes = (p: readonly number[]) => p.every((v) => v === 1)

/**
 * MaxPool: ceil mode as explicit end padding (max ignores padding, so it is the same windows).
 * NOTE: runtimes have disagreed on ceil-mode output shapes (onnx/onnx#4958, onnxruntime#16752);
 * padding states the windows without that rule. ORT wants pads < kernel, which holds whenever the
 * dilation is 1; otherwise ceil_mode is emitted as is.
 */
function lowerMaxPool(
  ctx: LoweringContext,
  x: string,
  xShape: readonly number[],
  a: Pool2dAttrs,
  outputs = 1,
): string[] {
  const [exH, exW] = ceilExtra(xShape, a)
  const pads = [a.pads[0], a.pads[1], a.pads[2] + exH, a.pads[3] + exW]
  const attrs = {
    kernel_shape: a.kernel,
    strides: a.strides,
    ...(isOnes(a.dilations) ? {} : { dilations: a.dilations }),
  }
  if (pads[2]! < a.kernel[0] && pads[3]! < a.kernel[1]) return ctx.node('MaxPool', [x], { ...attrs, pads }, { outputs })
  return ctx.node('MaxPool', [x], { ...attrs, pads: a.pads, ceil_mode: a.ceilMode ? 1 : 0 }, { outputs })
}

/** The argmax indices a training forward pass found, for its backward (keyed by the output). */
const savedIndices = new WeakMap<Tensor, Tensor>()

export const MaxPool2d: OpDef<Pool2dAttrs> = defineOp<Pool2dAttrs>({
  name: 'MaxPool',
  forward: ([x], a) => {
    const g = geometry(x!.shape, a)
    const shape = [x!.shape[0]!, x!.shape[1]!, g.outH, g.outW]
    const y = empty(x!.dtype, shape)
    // With a gradient to come, the same pass writes the argmax indices too (as PyTorch saves them), instead of
    // the backward scanning the windows again.
    const idx = x!.requiresGrad ? empty('int32', shape) : null
    kernel('MaxPool')(fa(x!), fa(y), idx ? (idx.data as Int32Array) : null, g)
    if (idx) savedIndices.set(y, idx)
    return y
  },
  backward: (dy, { inputs: [x], output, attrs }) => [
    apply(MaxPool2dBackward, [dy, savedIndices.get(output) ?? maxPoolIndices(x!, attrs)], {
      ...poolOnly(attrs),
      inSize: [x!.shape[2]!, x!.shape[3]!],
    }),
  ],
  onnx: (ctx, [x], { inputs: [xt], attrs }) => lowerMaxPool(ctx, x!, xt!.shape, attrs),
})

/** The argmax of each window as h * W + w within its plane (int32, shaped like the output). */
function maxPoolIndices(x: Tensor, a: Pool2dAttrs): Tensor {
  const g = geometry(x.shape, a)
  const shape = [x.shape[0]!, x.shape[1]!, g.outH, g.outW]
  const idx = empty('int32', shape)
  kernel('MaxPool')(fa(x), fa(empty(x.dtype, shape)), idx.data as Int32Array, g)
  return idx
}

type PoolBackAttrs = Pool2dAttrs & { inSize: [number, number] }

/** Inputs [dy, indices]: dy routed to the argmax positions. Its own gradient gathers at them. */
const MaxPool2dBackward: OpDef<PoolBackAttrs> = defineOp<PoolBackAttrs>({
  name: 'MaxPoolGrad',
  forward: ([dy, idx], a) => {
    const [n, c] = dy!.shape as [number, number]
    const dx = empty(dy!.dtype, [n, c, a.inSize[0], a.inSize[1]])
    kernel('MaxPoolGrad')(fa(dy!), idx!.data as Int32Array, fa(dx), geometry(dx.shape, a))
    return dx
  },
  backward: (G, { inputs: [dy, idx] }) => {
    const [n, c, oh, ow] = dy!.shape as [number, number, number, number]
    const flat = G.reshape([n, c, G.shape[2]! * G.shape[3]!])
    return [gatherElements(flat, 2, idx!.reshape([n, c, oh * ow])).reshape([n, c, oh, ow]), null]
  },
})

/**
 * AveragePool with PyTorch's divisor. Without ceil-mode overhang this is the native node. With it,
 * the overhang becomes explicit end padding that is never counted (count_include_pad = 0); when the
 * user padding should count, it is made real zeros by a Pad node first.
 * NOTE: ONNX Runtime divided a ceil-mode window that overhangs the padded input by the whole kernel
 * under count_include_pad (onnxruntime#16203, fixed only for opset >= 19), where PyTorch divides by
 * the part inside the padded input; this form gives PyTorch's numbers on every opset. The attribute
 * `dilations` of AveragePool needs opset 19; avgPool2d has no dilation (as in PyTorch), so only an
 * imported dilated AveragePool emits it.
 */
function lowerAvgPool(ctx: LoweringContext, x: string, xShape: readonly number[], a: AvgPool2dAttrs): string[] {
  const [exH, exW] = ceilExtra(xShape, a)
  const p = a.pads
  const dilated = a.dilations[0] !== 1 || a.dilations[1] !== 1
  // A dilated window (only from an imported ONNX AveragePool) needs the attribute of opset 19.
  if (dilated) ctx.requireOpset(19)
  const base = dilated
    ? { kernel_shape: a.kernel, strides: a.strides, dilations: a.dilations }
    : { kernel_shape: a.kernel, strides: a.strides }
  if (exH === 0 && exW === 0)
    return ctx.node('AveragePool', [x], { ...base, pads: p, count_include_pad: a.countIncludePad ? 1 : 0 })
  if (!a.countIncludePad || p.every((v) => v === 0))
    return ctx.node('AveragePool', [x], { ...base, pads: [p[0], p[1], p[2] + exH, p[3] + exW], count_include_pad: 0 })
  ctx.requireOpset(11)
  const [padded] = ctx.node('Pad', [x, ctx.constant([0, 0, p[0], p[1], 0, 0, p[2], p[3]], 'int64')])
  return ctx.node('AveragePool', [padded!], { ...base, pads: [0, 0, exH, exW], count_include_pad: 0 })
}

export const AvgPool2d: OpDef<AvgPool2dAttrs> = defineOp<AvgPool2dAttrs>({
  name: 'AveragePool',
  forward: ([x], a) => {
    const g = geometry(x!.shape, a)
    const y = empty(x!.dtype, [x!.shape[0]!, x!.shape[1]!, g.outH, g.outW])
    kernel('AveragePool')(fa(x!), fa(y), g, a.countIncludePad)
    return y
  },
  backward: (dy, { inputs: [x], attrs }) => [
    apply(AvgPool2dBackward, [dy], { ...attrs, inSize: [x!.shape[2]!, x!.shape[3]!] }),
  ],
  onnx: (ctx, [x], { inputs: [xt], attrs }) => lowerAvgPool(ctx, x!, xt!.shape, attrs),
})

/** dy spread evenly over each window; linear, so its gradient is AvgPool2d again. */
const AvgPool2dBackward: OpDef<AvgPool2dAttrs & { inSize: [number, number] }> = defineOp<
  AvgPool2dAttrs & { inSize: [number, number] }
>({
  name: 'AveragePoolGrad',
  forward: ([dy], a) => {
    const [n, c] = dy!.shape as [number, number]
    const dx = empty(dy!.dtype, [n, c, a.inSize[0], a.inSize[1]])
    kernel('AveragePoolGrad')(fa(dy!), fa(dx), geometry(dx.shape, a), a.countIncludePad)
    return dx
  },
  backward: (G, { attrs }) => [apply(AvgPool2d, [G], { ...poolOnly(attrs), countIncludePad: attrs.countIncludePad })],
})

// ---- public functions -------------------------------------------------------------------------

function check4d(op: string, x: Tensor): void {
  requireFloat(op, x)
  if (x.rank !== 4) throw new ShapeError(`${op}: expected input (N, C, H, W), got ${fmt(x.shape)}`)
}

/** Resolve and check pooling options against x (N, C, H, W). */
function resolvePool(op: string, x: Tensor, o: MaxPool2dOptions): Pool2dAttrs {
  check4d(op, x)
  const kernel = pair(op, 'kernelSize', o.kernelSize, 1)
  const strides = pair(op, 'stride', o.stride ?? kernel, 1)
  const [ph, pw] = pair(op, 'padding', o.padding ?? 0, 0)
  const dilations = pair(op, 'dilation', o.dilation ?? 1, 1)
  if (ph > kernel[0] / 2 || pw > kernel[1] / 2)
    throw new ArgumentError(`${op}: padding ${fmt([ph, pw])} must be at most half the kernel ${fmt(kernel)}`)
  const ceilMode = o.ceilMode ?? false
  const out: [number, number] = [
    pool2dOutputSize(x.shape[2]!, kernel[0], strides[0], ph, dilations[0], ceilMode),
    pool2dOutputSize(x.shape[3]!, kernel[1], strides[1], pw, dilations[1], ceilMode),
  ]
  if (out[0] < 1 || out[1] < 1)
    throw new ShapeError(
      `${op}: output size ${out[0]} x ${out[1]} is too small: input ${fmt(x.shape)} with padding ${fmt([ph, pw])} is smaller than the window ${fmt(kernel.map((k, i) => dilations[i]! * (k - 1) + 1))}`,
    )
  return { kernel, strides, pads: [ph, pw, ph, pw], dilations, ceilMode, out }
}

const opts = <T extends { kernelSize: number | readonly [number, number] }>(o: T | number): T =>
  (typeof o === 'number' ? { kernelSize: o } : o) as T

/** Max pooling: the largest value in each window (pass the kernel size alone for stride = kernel). */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions | number): Tensor {
  return apply(MaxPool2d, [x], resolvePool('maxPool2d', x, opts(options)))
}

/**
 * Max pooling that also returns the argmax of each window as an int32 index h * W + w into its
 * input plane (PyTorch's return_indices). Exports as MaxPool with its Indices output.
 */
export function maxPool2dWithIndices(x: Tensor, options: MaxPool2dOptions | number): [Tensor, Tensor] {
  const attrs = resolvePool('maxPool2dWithIndices', x, opts(options))
  const [h, w] = [x.shape[2]!, x.shape[3]!]
  const out = applyMulti(
    {
      name: 'MaxPool',
      // ONNX indices run over the whole tensor ((n * C + c) * H + h) * W + w: keep the in-plane part.
      onnx: (ctx, [xn], { inputs: [xt] }) => {
        const [y, idx] = lowerMaxPool(ctx, xn!, xt!.shape, attrs, 2)
        const [inPlane] = ctx.node('Mod', [idx!, ctx.constant([h * w], 'int64', [])])
        return [y!, ...ctx.node('Cast', [inPlane!], { to: 6 })]
      },
    },
    [x],
    attrs,
    () => [apply(MaxPool2d, [x], attrs), maxPoolIndices(x, attrs)],
  )
  return [out[0]!, out[1]!]
}

/** Average pooling, with PyTorch's divisor rule (see backends/js/conv.ts avgWindows). */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions | number): Tensor {
  const o = opts(options)
  const attrs = resolvePool('avgPool2d', x, {
    kernelSize: o.kernelSize,
    stride: o.stride,
    padding: o.padding,
    ceilMode: o.ceilMode,
  })
  return apply(AvgPool2d, [x], { ...attrs, countIncludePad: o.countIncludePad ?? true })
}

// ---- global and adaptive pooling --------------------------------------------------------------

const GlobalAveragePool = defineOp({
  name: 'GlobalAveragePool',
  forward: ([x]) => mean(x!, [...x!.shape.keys()].slice(2), true),
  onnx: 'GlobalAveragePool',
})
/** Mean over all spatial positions, keeping dims: (N, C, H, W) -> (N, C, 1, 1). */
export function globalAvgPool2d(x: Tensor): Tensor {
  requireFloat('globalAvgPool2d', x)
  if (x.rank < 3) throw new ShapeError(`globalAvgPool2d: expected input (N, C, H, W), got ${fmt(x.shape)}`)
  return apply(GlobalAveragePool, [x], {})
}

/** One max window covering the plane (so the gradient goes to one argmax, as in PyTorch). */
const wholePlane = (x: Tensor, k: [number, number]): Pool2dAttrs => ({
  kernel: k,
  strides: k,
  pads: [0, 0, 0, 0],
  dilations: [1, 1],
  ceilMode: false,
  out: [x.shape[2]! / k[0], x.shape[3]! / k[1]],
})

const GlobalMaxPool = defineOp({
  name: 'GlobalMaxPool',
  forward: ([x]) => apply(MaxPool2d, [x!], wholePlane(x!, [x!.shape[2]!, x!.shape[3]!])),
  onnx: 'GlobalMaxPool',
})
/** Max over all spatial positions, keeping dims: (N, C, H, W) -> (N, C, 1, 1). */
export function globalMaxPool2d(x: Tensor): Tensor {
  check4d('globalMaxPool2d', x)
  return apply(GlobalMaxPool, [x], {})
}

/** PyTorch's adaptive windows along one axis: output i covers [floor(i n / o), ceil((i + 1) n / o)). */
export function adaptiveWindows(n: number, o: number): [number, number][] {
  return Array.from({ length: o }, (_, i) => [Math.floor((i * n) / o), Math.ceil(((i + 1) * n) / o)])
}

/** (o, n) matrix whose row i averages the inputs of window i. */
function averagingMatrix(n: number, o: number, dtype: 'float32' | 'float64'): Tensor {
  const m = new Float64Array(o * n)
  adaptiveWindows(n, o).forEach(([s, e], i) => {
    m.fill(1 / (e - s), i * n + s, i * n + e)
  })
  return fromValues(dtype, [o, n], m)
}

type AdaptiveAttrs = { out: [number, number] }

/**
 * The uniform pooling an adaptive pool is when the input divides evenly, for export. Uneven
 * average windows export as the forward computes them, A_h x A_w^T with constant averaging
 * matrices (two MatMuls; e.g. AlexNet/VGG's 6x6 / 7x7 pool on a small image's 1x1 or 2x2 map).
 */
function lowerAdaptive(
  ctx: LoweringContext,
  x: string,
  xt: Tensor,
  [oh, ow]: [number, number],
  kind: 'Average' | 'Max',
): string[] {
  const [h, w] = [xt.shape[2]!, xt.shape[3]!]
  if (oh === 1 && ow === 1) return ctx.node(`Global${kind}Pool`, [x])
  if (h % oh === 0 && w % ow === 0) {
    const k = [h / oh, w / ow]
    return ctx.node(`${kind}Pool`, [x], { kernel_shape: k, strides: k, pads: [0, 0, 0, 0] })
  }
  if (kind === 'Average') {
    const dt = xt.dtype as 'float32' | 'float64'
    const [rows] = ctx.node('MatMul', [ctx.constant(averagingMatrix(h, oh, dt)), x])
    return ctx.node('MatMul', [rows!, ctx.constant(transpose(averagingMatrix(w, ow, dt), 0, 1).contiguous())])
  }
  throw new OnnxExportError(
    `adaptiveMaxPool2d cannot be exported to ONNX for input ${h} x ${w} and output ${oh} x ${ow}: ` +
      'ONNX has no adaptive pooling, and the windows are a plain pooling only when the input size is a multiple of the output size (or the output is 1 x 1)',
  )
}

const AdaptiveAvgPool2d = defineOp<AdaptiveAttrs>({
  name: 'AdaptiveAvgPool2d',
  forward: ([x], { out: [oh, ow] }) => {
    const [h, w] = [x!.shape[2]!, x!.shape[3]!]
    if (h % oh === 0 && w % ow === 0) {
      const k: [number, number] = [h / oh, w / ow]
      return apply(AvgPool2d, [x!], { ...wholePlane(x!, k), countIncludePad: true })
    }
    // Uneven windows: the window mean is separable, y = A_h x A_w^T with averaging matrices.
    const dt = x!.dtype as 'float32' | 'float64'
    return matmul(matmul(averagingMatrix(h, oh, dt), x!), transpose(averagingMatrix(w, ow, dt), 0, 1))
  },
  onnx: (ctx, [x], { inputs: [xt], attrs }) => lowerAdaptive(ctx, x!, xt!, attrs.out, 'Average'),
})

const AdaptiveMaxPool2d = defineOp<AdaptiveAttrs>({
  name: 'AdaptiveMaxPool2d',
  forward: ([x], { out: [oh, ow] }) => {
    const [h, w] = [x!.shape[2]!, x!.shape[3]!]
    if (h % oh === 0 && w % ow === 0) return apply(MaxPool2d, [x!], wholePlane(x!, [h / oh, w / ow]))
    // Uneven windows: the max over a rectangle is the max over its rows of the max over its columns.
    // NOTE: a tie inside a window shares the gradient (ReduceMax), where PyTorch gives it to one element.
    const cols = concat(
      adaptiveWindows(w, ow).map(([s, e]) => max(slice(x!, 3, s, e), 3, true)),
      3,
    )
    return concat(
      adaptiveWindows(h, oh).map(([s, e]) => max(slice(cols, 2, s, e), 2, true)),
      2,
    )
  },
  onnx: (ctx, [x], { inputs: [xt], attrs }) => lowerAdaptive(ctx, x!, xt!, attrs.out, 'Max'),
})

function adaptiveOut(op: string, x: Tensor, outputSize: number | readonly [number, number]): [number, number] {
  check4d(op, x)
  const out = pair(op, 'outputSize', outputSize, 1)
  return out
}

/** Average pooling to a fixed output size (PyTorch's adaptive windows). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  const out = adaptiveOut('adaptiveAvgPool2d', x, outputSize)
  return apply(AdaptiveAvgPool2d, [x], { out })
}

/** Max pooling to a fixed output size (PyTorch's adaptive windows). */
export function adaptiveMaxPool2d(x: Tensor, outputSize: number | readonly [number, number]): Tensor {
  const out = adaptiveOut('adaptiveMaxPool2d', x, outputSize)
  return apply(AdaptiveMaxPool2d, [x], { out })
}

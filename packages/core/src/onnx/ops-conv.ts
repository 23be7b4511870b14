/**
 * ONNX convolution and pooling ops on refnets' 2-D kernels: Conv, ConvTranspose, ConvInteger,
 * MaxPool (with Indices), AveragePool, GlobalAveragePool, GlobalMaxPool, LRN. 1-D inputs run as
 * 2-D with a height of 1; ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are already refnets'
 * [top, left, bottom, right]. auto_pad SAME_UPPER / SAME_LOWER / VALID are resolved here.
 */
import { apply } from '../op.js'
import * as F from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrFloat, attrInt, attrInts, attrString, input, optional } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'

type Quad = [number, number, number, number]
type Pair = [number, number]

/** Run `f` on a 2-D view of a 1-D (N, C, L) input, or directly on (N, C, H, W). */
function as2d(
  ctx: NodeContext,
  x: Tensor,
  f: (x4: Tensor, lift: <T extends number>(v: T[], fill: T) => T[]) => Tensor | Tensor[],
): Tensor | Tensor[] {
  if (x.rank === 4) return f(x, (v) => v)
  if (x.rank !== 3)
    throw new OnnxImportError(`${ctx.node.opType}: ${x.rank - 2}-D inputs are not supported (1-D and 2-D are)`)
  const [n, c, l] = x.shape as [number, number, number]
  // A 1-D attribute [a] becomes [fill, a]; 1-D pads [b, e] become [0, b, 0, e].
  const lift = <T extends number>(v: T[], fill: T): T[] =>
    v.length === 2 && fill === 0 ? [0 as T, v[0]!, 0 as T, v[1]!] : [fill, ...v]
  const out = f(x.reshape(n, c, 1, l), lift)
  const drop = (t: Tensor) => t.reshape([t.shape[0]!, t.shape[1]!, t.shape[3]!])
  return Array.isArray(out) ? out.map(drop) : drop(out)
}

/** Explicit [top, left, bottom, right] pads from pads / auto_pad, for windows of the given extent. */
function resolvePads(
  ctx: NodeContext,
  inHW: Pair,
  kernel: Pair,
  strides: Pair,
  dilations: Pair,
  lift: (v: number[], fill: number) => number[],
): Quad {
  const auto = attrString(ctx, 'auto_pad', 'NOTSET')
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const pads: Quad = [0, 0, 0, 0]
    for (const i of [0, 1]) {
      const out = Math.ceil(inHW[i]! / strides[i]!)
      const total = Math.max(0, (out - 1) * strides[i]! + dilations[i]! * (kernel[i]! - 1) + 1 - inHW[i]!)
      const small = Math.floor(total / 2)
      pads[i] = auto === 'SAME_UPPER' ? small : total - small
      pads[i + 2] = total - pads[i]!
    }
    return pads
  }
  if (auto === 'VALID') return [0, 0, 0, 0]
  return (
    lift(attrInts(ctx, 'pads') ?? [0, 0], 0).length === 4 ? lift(attrInts(ctx, 'pads') ?? [0, 0], 0) : [0, 0, 0, 0]
  ) as Quad
}

const pairAttr = (
  ctx: NodeContext,
  name: string,
  lift: (v: number[], fill: number) => number[],
  dims: number,
): Pair => {
  const v = attrInts(ctx, name)
  return (v ? lift(v, 1) : new Array<number>(dims).fill(1)).slice(-2) as Pair
}

function conv(ctx: NodeContext): Tensor | Tensor[] {
  const x = input(ctx, 0)
  const w = input(ctx, 1)
  const b = optional(ctx, 2)
  return as2d(ctx, x, (x4, lift) => {
    const w4 = w.rank === 3 ? w.reshape(w.shape[0]!, w.shape[1]!, 1, w.shape[2]!) : w
    const kernel: Pair = [w4.shape[2]!, w4.shape[3]!]
    const strides = pairAttr(ctx, 'strides', lift, 2)
    const dilations = pairAttr(ctx, 'dilations', lift, 2)
    const pads = resolvePads(ctx, [x4.shape[2]!, x4.shape[3]!], kernel, strides, dilations, lift)
    const attrs = { strides, pads, dilations, groups: attrInt(ctx, 'group', 1) }
    return apply(F.Conv2d, b ? [x4, w4, b] : [x4, w4], attrs)
  })
}

function convTranspose(ctx: NodeContext): Tensor | Tensor[] {
  const x = input(ctx, 0)
  const w = input(ctx, 1)
  const b = optional(ctx, 2)
  return as2d(ctx, x, (x4, lift) => {
    const w4 = w.rank === 3 ? w.reshape(w.shape[0]!, w.shape[1]!, 1, w.shape[2]!) : w
    const kernel: Pair = [w4.shape[2]!, w4.shape[3]!]
    const strides = pairAttr(ctx, 'strides', lift, 2)
    const dilations = pairAttr(ctx, 'dilations', lift, 2)
    const outputPadding = (
      attrInts(ctx, 'output_padding') ? lift(attrInts(ctx, 'output_padding')!, 0).slice(-2) : [0, 0]
    ) as Pair
    let pads: Quad = (attrInts(ctx, 'pads') ? lift(attrInts(ctx, 'pads')!, 0) : [0, 0, 0, 0]) as Quad
    const auto = attrString(ctx, 'auto_pad', 'NOTSET')
    const given = attrInts(ctx, 'output_shape')
    const outShape = given
      ? lift(given, 1).slice(-2)
      : auto.startsWith('SAME')
        ? [x4.shape[2]! * strides[0], x4.shape[3]! * strides[1]]
        : undefined
    if (outShape) {
      // total padding = stride (in - 1) + output_padding + dilated kernel - output (ONNX ConvTranspose)
      pads = [0, 0, 0, 0]
      for (const i of [0, 1]) {
        const total =
          strides[i]! * (x4.shape[2 + i]! - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - outShape[i]!
        const half = Math.floor(total / 2)
        pads[i] = auto === 'SAME_UPPER' ? half : total - half
        pads[i + 2] = total - pads[i]!
      }
    }
    const attrs = { strides, pads, dilations, groups: attrInt(ctx, 'group', 1), outputPadding }
    return apply(F.ConvTranspose2d, b ? [x4, w4, b] : [x4, w4], attrs)
  })
}

/** Output length of a pooling window: floor (or ceil) of span / stride + 1; a ceil-mode window must start inside. */
function poolOut(n: number, k: number, s: number, before: number, after: number, d: number, ceil: boolean): number {
  const span = n + before + after - d * (k - 1) - 1
  let out = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1
  if (ceil && (out - 1) * s >= n + before) out--
  return out
}

function pool(kind: 'max' | 'avg'): OnnxOpImpl {
  return (ctx) => {
    const x = input(ctx, 0)
    return as2d(ctx, x, (x4, lift) => {
      const kernel = lift(attrInts(ctx, 'kernel_shape')!, 1).slice(-2) as Pair
      const strides = pairAttr(ctx, 'strides', lift, 2)
      const dilations = pairAttr(ctx, 'dilations', lift, 2)
      const ceilMode = attrInt(ctx, 'ceil_mode', 0) === 1
      const pads = resolvePads(ctx, [x4.shape[2]!, x4.shape[3]!], kernel, strides, dilations, lift)
      const out = [0, 1].map((i) =>
        poolOut(x4.shape[2 + i]!, kernel[i]!, strides[i]!, pads[i]!, pads[i + 2]!, dilations[i]!, ceilMode),
      ) as Pair
      const attrs = { kernel, strides, pads, dilations, ceilMode, out }
      if (kind === 'avg')
        return apply(F.AvgPool2d, [x4], { ...attrs, countIncludePad: attrInt(ctx, 'count_include_pad', 0) === 1 })
      const y = apply(F.MaxPool2d, [x4], attrs)
      if (ctx.outputCount < 2) return y
      if (pads.some((p, i) => p !== pads[(i + 2) % 4]) || ceilMode || dilations.some((d) => d !== 1))
        throw new OnnxImportError(
          'MaxPool Indices output: asymmetric padding, ceil_mode and dilations are not supported',
        )
      const [, idx] = F.maxPool2dWithIndices(x4, { kernelSize: kernel, stride: strides, padding: [pads[0], pads[1]] })
      // ONNX indices run over the whole tensor (row-major, or column-major with storage_order 1).
      const [n, c, h, w] = x4.shape as [number, number, number, number]
      const plane = F.arange(0, n * c)
        .reshape(n, c, 1, 1)
        .mul(h * w)
      const flat =
        attrInt(ctx, 'storage_order', 0) === 1
          ? F.mod(idx, w)
              .mul(h)
              .add(F.floor(idx.div(w).to('float32')).to('int32'))
          : idx
      return [y, flat.add(plane)]
    })
  }
}

export const convOps: Record<string, OnnxOpImpl> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  ConvInteger: (ctx) => {
    const x = input(ctx, 0)
      .to('float32')
      .sub(optional(ctx, 2)?.to('float32') ?? 0)
    // NOTE: w_zero_point is a scalar or one value per output channel (ONNX ConvInteger): a 1-D
    // zero point runs along axis 0 of w (M, C/group, kH, kW), not along its last axis.
    const wRaw = input(ctx, 1)
    const wZero = optional(ctx, 3)?.to('float32')
    const w = wRaw
      .to('float32')
      .sub(
        wZero && wZero.rank === 1
          ? wZero.reshape([wZero.shape[0]!, ...wRaw.shape.slice(1).map(() => 1)])
          : (wZero ?? 0),
      )
    const sub = { ...ctx, inputs: [x, w] }
    const y = conv(sub)
    return (Array.isArray(y) ? y[0]! : y).to('int32')
  },
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (ctx) => {
    const x = input(ctx, 0)
    return x.mean([...x.shape.keys()].slice(2), true)
  },
  GlobalMaxPool: (ctx) => {
    const x = input(ctx, 0)
    return x.max([...x.shape.keys()].slice(2), true)
  },
  LRN: (ctx) =>
    F.localResponseNorm(input(ctx, 0), {
      size: attrInt(ctx, 'size', 1),
      alpha: attrFloat(ctx, 'alpha', 1e-4),
      beta: attrFloat(ctx, 'beta', 0.75),
      k: attrFloat(ctx, 'bias', 1),
    }),
}

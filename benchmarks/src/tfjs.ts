/**
 * TensorFlow.js as a second reference engine: the harness runs the very ONNX graph refnets exported
 * with tfjs ops, so "an equivalent model" is the same graph with the same weights, built by one
 * general translation rather than by hand per architecture.
 *
 * Layout: tfjs convolutions and pools work in NHWC, ONNX in NCHW. Each value remembers its layout;
 * image ops (Conv, pools, BatchNormalization, LRN, Concat on channels) keep NHWC, elementwise ops
 * pass it through, and anything that depends on the axis order (Flatten, Reshape, Gemm, Softmax, ...)
 * gets NCHW back. So a CNN transposes its input once and its features once, as a hand-written
 * tfjs model would. Weights are converted once, when the graph is compiled, not on every run.
 *
 * An op without a translation makes `compileTfjs` throw UnsupportedOpError; the harness reports
 * the engine as n/a for that case, with the op's name.
 */
import { onnx } from '@refnets/core'
import type * as TF from '@tensorflow/tfjs'

export class UnsupportedOpError extends Error {
  constructor(
    readonly opType: string,
    detail = '',
  ) {
    super(`no TensorFlow.js translation for ONNX ${opType}${detail ? ` (${detail})` : ''}`)
    this.name = 'UnsupportedOpError'
  }
}

interface Value {
  t: TF.Tensor
  /** true when t holds a rank-4 NCHW value as NHWC. */
  nhwc: boolean
}

type Attrs = Record<string, unknown>
type Step = (get: (name: string) => Value) => Value
const TO_NHWC = [0, 2, 3, 1]
const TO_NCHW = [0, 3, 1, 2]

export interface TfjsModel {
  /** Run on NCHW float32 inputs (as tfjs tensors); returns the graph's outputs in ONNX layout. */
  run(inputs: TF.Tensor[]): TF.Tensor[]
  dispose(): void
}

/** Compile an ONNX model into a function of tfjs ops on the current tfjs backend. */
export function compileTfjs(tf: typeof TF, bytes: Uint8Array): TfjsModel {
  const model = onnx.decodeModel(bytes)
  const g = model.graph!
  // Initializers as tfjs tensors, made when a step first asks for one (`constant`), so that a weight a step
  // converts from the raw data (Gemm's transposed B) is never copied in as it is.
  const consts = new Map<string, TF.Tensor>()
  // Every tensor made at compile time (weights and their converted forms), disposed together.
  const owned: TF.Tensor[] = []
  const own = <T extends TF.Tensor>(t: T): T => {
    owned.push(t)
    return t
  }
  // Initializers a compiled step converted and captured (conv and Gemm weights): the originals are
  // dropped after compiling unless another node reads them.
  const absorbed = new Set<string>()
  const raw = new Map<string, { dims: number[]; data: ArrayLike<number | bigint>; dataType: number }>()
  for (const init of g.initializer ?? []) {
    const d = onnx.tensorProtoToArray(init)
    raw.set(init.name!, { dims: d.dims, data: d.data as ArrayLike<number>, dataType: d.dataType })
  }
  const constant = (name: string): TF.Tensor | undefined => {
    const r = raw.get(name)
    if (!consts.has(name) && r) consts.set(name, own(toTf(tf, r.dims, r.data as ArrayLike<number>, r.dataType)))
    return consts.get(name)
  }
  const constInts = (name: string): number[] => {
    const r = raw.get(name)
    if (!r) throw new UnsupportedOpError('(shape input)', `'${name}' is computed at run time`)
    return Array.from(r.data as ArrayLike<number | bigint>, Number)
  }
  const nchw = (v: Value) => (v.nhwc ? tf.transpose(v.t, TO_NCHW) : v.t)
  const nhwc = (v: Value) => (v.nhwc ? v.t : tf.transpose(v.t, TO_NHWC))
  const keep = (v: Value, t: TF.Tensor): Value => ({ t, nhwc: v.nhwc })
  const plain = (t: TF.Tensor): Value => ({ t, nhwc: false })
  const image = (t: TF.Tensor): Value => ({ t, nhwc: true })

  const steps: { outputs: string[]; run: Step }[] = []
  for (const node of g.node ?? []) {
    const attrs: Attrs = Object.fromEntries((node.attribute ?? []).map((a) => [a.name!, onnx.attributeValue(a)]))
    const [a, b, c] = node.input
    const op = node.opType!
    const unary =
      (f: (t: TF.Tensor) => TF.Tensor): Step =>
      (get) =>
        keep(get(a!), f(get(a!).t))
    const binary =
      (f: (x: TF.Tensor, y: TF.Tensor) => TF.Tensor): Step =>
      (get) => {
        const x = get(a!)
        const y = get(b!)
        if (x.nhwc === y.nhwc) return keep(x, f(x.t, y.t))
        return plain(f(nchw(x), nchw(y)))
      }
    let run: Step
    switch (op) {
      case 'Identity':
      case 'Dropout':
        run = (get) => get(a!)
        break
      case 'Relu':
        run = unary((t) => tf.relu(t))
        break
      case 'Sigmoid':
        run = unary((t) => tf.sigmoid(t))
        break
      case 'Tanh':
        run = unary((t) => tf.tanh(t))
        break
      case 'Softplus':
        run = unary((t) => tf.softplus(t))
        break
      case 'Selu':
        run = unary((t) => tf.selu(t))
        break
      case 'LeakyRelu': {
        const al = (attrs.alpha as number) ?? 0.01
        run = unary((t) => tf.leakyRelu(t, al))
        break
      }
      case 'Elu': {
        const al = (attrs.alpha as number) ?? 1
        run = unary((t) => tf.where(tf.greater(t, 0), t, tf.mul(al, tf.sub(tf.exp(t), 1))))
        break
      }
      case 'HardSigmoid': {
        const al = (attrs.alpha as number) ?? 0.2
        const be = (attrs.beta as number) ?? 0.5
        run = unary((t) => tf.clipByValue(tf.add(tf.mul(t, al), be), 0, 1))
        break
      }
      case 'Mish':
        run = unary((t) => tf.mul(t, tf.tanh(tf.softplus(t))))
        break
      case 'Gelu':
        run =
          attrs.approximate === 'tanh'
            ? unary((t) =>
                tf.mul(
                  tf.mul(t, 0.5),
                  tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))),
                ),
              )
            : unary((t) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2)))))
        break
      case 'Add':
        run = binary((x, y) => tf.add(x, y))
        break
      case 'Sub':
        run = binary((x, y) => tf.sub(x, y))
        break
      case 'Mul':
        run = binary((x, y) => tf.mul(x, y))
        break
      case 'Div':
        run = binary((x, y) => tf.div(x, y))
        break
      case 'PRelu':
        run = (get) => {
          const x = nchw(get(a!))
          return plain(tf.where(tf.less(x, 0), tf.mul(x, get(b!).t), x))
        }
        break
      case 'Softmax':
      case 'LogSoftmax': {
        const f = op === 'Softmax' ? tf.softmax : tf.logSoftmax
        run = (get) => {
          const x = nchw(get(a!))
          const axis = (((attrs.axis as number) ?? -1) + x.rank) % x.rank
          if (axis === x.rank - 1) return plain(f(x))
          const perm = [...Array(x.rank).keys()]
          perm[axis] = x.rank - 1
          perm[x.rank - 1] = axis
          return plain(tf.transpose(f(tf.transpose(x, perm)), perm))
        }
        break
      }
      case 'Gemm': {
        const alpha = (attrs.alpha as number) ?? 1
        const beta = (attrs.beta as number) ?? 1
        const tA = attrs.transA === 1
        // B is the (out, in) weight with transB = 1: store it as (in, out) once (tfjs-wasm's matMul with
        // transposeB ran VGG-16's first classifier layer 8x slower), transposed from the initializer's data:
        // tfjs-wasm's own transpose took ~4 s for VGG-16's 120M classifier weights.
        const w = attrs.transB === 1 ? raw.get(b!) : undefined
        const bT = w?.data instanceof Float32Array && w.dims.length === 2 ? own(transposed(tf, w.data, w.dims)) : null
        if (bT) absorbed.add(b!)
        run = (get) => {
          let y = bT
            ? tf.matMul(nchw(get(a!)), bT, tA, false)
            : tf.matMul(nchw(get(a!)), get(b!).t, tA, attrs.transB === 1)
          if (alpha !== 1) y = tf.mul(y, alpha)
          if (c) y = tf.add(y, beta === 1 ? get(c).t : tf.mul(get(c).t, beta))
          return plain(y)
        }
        break
      }
      case 'MatMul':
        run = (get) => plain(tf.matMul(nchw(get(a!)), nchw(get(b!))))
        break
      case 'Flatten':
        run = (get) => {
          const x = nchw(get(a!))
          const axis = (((attrs.axis as number) ?? 1) + x.rank) % x.rank
          const lead = x.shape.slice(0, axis).reduce((p, q) => p * q, 1)
          return plain(tf.reshape(x, [lead, -1]))
        }
        break
      case 'Reshape': {
        const target = constInts(b!)
        run = (get) => {
          const x = nchw(get(a!))
          return plain(
            tf.reshape(
              x,
              target.map((d, i) => (d === 0 && attrs.allowzero !== 1 ? x.shape[i]! : d)),
            ),
          )
        }
        break
      }
      case 'Squeeze': {
        const axes = b ? constInts(b) : ((attrs.axes as number[]) ?? undefined)
        run = (get) => plain(tf.squeeze(nchw(get(a!)), axes))
        break
      }
      case 'Unsqueeze': {
        const axes = b ? constInts(b) : (attrs.axes as number[])
        run = (get) => {
          let x = nchw(get(a!))
          for (const ax of [...axes].sort((p, q) => p - q)) x = tf.expandDims(x, ax < 0 ? ax + x.rank + 1 : ax)
          return plain(x)
        }
        break
      }
      case 'Concat':
        run = (get) => {
          const vs = node.input.map(get)
          const axis = attrs.axis as number
          const rank = vs[0]!.t.rank
          if (rank === 4 && (axis === 1 || axis === -3) && vs.every((v) => v.nhwc))
            return image(
              tf.concat(
                vs.map((v) => v.t),
                3,
              ),
            )
          return plain(tf.concat(vs.map(nchw), axis))
        }
        break
      case 'LayerNormalization': {
        const eps = (attrs.epsilon as number) ?? 1e-5
        run = (get) => {
          const x = nchw(get(a!))
          const ax = (((attrs.axis as number) ?? -1) + x.rank) % x.rank
          const axes = [...Array(x.rank - ax).keys()].map((i) => i + ax)
          const { mean, variance } = tf.moments(x, axes, true)
          let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)))
          y = tf.mul(y, get(b!).t)
          return plain(c ? tf.add(y, get(c).t) : y)
        }
        break
      }
      case 'BatchNormalization': {
        const eps = (attrs.epsilon as number) ?? 1e-5
        const [scale, bias, mean, variance] = node.input.slice(1).map((n) => constant(n)!)
        run = (get) => {
          const v = get(a!)
          if (v.t.rank === 2) return plain(tf.batchNorm(v.t, mean!, variance!, bias!, scale!, eps))
          if (v.t.rank !== 4) throw new UnsupportedOpError(op, `rank ${v.t.rank}`)
          return image(tf.batchNorm(nhwc(v), mean!, variance!, bias!, scale!, eps))
        }
        break
      }
      case 'Conv':
        run = compileConv(tf, own, attrs, constant(b!), c ? constant(c) : undefined, a!, nhwc, image)
        absorbed.add(b!)
        break
      case 'ConvTranspose':
        run = compileConvTranspose(tf, own, attrs, constant(b!), c ? constant(c) : undefined, a!, nhwc, image)
        absorbed.add(b!)
        break
      case 'MaxPool':
      case 'AveragePool':
        run = compilePool(tf, op, attrs, a!, nhwc, image)
        break
      case 'GlobalAveragePool':
        run = (get) => image(tf.mean(nhwc(get(a!)), [1, 2], true))
        break
      case 'GlobalMaxPool':
        run = (get) => image(tf.max(nhwc(get(a!)), [1, 2], true))
        break
      case 'LRN': {
        const size = attrs.size as number
        if (size % 2 !== 1) throw new UnsupportedOpError(op, `even size ${size}`)
        const alpha = ((attrs.alpha as number) ?? 1e-4) / size
        const beta = (attrs.beta as number) ?? 0.75
        const bias = (attrs.bias as number) ?? 1
        run = (get) =>
          image(tf.localResponseNormalization(nhwc(get(a!)) as TF.Tensor4D, (size - 1) / 2, bias, alpha, beta))
        break
      }
      default:
        throw new UnsupportedOpError(op)
    }
    steps.push({ outputs: node.output, run })
  }

  const readers = new Map<string, number>()
  for (const n of g.node ?? []) for (const i of n.input) readers.set(i, (readers.get(i) ?? 0) + 1)
  for (const name of raw.keys()) {
    if (absorbed.has(name) && readers.get(name) === 1 && !(g.output ?? []).some((o) => o.name === name)) {
      consts.get(name)?.dispose()
      consts.delete(name)
    } else constant(name)
  }

  const inputNames = (g.input ?? []).map((i) => i.name!).filter((n) => !raw.has(n))
  const outputNames = (g.output ?? []).map((o) => o.name!)
  return {
    run(inputs) {
      return tf.tidy(() => {
        const env = new Map<string, Value>()
        for (const [n, t] of consts) env.set(n, plain(t))
        inputNames.forEach((n, i) => {
          env.set(n, plain(inputs[i]!))
        })
        const get = (n: string) => env.get(n)!
        for (const s of steps) env.set(s.outputs[0]!, s.run(get))
        return outputNames.map((n) => nchw(get(n)))
      })
    },
    dispose() {
      for (const t of owned) if (!t.isDisposed) t.dispose()
    },
  }
}

/** The (cols, rows) float32 tensor holding the transpose of the row-major (rows, cols) `data`. */
function transposed(tf: typeof TF, data: Float32Array, [rows, cols]: number[]): TF.Tensor {
  const [r, c] = [rows!, cols!]
  const out = new Float32Array(data.length)
  const B = 64 // in square blocks, so that both sides are read and written a cache line at a time
  for (let i0 = 0; i0 < r; i0 += B)
    for (let j0 = 0; j0 < c; j0 += B)
      for (let i = i0; i < Math.min(i0 + B, r); i++)
        for (let j = j0; j < Math.min(j0 + B, c); j++) out[j * r + i] = data[i * c + j]!
  return tf.tensor(out, [c, r], 'float32')
}

function toTf(tf: typeof TF, dims: number[], data: ArrayLike<number | bigint>, dataType: number): TF.Tensor {
  if (dataType === onnx.OnnxDataType.FLOAT || dataType === onnx.OnnxDataType.DOUBLE)
    return tf.tensor(
      data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>),
      dims,
      'float32',
    )
  return tf.tensor(Int32Array.from(data as ArrayLike<number>, Number), dims, 'int32')
}

type ToNhwc = (v: Value) => TF.Tensor
type Get = (name: string) => Value

/** ONNX pads [t, l, b, r] (2-D); auto_pad other than NOTSET is resolved by the exporter. */
function pads2d(attrs: Attrs): [number, number, number, number] {
  if (attrs.auto_pad && attrs.auto_pad !== 'NOTSET') throw new UnsupportedOpError('Conv', `auto_pad ${attrs.auto_pad}`)
  const p = (attrs.pads as number[]) ?? [0, 0, 0, 0]
  return [p[0]!, p[1]!, p[2]!, p[3]!]
}

function compileConv(
  tf: typeof TF,
  own: <T extends TF.Tensor>(t: T) => T,
  attrs: Attrs,
  w: TF.Tensor | undefined,
  bias: TF.Tensor | undefined,
  x: string,
  nhwc: ToNhwc,
  image: (t: TF.Tensor) => Value,
): Step {
  if (w?.rank !== 4) throw new UnsupportedOpError('Conv', 'a non-constant or non-2-D weight')
  const [M, Cg] = w.shape as number[]
  const group = (attrs.group as number) ?? 1
  const [t, l, b, r] = pads2d(attrs)
  const strides = ((attrs.strides as number[]) ?? [1, 1]) as [number, number]
  const dil = ((attrs.dilations as number[]) ?? [1, 1]) as [number, number]
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ]
  // (M, C/g, kh, kw) -> (kh, kw, C/g, M)
  const hwio = own(tf.transpose(w, [2, 3, 1, 0]))
  const depthwise = group > 1 && Cg === 1
  const dwFilter = depthwise ? own(tf.reshape(hwio, [hwio.shape[0]!, hwio.shape[1]!, group, M / group])) : null
  const groupFilters = !depthwise && group > 1 ? tf.split(hwio, group, 3).map(own) : null
  return (get: Get) => {
    const v = nhwc(get(x)) as TF.Tensor4D
    let y: TF.Tensor4D
    if (dwFilter) y = tf.depthwiseConv2d(v, dwFilter as TF.Tensor4D, strides, pad, 'NHWC', dil)
    else if (groupFilters) {
      const xs = tf.split(v, group, 3)
      y = tf.concat(
        xs.map((xi, i) => tf.conv2d(xi as TF.Tensor4D, groupFilters[i] as TF.Tensor4D, strides, pad, 'NHWC', dil)),
        3,
      )
    } else y = tf.conv2d(v, hwio as TF.Tensor4D, strides, pad, 'NHWC', dil)
    return image(bias ? tf.add(y, bias) : y)
  }
}

function compileConvTranspose(
  tf: typeof TF,
  own: <T extends TF.Tensor>(t: T) => T,
  attrs: Attrs,
  w: TF.Tensor | undefined,
  bias: TF.Tensor | undefined,
  x: string,
  nhwc: ToNhwc,
  image: (t: TF.Tensor) => Value,
): Step {
  if (w?.rank !== 4) throw new UnsupportedOpError('ConvTranspose', 'a non-constant or non-2-D weight')
  if (((attrs.group as number) ?? 1) !== 1) throw new UnsupportedOpError('ConvTranspose', 'groups')
  if (((attrs.dilations as number[]) ?? [1, 1]).some((d) => d !== 1))
    throw new UnsupportedOpError('ConvTranspose', 'dilation')
  const [, M, kh, kw] = w.shape as number[]
  const [t, l, b, r] = pads2d(attrs)
  const [sh, sw] = ((attrs.strides as number[]) ?? [1, 1]) as [number, number]
  const [oph, opw] = ((attrs.output_padding as number[]) ?? [0, 0]) as [number, number]
  // ONNX (C, M, kh, kw) -> tfjs (kh, kw, M, C)
  const filter = own(tf.transpose(w, [2, 3, 1, 0]) as TF.Tensor4D)
  return (get: Get) => {
    const v = nhwc(get(x)) as TF.Tensor4D
    const [N, H, W] = v.shape
    // The full ("valid") transposed convolution, then ONNX's pads cropped off and output padding added.
    const fh = (H - 1) * sh + kh
    const fw = (W - 1) * sw + kw
    let y: TF.Tensor4D = tf.conv2dTranspose(v, filter, [N, fh, fw, M!], [sh, sw], 'valid')
    const oh = fh - t - b + oph
    const ow = fw - l - r + opw
    const extraH = Math.max(0, t + oh - fh)
    const extraW = Math.max(0, l + ow - fw)
    if (extraH || extraW)
      y = tf.pad(y, [
        [0, 0],
        [0, extraH],
        [0, extraW],
        [0, 0],
      ])
    y = tf.slice(y, [0, t, l, 0], [N, oh, ow, M!])
    return image(bias ? tf.add(y, bias) : y)
  }
}

/**
 * Max and average pooling with ONNX's explicit pads, ceil mode and count_include_pad: pad the
 * input (with -inf for max), pool 'valid', and for the average divide a sum by the number of
 * counted elements in each window (a pooled mask), which is what count_include_pad means.
 */
function compilePool(
  tf: typeof TF,
  op: string,
  attrs: Attrs,
  x: string,
  nhwc: ToNhwc,
  image: (t: TF.Tensor) => Value,
): Step {
  const [kh, kw] = attrs.kernel_shape as [number, number]
  const [sh, sw] = ((attrs.strides as number[]) ?? [1, 1]) as [number, number]
  if (((attrs.dilations as number[]) ?? [1, 1]).some((d) => d !== 1)) throw new UnsupportedOpError(op, 'dilation')
  const [t, l, b, r] = pads2d(attrs)
  const ceil = attrs.ceil_mode === 1
  const includePad = attrs.count_include_pad === 1
  const outSize = (n: number, k: number, s: number, begin: number, end: number) => {
    const o = (ceil ? Math.ceil : Math.floor)((n + begin + end - k) / s) + 1
    // In ceil mode the last window must start inside the input or its left padding (ONNX, PyTorch).
    return ceil && (o - 1) * s >= n + begin ? o - 1 : o
  }
  return (get: Get) => {
    const v = nhwc(get(x)) as TF.Tensor4D
    const [, H, W] = v.shape
    const oh = outSize(H, kh, sh, t, b)
    const ow = outSize(W, kw, sw, l, r)
    const eb = Math.max(0, (oh - 1) * sh + kh - (H + t + b))
    const er = Math.max(0, (ow - 1) * sw + kw - (W + l + r))
    const paddings: [number, number][] = [
      [0, 0],
      [t, b + eb],
      [l, r + er],
      [0, 0],
    ]
    const trivial = !t && !l && !b && !r && !eb && !er
    if (op === 'MaxPool') {
      const p = trivial ? v : (tf.pad(v, paddings, -Infinity) as TF.Tensor4D)
      return image(tf.maxPool(p, [kh, kw], [sh, sw], 'valid'))
    }
    if (trivial) return image(tf.avgPool(v, [kh, kw], [sh, sw], 'valid'))
    const sum = tf.mul(tf.avgPool(tf.pad(v, paddings) as TF.Tensor4D, [kh, kw], [sh, sw], 'valid'), kh * kw)
    // Counted positions: the input, plus the explicit pads when count_include_pad; never ceil's extra.
    const ones = tf.ones([1, H, W, 1])
    const mask = includePad
      ? tf.pad(tf.ones([1, H + t + b, W + l + r, 1]), [
          [0, 0],
          [0, eb],
          [0, er],
          [0, 0],
        ])
      : tf.pad(ones, [
          [0, 0],
          [t, b + eb],
          [l, r + er],
          [0, 0],
        ])
    const count = tf.mul(tf.avgPool(mask as TF.Tensor4D, [kh, kw], [sh, sw], 'valid'), kh * kw)
    return image(tf.div(sum, count))
  }
}

/**
 * The kernel table: one key per kernel, with its signature. A kernel's key is the name of the op that
 * dispatches it, which is the op's ONNX type where one exists (the keys that are not ONNX ops, and
 * why, are listed in docs/architecture.md). A backend is storage plus this table. The `js` backend
 * (backends/js) holds the readable reference kernel for every key; a faster backend may provide any
 * subset, and a missing kernel falls back to `js`. `KernelTable` is a mapped type over the keys, so a
 * backend with a missing or mistyped reference kernel fails `tsc`.
 *
 * Kernels work on contiguous row-major arrays and write into a preallocated `out`; ops do the shape
 * logic, allocation and dtype rules, so a kernel is only the loop.
 */
import type { TypedArray } from './dtype.js'

export type FloatArray = Float32Array | Float64Array

/** Element-wise ops of one input (attributes such as alpha come in `attrs`). */
export const unaryOpNames = [
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Sqrt',
  'Sin',
  'Cos',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Erf',
  'Sign',
  'Floor',
  'Ceil',
  'Round',
  'Reciprocal',
  'Softplus',
  'Mish',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Gelu',
  'HardSigmoid',
  'Not',
  'IsNaN',
  'IsInf',
] as const
export type UnaryOpName = (typeof unaryOpNames)[number]

/** Element-wise ops of two broadcast inputs. */
export const binaryOpNames = [
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Mod',
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
] as const
export type BinaryOpName = (typeof binaryOpNames)[number]

export const reduceOpNames = ['ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd'] as const
export type ReduceOpName = (typeof reduceOpNames)[number]

export type UnaryKernel = (
  x: TypedArray,
  out: TypedArray,
  attrs: { alpha?: number; beta?: number; gamma?: number; approximate?: string },
) => void
/** `aStrides`/`bStrides` are broadcast strides over `outShape` (0 along a broadcast dim). */
export type BinaryKernel = (
  a: TypedArray,
  aStrides: number[],
  b: TypedArray,
  bStrides: number[],
  out: TypedArray,
  outShape: readonly number[],
) => void
/** Reduce `x` (of `shape`) over sorted `axes` into `out` (the shape with those axes set to 1). */
export type ReduceKernel = (x: TypedArray, shape: number[], axes: number[], out: TypedArray) => void

/**
 * A 2-D convolution (NCHW), described as the forward convolution: input (batch, inC, inH, inW),
 * weight (outC, inC / groups, kH, kW), output (batch, outC, outH, outW). Output position (oh, ow)
 * reads input rows oh * strideH - padTop + i * dilationH (and likewise columns); positions outside
 * the input read zero. The bottom/right padding is implied by outH/outW. A transposed convolution
 * is the adjoint of the convolution with this geometry (its input is the conv's output).
 */
export interface Conv2dGeometry {
  batch: number
  inC: number
  inH: number
  inW: number
  outC: number
  outH: number
  outW: number
  kH: number
  kW: number
  strideH: number
  strideW: number
  padTop: number
  padLeft: number
  dilationH: number
  dilationW: number
  groups: number
}

/**
 * A 2-D pooling window over `planes` = batch * channels planes of inH x inW: output (oh, ow) covers
 * rows oh * strideH - padTop + i * dilationH for i < kH (likewise columns), clipped to the input.
 * padBottom/padRight only matter for average pooling's count_include_pad divisor.
 */
export interface Pool2dGeometry {
  planes: number
  inH: number
  inW: number
  outH: number
  outW: number
  kH: number
  kW: number
  strideH: number
  strideW: number
  padTop: number
  padLeft: number
  padBottom: number
  padRight: number
  dilationH: number
  dilationW: number
}

/**
 * Convolution and pooling kernels (backends/js/conv.ts), 2-D, keyed by their op's ONNX type; a
 * backward-only kernel is keyed by the op's type and Grad. Outputs need not be zeroed by the caller.
 */
export interface ConvKernels {
  /** y = conv(x, w) (+ bias per output channel). */
  Conv: (x: FloatArray, w: FloatArray, bias: FloatArray | null, y: FloatArray, g: Conv2dGeometry) => void
  /** dx = conv^T(dy, w) (+ bias per input channel): ConvTranspose, which is the data gradient of Conv. */
  ConvTranspose: (dy: FloatArray, w: FloatArray, bias: FloatArray | null, dx: FloatArray, g: Conv2dGeometry) => void
  /** dw = the weight gradient of Conv for input x and output gradient dy, summed over the batch. */
  ConvWeightGrad: (x: FloatArray, dy: FloatArray, dw: FloatArray, g: Conv2dGeometry) => void
  /** Max over each window; `indices` (when given) gets the argmax as h * inW + w within its plane (-1 for a window wholly in the padding). */
  MaxPool: (x: FloatArray, y: FloatArray, indices: Int32Array | null, g: Pool2dGeometry) => void
  /** dx = dy routed to the argmax positions `indices` (as written by MaxPool). */
  MaxPoolGrad: (dy: FloatArray, indices: Int32Array, dx: FloatArray, g: Pool2dGeometry) => void
  /** Mean over each window (PyTorch's divisor rule; see backends/js/conv.ts). */
  AveragePool: (x: FloatArray, y: FloatArray, g: Pool2dGeometry, countIncludePad: boolean) => void
  /** dx = dy spread evenly over each window (the adjoint of AveragePool). */
  AveragePoolGrad: (dy: FloatArray, dx: FloatArray, g: Pool2dGeometry, countIncludePad: boolean) => void
}

/**
 * One recurrent layer in one direction over a sequence (the time loop of ONNX RNN / GRU / LSTM, PyTorch's gate
 * orders): mode 0 tanh RNN, 1 ReLU RNN, 2 GRU (linear_before_reset, as PyTorch), 3 LSTM.
 */
export interface RecurrentScanArgs {
  mode: 0 | 1 | 2 | 3
  T: number
  B: number
  H: number
  reverse: boolean
  /** (T, B, G*H) input projections x W_ih^T + b_ih, G = 1, 3 or 4 gate blocks; null when `input` is given. */
  xp: FloatArray | null
  /**
   * The layer's input instead of its projections: x (T, B, I), W_ih (G*H, I) row-major and b_ih (G*H) or null;
   * the kernel computes xp = x W_ih^T + b_ih itself (as MatMulTransB would) before the time loop, so that xp
   * never leaves the backend (inference: nothing saved for a backward pass).
   */
  input?: { x: FloatArray; w: FloatArray; bias: FloatArray | null; I: number } | null
  /** (G*H, H) recurrent weight W_hh, row-major. */
  w: FloatArray
  /** (G*H) recurrent bias b_hh, or null. */
  bias: FloatArray | null
  /** (T, B) step weights: 1 runs the step, 0 carries the state through (padding); null: all 1. */
  mask: FloatArray | null
  /** (B, H) initial state, overwritten with the final one; c only for LSTM. */
  h: FloatArray
  c: FloatArray | null
  /** (T, B, H) outputs h_t * mask. */
  y: FloatArray
  /** What backpropagation through time needs, filled when given (each (T, B, H) but hh (T, B, G*H)):
   *  the state before each step, the recurrent products h_{t-1} W_hh^T + b_hh, and the new h (c for LSTM). */
  saved: {
    hPrev: FloatArray
    cPrev: FloatArray | null
    hh: FloatArray
    hNew: FloatArray
    cNew: FloatArray | null
  } | null
}

export interface OtherKernels {
  /** The time loop of a recurrent layer (see RecurrentScanArgs). */
  RecurrentScan: (args: RecurrentScanArgs) => void
  /**
   * Softmax along one axis of x viewed as (outer, n, inner): out = e^(x - max) / sum e^(x - max) over the n
   * elements of each (outer, inner) line (the max subtracted so that no exponential overflows).
   */
  Softmax: (x: FloatArray, outer: number, n: number, inner: number, out: FloatArray) => void
  /** Log-softmax likewise: out = (x - max) - ln sum e^(x - max). */
  LogSoftmax: (x: FloatArray, outer: number, n: number, inner: number, out: FloatArray) => void
  /**
   * Layer normalisation of `rows` contiguous rows of n: y = (x - mean) / sqrt(var + eps) * w + b, with the
   * biased variance of the row; w and b (n each) may be null (no scale, no shift).
   */
  LayerNormalization: (
    x: FloatArray,
    rows: number,
    n: number,
    w: FloatArray | null,
    b: FloatArray | null,
    eps: number,
    y: FloatArray,
  ) => void
  /**
   * Batch norm with running statistics, one affine map per channel: y[o, c, i] = x[o, c, i] * scale[c] + shift[c]
   * over x viewed as (outer, channels, inner), the product rounded to y's type before the sum (as a Mul then an
   * Add would round it).
   */
  ChannelAffine: (
    x: FloatArray,
    scale: FloatArray,
    shift: FloatArray,
    outer: number,
    channels: number,
    inner: number,
    y: FloatArray,
  ) => void
  /** dx = dy * (Phi(x) + x phi(x)), elementwise over dense operands of one length: exact GELU's backward in one pass. */
  GeluGrad: (dy: FloatArray, x: FloatArray, dx: FloatArray) => void
  /** dx = dy * (x > 0 ? 1 : 0), elementwise over dense operands of one length: ReLU's backward in one pass. */
  ReluGrad: (dy: FloatArray, x: FloatArray, dx: FloatArray) => void
  /** Copy a strided view (shape, strides, offset into src) into contiguous `out`: the one kernel behind
   *  contiguous(), transpose, expand and slice materialisation. */
  StridedCopy: (src: TypedArray, offset: number, shape: number[], strides: number[], out: TypedArray) => void
  /** The adjoint of StridedCopy: write contiguous `src` into the strided view (shape, strides, offset) of `dst`. */
  StridedScatter: (src: TypedArray, dst: TypedArray, offset: number, shape: number[], strides: number[]) => void
  /** out[b] = a[b] (m x k) @ b[b] (k x n); aStride/bStride are the per-batch element offsets (0 = shared). */
  MatMul: (
    a: FloatArray,
    b: FloatArray,
    out: FloatArray,
    m: number,
    k: number,
    n: number,
    batch: number,
    aStride: number,
    bStride: number,
  ) => void
  /** out[b] = at[b]^T @ b[b], where at[b] is (k x m) row-major: x^T dy of a weight gradient without
   *  materialising the transposed activations; the strides as MatMul's. */
  MatMulTransA: (
    at: FloatArray,
    b: FloatArray,
    out: FloatArray,
    m: number,
    k: number,
    n: number,
    batch: number,
    aStride: number,
    bStride: number,
  ) => void
  /** out[b] = a[b] (m x k) @ bt^T, where bt is (n x k) row-major and shared by every batch: a @ W^T
   *  of a Linear layer without materialising the transposed weight; `bias` (n), when given, is added to every row. */
  MatMulTransB: (
    a: FloatArray,
    bt: FloatArray,
    out: FloatArray,
    m: number,
    k: number,
    n: number,
    batch: number,
    aStride: number,
    bias?: FloatArray | null,
  ) => void
  /** Index of the max (or min) along `axis`; ties keep the first (or last with selectLast). */
  ArgMax: (x: TypedArray, shape: number[], axis: number, out: Int32Array, selectLast: boolean) => void
  ArgMin: (x: TypedArray, shape: number[], axis: number, out: Int32Array, selectLast: boolean) => void
  /** out = cond ? a : b, all three broadcast to outShape by their strides. */
  Where: (
    cond: Uint8Array,
    cStrides: number[],
    a: TypedArray,
    aStrides: number[],
    b: TypedArray,
    bStrides: number[],
    out: TypedArray,
    outShape: readonly number[],
  ) => void
  /** Gather along `axis`: out[..., i, ...] = x[..., indices[i], ...] (indices flattened, already non-negative). */
  Gather: (x: TypedArray, shape: number[], axis: number, indices: Int32Array, out: TypedArray) => void
  /** The adjoint of Gather: out (zeros, of `shape`) += updates scattered along `axis` at indices. */
  ScatterAdd: (updates: TypedArray, shape: number[], axis: number, indices: Int32Array, out: TypedArray) => void
  /** GatherElements: out[idx] = x[idx with idx[axis] replaced by indices[idx]]. */
  GatherElements: (
    x: TypedArray,
    shape: number[],
    axis: number,
    indices: Int32Array,
    idxShape: number[],
    out: TypedArray,
  ) => void
  /** The adjoint of GatherElements: out (zeros, of `shape`) += updates at the gathered positions. */
  ScatterElementsAdd: (
    updates: TypedArray,
    shape: number[],
    axis: number,
    indices: Int32Array,
    idxShape: number[],
    out: TypedArray,
  ) => void
  /** Pad by `pads` = [begin_0..begin_{r-1}, end_0..end_{r-1}] (ONNX order; negative pads crop). */
  Pad: (
    x: TypedArray,
    shape: number[],
    pads: number[],
    mode: 'constant' | 'reflect' | 'edge' | 'wrap',
    value: number,
    out: TypedArray,
  ) => void
  /** Concatenate contiguous parts along `axis`. */
  Concat: (parts: TypedArray[], shapes: number[][], axis: number, out: TypedArray) => void
  /** Cumulative sum along `axis` (exclusive / reverse as in ONNX CumSum). */
  CumSum: (x: TypedArray, shape: number[], axis: number, exclusive: boolean, reverse: boolean, out: TypedArray) => void
}

export type KernelTable = { [K in UnaryOpName]: UnaryKernel } & { [K in BinaryOpName]: BinaryKernel } & {
  [K in ReduceOpName]: ReduceKernel
} & OtherKernels &
  ConvKernels

/** A backend: a name and the kernels it implements (the rest fall back to js). */
export interface Backend {
  name: string
  kernels: Partial<KernelTable>
  /**
   * Hold `arrays` in the backend's own memory until the returned function is called, so kernels read them
   * there instead of copying them per call (a backend whose kernels read JS memory has no such method).
   */
  pin?(arrays: readonly Float32Array[]): () => void
}

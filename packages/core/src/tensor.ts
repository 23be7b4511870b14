/**
 * Tensor: a strided view over a typed array, plus what autograd needs (requiresGrad, grad, node).
 * Reshape of a contiguous tensor, transpose, expand and basic slicing are views (no copy); kernels
 * receive `.data`, which is contiguous (copied through the StridedCopy kernel only when needed).
 */
import { type BackwardOptions, type GradNode, backward } from './autograd.js'
import { kernel } from './backend.js'
import { type ArrayFor, type DType, type TypedArray, allocate, dtypeOf, toTypedArray } from './dtype.js'
import { ArgumentError, ShapeError } from './errors.js'
import * as ops from './ops/index.js'
import { type Shape, fmt, sizeOf, stridesOf } from './shape.js'

export type NestedArray = number | boolean | NestedArray[]

const frozen = (a: Shape): readonly number[] => (Object.isFrozen(a) ? a : Object.freeze(a.slice()))

export class Tensor {
  readonly shape: readonly number[]
  readonly dtype: DType
  /** Backing storage, shared between views. */
  readonly storage: TypedArray
  #strides: readonly number[] | undefined
  readonly offset: number
  requiresGrad = false
  /** Accumulated gradient (leaves, and tensors that called retainGrad()). */
  grad: Tensor | null = null
  /** The op that produced this tensor, when it depends on something that requires grad. */
  node: GradNode | null = null
  retainsGrad = false

  /** Number of elements. */
  readonly size: number
  /** Whether the view walks its storage densely in row-major order (from `offset`). */
  readonly isContiguous: boolean

  constructor(storage: TypedArray, shape: Shape, strides?: Shape, offset = 0) {
    this.storage = storage
    // Shapes and strides are frozen copies; an already-frozen array is shared instead of copied again.
    // NOTE: Object.freeze costs ~100 ns an array in V8, more than the rest of a small op, so an op's output
    // reuses its input's frozen shape where they match, and dense strides are made only when asked for
    // (docs/performance.md, "Small tensors and per-op overhead").
    this.shape = frozen(shape)
    this.dtype = dtypeOf(storage)
    this.size = sizeOf(shape)
    let contiguous = true
    if (strides) {
      // Dense strides stay implicit (made by the getter when asked for): a reshaped or squeezed view then
      // freezes no strides array of its own.
      let dense = true
      for (let i = shape.length - 1, s = 1; i >= 0; s *= shape[i]!, i--) {
        if (strides[i] === s) continue
        dense = false
        contiguous &&= shape[i] === 1
      }
      if (!dense) this.#strides = frozen(strides)
    }
    this.isContiguous = contiguous
    this.offset = offset
    if (!strides && this.size !== storage.length)
      throw new ShapeError(`data has ${storage.length} elements but shape ${fmt(shape)} needs ${this.size}`)
  }

  /** Elements to step in storage per index of each dim (row-major for a tensor made without strides). */
  get strides(): readonly number[] {
    if (this.#strides === undefined) this.#strides = Object.freeze(stridesOf(this.shape))
    return this.#strides
  }

  get rank(): number {
    return this.shape.length
  }

  /** Contiguous row-major values (the storage itself when already dense: do not mutate). */
  get data(): TypedArray {
    if (this.isContiguous && (this.offset !== 0 || this.storage.length !== this.size))
      return this.storage.subarray(this.offset, this.offset + this.size)
    if (this.isContiguous) return this.storage
    const out = allocate(this.dtype, this.size)
    kernel('StridedCopy')(this.storage, this.offset, [...this.shape], [...this.strides], out)
    return out
  }

  /** A dense copy (or this tensor if it is already dense and starts at 0). */
  contiguous(): Tensor {
    return this.isContiguous && this.offset === 0 && this.storage.length === this.size ? this : ops.contiguous(this)
  }

  setNode(node: GradNode): void {
    this.node = node
    this.requiresGrad = true
  }

  // ---- conversion ---------------------------------------------------------------------------
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a tensor with one element, got shape ${fmt(this.shape)}`)
    return this.storage[this.offset]!
  }

  toArray(): NestedArray {
    const d = this.data
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.rank) return this.dtype === 'bool' ? d[off] === 1 : d[off]!
      const step = sizeOf(this.shape.slice(dim + 1))
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, off + i * step))
    }
    return build(0, 0)
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`
  }

  // ---- autograd -----------------------------------------------------------------------------
  backward(grad?: Tensor, opts?: BackwardOptions): void {
    backward(this, grad, opts)
  }

  /** The same values, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset)
  }

  requireGrad(on = true): this {
    if (on && this.dtype !== 'float32' && this.dtype !== 'float64')
      throw new ArgumentError(`only float tensors can require grad, got ${this.dtype}`)
    this.requiresGrad = on
    return this
  }

  retainGrad(): this {
    this.retainsGrad = true
    return this
  }

  zeroGrad(): void {
    this.grad = null
  }

  // ---- creation helpers bound to this tensor's shape/dtype ---------------------------------
  zerosLike(): Tensor {
    return new Tensor(allocate(this.dtype, this.size), this.shape)
  }

  onesLike(): Tensor {
    return new Tensor(allocate(this.dtype, this.size).fill(1), this.shape)
  }

  clone(): Tensor {
    return ops.contiguousCopy(this)
  }

  to(dtype: DType): Tensor {
    return ops.cast(this, dtype)
  }

  float(): Tensor {
    return this.to('float32')
  }

  double(): Tensor {
    return this.to('float64')
  }

  // ---- element-wise -------------------------------------------------------------------------
  add(o: Tensor | number): Tensor {
    return ops.add(this, o)
  }
  sub(o: Tensor | number): Tensor {
    return ops.sub(this, o)
  }
  mul(o: Tensor | number): Tensor {
    return ops.mul(this, o)
  }
  div(o: Tensor | number): Tensor {
    return ops.div(this, o)
  }
  pow(o: Tensor | number): Tensor {
    return ops.pow(this, o)
  }
  maximum(o: Tensor | number): Tensor {
    return ops.maximum(this, o)
  }
  minimum(o: Tensor | number): Tensor {
    return ops.minimum(this, o)
  }
  neg(): Tensor {
    return ops.neg(this)
  }
  abs(): Tensor {
    return ops.abs(this)
  }
  exp(): Tensor {
    return ops.exp(this)
  }
  log(): Tensor {
    return ops.log(this)
  }
  sqrt(): Tensor {
    return ops.sqrt(this)
  }
  square(): Tensor {
    return ops.mul(this, this)
  }
  tanh(): Tensor {
    return ops.tanh(this)
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this)
  }
  relu(): Tensor {
    return ops.relu(this)
  }
  clamp(min?: number, max?: number): Tensor {
    return ops.clamp(this, min, max)
  }
  eq(o: Tensor | number): Tensor {
    return ops.equal(this, o)
  }
  lt(o: Tensor | number): Tensor {
    return ops.less(this, o)
  }
  gt(o: Tensor | number): Tensor {
    return ops.greater(this, o)
  }
  le(o: Tensor | number): Tensor {
    return ops.lessEqual(this, o)
  }
  ge(o: Tensor | number): Tensor {
    return ops.greaterEqual(this, o)
  }
  matmul(o: Tensor): Tensor {
    return ops.matmul(this, o)
  }

  // ---- reductions ---------------------------------------------------------------------------
  sum(axes?: number | number[], keepdims = false): Tensor {
    return ops.sum(this, axes, keepdims)
  }
  mean(axes?: number | number[], keepdims = false): Tensor {
    return ops.mean(this, axes, keepdims)
  }
  max(axes?: number | number[], keepdims = false): Tensor {
    return ops.max(this, axes, keepdims)
  }
  min(axes?: number | number[], keepdims = false): Tensor {
    return ops.min(this, axes, keepdims)
  }
  argmax(axis = -1, keepdims = false): Tensor {
    return ops.argmax(this, axis, keepdims)
  }
  argmin(axis = -1, keepdims = false): Tensor {
    return ops.argmin(this, axis, keepdims)
  }
  variance(axes?: number | number[], keepdims = false, correction = 0): Tensor {
    return ops.variance(this, axes, keepdims, correction)
  }

  // ---- shape --------------------------------------------------------------------------------
  reshape(...shape: number[] | [number[]]): Tensor {
    return ops.reshape(this, Array.isArray(shape[0]) ? shape[0] : (shape as number[]))
  }
  view(...shape: number[] | [number[]]): Tensor {
    return this.reshape(...shape)
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim)
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return ops.transpose(this, dim0, dim1)
  }
  permute(...perm: number[]): Tensor {
    return ops.permute(this, perm)
  }
  get T(): Tensor {
    return ops.permute(this, [...this.shape.keys()].reverse())
  }
  squeeze(axes?: number | number[]): Tensor {
    return ops.squeeze(this, axes)
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis)
  }
  expand(...shape: number[]): Tensor {
    return ops.expand(this, shape)
  }
  slice(axis: number, start: number, end?: number, step = 1): Tensor {
    return ops.slice(this, axis, start, end, step)
  }
  gather(axis: number, indices: Tensor): Tensor {
    return ops.gather(this, axis, indices)
  }
}

/** Build a tensor from nested arrays or a typed array. Default dtype float32 (int32 for Int32Array). */
export function tensor(
  values: NestedArray | TypedArray,
  opts: { dtype?: DType; shape?: Shape; requiresGrad?: boolean } = {},
): Tensor {
  let flat: ArrayLike<number | boolean>
  let shape: number[]
  if (ArrayBuffer.isView(values)) {
    flat = values
    shape = opts.shape ? [...opts.shape] : [values.length]
  } else {
    shape = []
    let probe: NestedArray = values
    while (Array.isArray(probe)) {
      shape.push(probe.length)
      probe = probe[0] as NestedArray
    }
    flat = (Array.isArray(values) ? (values as unknown[]).flat(Infinity) : [values]) as (number | boolean)[]
    if (flat.length !== sizeOf(shape))
      throw new ShapeError(
        `ragged nested array: shape ${fmt(shape)} needs ${sizeOf(shape)} elements, got ${flat.length}`,
      )
    if (opts.shape) shape = [...opts.shape]
  }
  const inferred: DType = ArrayBuffer.isView(values)
    ? dtypeOf(values as TypedArray)
    : typeof probeFirst(values) === 'boolean'
      ? 'bool'
      : 'float32'
  const dtype = opts.dtype ?? inferred
  const data =
    ArrayBuffer.isView(values) && dtypeOf(values as TypedArray) === dtype
      ? (values as TypedArray)
      : toTypedArray(dtype, flat)
  const t = new Tensor(data, shape)
  if (opts.requiresGrad) t.requireGrad()
  return t
}

function probeFirst(v: NestedArray | TypedArray): unknown {
  let p: unknown = v
  while (Array.isArray(p)) p = p[0]
  return p
}

export function fromArray<D extends DType>(data: ArrayFor[D], shape: Shape): Tensor {
  return new Tensor(data, shape)
}

export const scalar = (v: number, dtype: DType = 'float32'): Tensor => new Tensor(toTypedArray(dtype, [v]), [])

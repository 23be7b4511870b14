/**
 * Tensor (src/tensor.ts): a strided view over a typed array. Transpose, permute, slice, expand and
 * the reshape of a dense tensor are views (same storage, new shape, strides and offset); `.data` and
 * `contiguous()` copy only when the view is not dense. Also: construction and dtype inference, dtype
 * preservation through views, item/toArray, and the typed errors for shapes that do not fit.
 */
import { describe, expect, it } from 'vitest'
import { ArgumentError, ShapeError, Tensor, arange, fromArray, scalar, tensor } from '../src/index.js'

/** [[1, 2, 3], [4, 5, 6]] in float32. */
const m23 = () =>
  tensor([
    [1, 2, 3],
    [4, 5, 6],
  ])

/** 0..23 as a (2, 3, 4) float32 tensor. */
const t234 = () =>
  fromArray(
    Float32Array.from({ length: 24 }, (_, i) => i),
    [2, 3, 4],
  )

/** Shape, strides, offset and contiguity at once, for readable expectations. */
const layout = (t: Tensor) => ({ shape: t.shape, strides: t.strides, offset: t.offset, contiguous: t.isContiguous })

describe('construction', () => {
  it('a dense tensor: row-major strides, offset 0, size and rank', () => {
    const t = m23()
    expect(layout(t)).toEqual({ shape: [2, 3], strides: [3, 1], offset: 0, contiguous: true })
    expect(t.size).toBe(6)
    expect(t.rank).toBe(2)
    expect(t.storage).toBeInstanceOf(Float32Array)
    expect(t.data).toBe(t.storage) // dense from 0: .data is the storage itself
    const s = scalar(2.5)
    expect([s.shape, s.strides, s.size, s.rank]).toEqual([[], [], 1, 0])
    expect(new Tensor(new Float32Array(0), [2, 0, 3]).size).toBe(0)
  })

  it('infers the dtype from the values and keeps a typed array of that dtype without copying', () => {
    expect(tensor([1.5, 2]).dtype).toBe('float32')
    expect(tensor([true, false]).dtype).toBe('bool')
    const i32 = new Int32Array([1, 2, 3, 4])
    const t = tensor(i32, { shape: [2, 2] })
    expect(t.dtype).toBe('int32')
    expect(t.storage).toBe(i32)
    expect(t.shape).toEqual([2, 2])
    expect(tensor(new Float64Array([1])).dtype).toBe('float64')
    // An explicit dtype converts.
    const d = tensor([1, 2], { dtype: 'float64' })
    expect(d.storage).toBeInstanceOf(Float64Array)
    expect(tensor(i32, { dtype: 'float32' }).storage).toBeInstanceOf(Float32Array)
  })

  it('the shape is frozen and copied from the caller', () => {
    const shape = [2, 3]
    const t = new Tensor(new Float32Array(6), shape)
    shape[0] = 7
    expect(t.shape).toEqual([2, 3])
    expect(Object.isFrozen(t.shape)).toBe(true)
    expect(Object.isFrozen(t.strides)).toBe(true)
  })

  it('strides given to the constructor: dense ones (a view at an offset) and others read back frozen and equal', () => {
    const storage = new Float32Array(20)
    const given = [4, 1]
    const dense = new Tensor(storage, [3, 4], given, 5)
    given[0] = 9 // the caller's array is not kept
    expect(dense.strides).toEqual([4, 1])
    expect(Object.isFrozen(dense.strides)).toBe(true)
    expect(dense.isContiguous).toBe(true)
    // A size-1 dim with any stride is still contiguous; its stride is kept as given.
    const unit = new Tensor(storage, [1, 4], [7, 1])
    expect(unit.strides).toEqual([7, 1])
    expect(unit.isContiguous).toBe(true)
    const transposed = new Tensor(storage, [4, 3], [1, 4])
    expect(transposed.strides).toEqual([1, 4])
    expect(Object.isFrozen(transposed.strides)).toBe(true)
    expect(transposed.isContiguous).toBe(false)
  })

  it('raises ShapeError for data that does not fill the shape, and for ragged nested arrays', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(ShapeError)
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(/data has 5 elements but shape \[2, 3\] needs 6/)
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError)
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array: shape \[2, 2\] needs 4 elements, got 3/)
    expect(() => tensor(new Float32Array(6), { shape: [4] })).toThrow(ShapeError)
  })
})

describe('views share storage', () => {
  it('transpose swaps shape and strides; writes to the storage show through', () => {
    const t = m23()
    const v = t.transpose(0, 1)
    expect(layout(v)).toEqual({ shape: [3, 2], strides: [1, 3], offset: 0, contiguous: false })
    expect(v.storage).toBe(t.storage)
    expect(v.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ])
    t.storage[1] = 42
    expect(v.toArray()).toEqual([
      [1, 4],
      [42, 5],
      [3, 6],
    ])
    // .T reverses every dim; transposing twice is dense again.
    expect(layout(t.T)).toEqual(layout(v))
    expect(v.transpose(0, 1).isContiguous).toBe(true)
  })

  it('permute reorders shape and strides; the identity permutation is the tensor itself', () => {
    const t = t234()
    const p = t.permute(2, 0, 1)
    expect(layout(p)).toEqual({ shape: [4, 2, 3], strides: [1, 12, 4], offset: 0, contiguous: false })
    expect(p.storage).toBe(t.storage)
    // p[k, i, j] = t[i, j, k] = 12 i + 4 j + k
    expect((p.toArray() as number[][][])[3]![1]![2]).toBe(12 + 8 + 3)
    expect(t.permute(0, 1, 2)).toBe(t)
    expect(t.permute(-3, -2, -1)).toBe(t)
  })

  it('slice moves the offset and scales the stride by the step', () => {
    const t = m23()
    const cols = t.slice(1, 1, 3) // t[:, 1:3]
    expect(layout(cols)).toEqual({ shape: [2, 2], strides: [3, 1], offset: 1, contiguous: false })
    expect(cols.storage).toBe(t.storage)
    expect(cols.toArray()).toEqual([
      [2, 3],
      [5, 6],
    ])
    const even = t.slice(1, 0, undefined, 2) // t[:, ::2]
    expect(layout(even)).toEqual({ shape: [2, 2], strides: [3, 2], offset: 0, contiguous: false })
    expect(even.toArray()).toEqual([
      [1, 3],
      [4, 6],
    ])
    const reversed = t.slice(1, -1, undefined, -1) // t[:, ::-1]
    expect(layout(reversed)).toEqual({ shape: [2, 3], strides: [3, -1], offset: 2, contiguous: false })
    expect(reversed.toArray()).toEqual([
      [3, 2, 1],
      [6, 5, 4],
    ])
    const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true })
    x.slice(0, -1, undefined, -1)
      .mul(tensor([10, 20, 30], { dtype: 'float64' }))
      .sum()
      .backward()
    expect(x.grad!.toArray()).toEqual([30, 20, 10]) // the gradient goes back through the same reversed view
    // Out-of-range bounds are clamped (as in ONNX Slice and NumPy); an empty slice has size 0.
    expect(t.slice(0, 1, 99).shape).toEqual([1, 3])
    expect(t.slice(1, 2, 1).shape).toEqual([2, 0])
    expect(() => t.slice(0, 0, 2, 0)).toThrow(ArgumentError)
  })

  it('a slice of whole rows is dense from an offset: .data is a window on the storage, contiguous() copies', () => {
    const t = m23()
    const row = t.slice(0, 1, 2) // t[1:2]
    expect(layout(row)).toEqual({ shape: [1, 3], strides: [3, 1], offset: 3, contiguous: true })
    const data = row.data
    expect([...data]).toEqual([4, 5, 6])
    expect(data.buffer).toBe(t.storage.buffer) // a subarray, not a copy
    const c = row.contiguous()
    expect(c).not.toBe(row)
    expect(c.storage).not.toBe(t.storage)
    expect(layout(c)).toEqual({ shape: [1, 3], strides: [3, 1], offset: 0, contiguous: true })
    expect(c.storage.length).toBe(3)
    expect(c.toArray()).toEqual([[4, 5, 6]])
  })

  it('expand repeats with stride 0 (new leading dims too), without copying', () => {
    const col = tensor([[1], [2]])
    const e = col.expand(2, 3)
    expect(layout(e)).toEqual({ shape: [2, 3], strides: [1, 0], offset: 0, contiguous: false })
    expect(e.storage).toBe(col.storage)
    expect(e.toArray()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ])
    const row = tensor([1, 2, 3]).expand(2, -1)
    expect(layout(row)).toEqual({ shape: [2, 3], strides: [0, 1], offset: 0, contiguous: false })
    expect(row.data).toEqual(new Float32Array([1, 2, 3, 1, 2, 3]))
    expect(col.expand(2, 1)).toBe(col) // same shape: no op
    expect(() => tensor([1, 2]).expand(3)).toThrow(ShapeError)
    expect(() => tensor([1, 2]).expand(3)).toThrow(/cannot expand \[2\] to \[3\]/)
    expect(() => col.expand(3)).toThrow(ShapeError) // fewer dims than the tensor
  })

  it('reshape of a dense tensor is a view; of a strided one, a dense copy', () => {
    const t = t234()
    const r = t.reshape(6, 4)
    expect(layout(r)).toEqual({ shape: [6, 4], strides: [4, 1], offset: 0, contiguous: true })
    expect(r.storage).toBe(t.storage)
    expect(t.reshape([4, -1]).shape).toEqual([4, 6])
    expect(t.view(-1).shape).toEqual([24])
    expect(t.reshape(2, 3, 4)).toBe(t) // same shape: the tensor itself
    // A dense slice keeps its offset.
    const rows = t.slice(0, 1, 2).reshape(12)
    expect([rows.offset, rows.storage === t.storage]).toEqual([12, true])
    expect(rows.toArray()).toEqual(Array.from({ length: 12 }, (_, i) => 12 + i))

    const tr = m23().transpose(0, 1)
    const flat = tr.reshape(6)
    expect(flat.storage).not.toBe(tr.storage)
    expect(layout(flat)).toEqual({ shape: [6], strides: [1], offset: 0, contiguous: true })
    expect(flat.toArray()).toEqual([1, 4, 2, 5, 3, 6])
  })

  it('squeeze, unsqueeze and flatten are reshapes: views of a dense tensor', () => {
    const t = t234()
    const u = t.unsqueeze(1)
    expect(u.shape).toEqual([2, 1, 3, 4])
    expect(u.storage).toBe(t.storage)
    expect(u.squeeze(1).shape).toEqual([2, 3, 4])
    expect(t.flatten(1).shape).toEqual([2, 12])
    expect(t.flatten().storage).toBe(t.storage)
    expect(() => t.squeeze(0)).toThrow(/squeeze: dim 0 of \[2, 3, 4\] is not 1/)
  })

  it('a dim of size 1 does not break contiguity, whatever its stride', () => {
    const t = new Tensor(new Float32Array(3), [1, 3], [99, 1])
    expect(t.isContiguous).toBe(true)
    expect(new Tensor(new Float32Array(6), [3, 2], [1, 3]).isContiguous).toBe(false)
  })
})

describe('contiguous() and .data copy only when needed', () => {
  it('a dense tensor from offset 0 is returned as is', () => {
    const t = m23()
    expect(t.contiguous()).toBe(t)
    expect(t.data).toBe(t.storage)
  })

  it('a strided view is copied into row-major order, once per call', () => {
    const v = t234().permute(1, 2, 0)
    const c = v.contiguous()
    expect(c).not.toBe(v)
    expect(c.storage).not.toBe(v.storage)
    expect(layout(c)).toEqual({ shape: [3, 4, 2], strides: [8, 2, 1], offset: 0, contiguous: true })
    expect(c.toArray()).toEqual(v.toArray())
    expect(c.contiguous()).toBe(c)
    expect(v.data).not.toBe(v.storage)
    expect([...v.data]).toEqual([...c.data])
  })

  it('clone() always copies', () => {
    const t = m23()
    const c = t.clone()
    expect(c.storage).not.toBe(t.storage)
    expect(c.toArray()).toEqual(t.toArray())
    c.storage[0] = -1
    expect(t.storage[0]).toBe(1)
  })
})

describe('dtype', () => {
  it('views and copies keep the dtype', () => {
    const i = tensor(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] })
    for (const v of [i.transpose(0, 1), i.slice(1, 1), i.reshape(3, 2), i.unsqueeze(0).expand(2, 2, 3), i.clone()]) {
      expect(v.dtype).toBe('int32')
      expect(v.storage).toBeInstanceOf(Int32Array)
    }
    expect(i.transpose(0, 1).contiguous().storage).toBeInstanceOf(Int32Array)
    const d = tensor([1, 2], { dtype: 'float64' })
    expect(d.zerosLike().dtype).toBe('float64')
    expect(d.onesLike().toArray()).toEqual([1, 1])
    expect(tensor([true, false]).transpose(0, 0).dtype).toBe('bool')
  })

  it('to() converts, and is the tensor itself for the same dtype', () => {
    const t = tensor([1.5, -2.5])
    expect(t.to('float32')).toBe(t)
    const d = t.double()
    expect(d.dtype).toBe('float64')
    expect(d.toArray()).toEqual([1.5, -2.5])
    expect(d.float().storage).toBeInstanceOf(Float32Array)
    expect(tensor([0.5, 2]).to('bool').toArray()).toEqual([true, true])
  })
})

describe('item and toArray', () => {
  it('item() reads the one element, at the view’s offset', () => {
    expect(scalar(2.5).item()).toBe(2.5)
    expect(tensor([[7]]).item()).toBe(7)
    expect(tensor([1, 2, 3]).slice(0, 2).item()).toBe(3)
    expect(() => tensor([1, 2]).item()).toThrow(ShapeError)
    expect(() => tensor([1, 2]).item()).toThrow(/item\(\) needs a tensor with one element, got shape \[2\]/)
  })

  it('toArray() nests by shape, gives booleans for bool, and a number for a scalar', () => {
    expect(m23().toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ])
    expect(scalar(3).toArray()).toBe(3)
    expect(tensor([true, false]).toArray()).toEqual([true, false])
    expect(tensor(new Int32Array([-1, 2])).toArray()).toEqual([-1, 2])
    expect(arange(0, 6).reshape(3, 2, 1).toArray()).toEqual([
      [[0], [1]],
      [[2], [3]],
      [[4], [5]],
    ])
    expect(new Tensor(new Float32Array(0), [2, 0]).toArray()).toEqual([[], []])
  })
})

describe('bad shapes and axes raise typed errors', () => {
  it('reshape to a size that does not fit, or with two -1s', () => {
    const t = m23()
    expect(() => t.reshape(4)).toThrow(ShapeError)
    expect(() => t.reshape(4)).toThrow(/cannot reshape \[2, 3\] \(6 elements\) to \[4\]/)
    expect(() => t.reshape(-1, -1)).toThrow(/only one dimension may be -1/)
    expect(() => t.reshape(4, -1)).toThrow(ShapeError)
  })

  it('permute with a list that is not a permutation; an axis out of range', () => {
    const t = t234()
    expect(() => t.permute(0, 0, 1)).toThrow(ArgumentError)
    expect(() => t.permute(0, 1)).toThrow(/is not a permutation of the 3 dims of \[2, 3, 4\]/)
    expect(() => t.transpose(0, 3)).toThrow(ArgumentError)
    expect(() => t.slice(5, 0, 1)).toThrow(/axis 5 is out of range for a tensor of rank 3/)
  })
})

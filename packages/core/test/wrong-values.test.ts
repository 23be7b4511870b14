/**
 * Cases where refnets once returned a wrong number without an error, each checked against an
 * independent computation: dilated AveragePool, ConvInteger with a per-channel weight zero point,
 * Clip with min > max, 0 * Inf / 0 * NaN in matmul, and int64 values that int32 cannot carry.
 */
import { describe, expect, it } from 'vitest'
import { expectGradOk } from './helpers/grad.js'
import { gradcheck } from '../src/gradcheck.js'
import { OnnxImportError } from '../src/onnx/errors.js'
import { loadOnnx } from '../src/onnx/import.js'
import { exportOnnxModel } from '../src/onnx/export.js'
import { decodeTensorProto, encodeModel } from '../src/onnx/proto.js'
import { Module } from '../src/nn/module.js'
import { tensorProtoToTensor } from '../src/onnx/values.js'
import { apply } from '../src/op.js'
import { AvgPool2d, clamp, concat, matmul, randn } from '../src/ops/index.js'
import { manualSeed } from '../src/random.js'
import { type Tensor, tensor } from '../src/tensor.js'
import { OnnxDataType as DT, intsAttr, nodeModel, pb } from './helpers/onnx-node.js'

/** Dilated average pooling by its definition (ONNX AveragePool, opset 19): mean over the taps inside the (padded) input. */
function naiveAvgPool(
  x: Float32Array,
  h: number,
  w: number,
  k: number,
  s: number,
  d: number,
  p: number,
  includePad: boolean,
): number[] {
  const oh = Math.floor((h + 2 * p - d * (k - 1) - 1) / s) + 1
  const ow = Math.floor((w + 2 * p - d * (k - 1) - 1) / s) + 1
  const out: number[] = []
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++) {
      let sum = 0
      let count = 0
      for (let a = 0; a < k; a++)
        for (let b = 0; b < k; b++) {
          const r = i * s - p + a * d
          const c = j * s - p + b * d
          const inside = r >= 0 && r < h && c >= 0 && c < w
          if (inside) sum += x[r * w + c]!
          if (inside || includePad) count++
        }
      out.push(sum / count)
    }
  return out
}

describe('AveragePool honours dilations', () => {
  for (const includePad of [0, 1])
    it(`matches the definition (k 3, stride 1, dilation 2, pads 1, count_include_pad ${includePad})`, () => {
      manualSeed(1)
      const x = randn([1, 1, 7, 6])
      const model = nodeModel(
        'AveragePool',
        [['x', DT.FLOAT, [1, 1, 7, 6]]],
        [['y', DT.FLOAT, []]],
        [
          intsAttr('kernel_shape', [3, 3]),
          intsAttr('dilations', [2, 2]),
          intsAttr('pads', [1, 1, 1, 1]),
          { name: 'count_include_pad', type: 2, i: includePad },
        ],
        19,
      )
      const [y] = loadOnnx(model).run([x]) as Tensor[]
      const ref = naiveAvgPool(x.data as Float32Array, 7, 6, 3, 1, 2, 1, includePad === 1)
      expect(y!.shape).toEqual([1, 1, 5, 4])
      Array.from(y!.data).forEach((v, i) => {
        expect(v).toBeCloseTo(ref[i]!, 5)
      })
    })

  it('exports a dilated window with the opset-19 dilations attribute and reads it back', () => {
    manualSeed(3)
    const x = randn([1, 2, 7, 6])
    const attrs = {
      kernel: [3, 2] as [number, number],
      strides: [1, 1] as [number, number],
      pads: [1, 1, 1, 1] as [number, number, number, number],
      dilations: [2, 3] as [number, number],
      ceilMode: false,
      out: [5, 5] as [number, number],
      countIncludePad: false,
    }
    class Pool extends Module {
      forward(t: Tensor) {
        return apply(AvgPool2d, [t], attrs)
      }
    }
    const model = exportOnnxModel(new Pool(), [x])
    expect(model.opsetImport?.[0]?.version).toBe(19)
    expect(
      model.graph!.node!.find((n) => n.opType === 'AveragePool')!.attribute!.find((a) => a.name === 'dilations')!.ints,
    ).toEqual([2, 3])
    const [y] = loadOnnx(encodeModel(model)).run([x]) as Tensor[]
    expect(Array.from(y!.data)).toEqual(Array.from(apply(AvgPool2d, [x], attrs).data))
  })

  it('has a matching gradient (gradcheck, float64)', () => {
    manualSeed(2)
    const x = randn([1, 2, 6, 5], { dtype: 'float64' })
    const attrs = {
      kernel: [2, 2] as [number, number],
      strides: [1, 2] as [number, number],
      pads: [1, 0, 1, 1] as [number, number, number, number],
      dilations: [2, 3] as [number, number],
      ceilMode: false,
      out: [5, 2] as [number, number],
    }
    for (const countIncludePad of [false, true]) {
      const r = gradcheck((t) => apply(AvgPool2d, [t], { ...attrs, countIncludePad }), [x])
      expectGradOk(r)
    }
  })
})

describe('ConvInteger', () => {
  it('subtracts a per-output-channel weight zero point along axis 0, and pads with the input zero point', () => {
    // The ONNX node test test_convinteger_with_padding: w_zero_point [0, 1] zeroes the second channel.
    const model = nodeModel(
      'ConvInteger',
      [
        ['x', DT.UINT8, [1, 1, 3, 3]],
        ['w', DT.UINT8, [2, 1, 2, 2]],
        ['xz', DT.UINT8, []],
        ['wz', DT.UINT8, [2]],
      ],
      [['y', DT.INT32, []]],
      [intsAttr('pads', [1, 1, 1, 1])],
    )
    const [y] = loadOnnx(model).run([
      tensor([2, 3, 4, 5, 6, 7, 8, 9, 10], { dtype: 'int32' }).reshape(1, 1, 3, 3),
      tensor(new Array(8).fill(1), { dtype: 'int32' }).reshape(2, 1, 2, 2),
      tensor(1, { dtype: 'int32' }),
      tensor([0, 1], { dtype: 'int32' }),
    ]) as Tensor[]
    expect(Array.from(y!.data)).toEqual([
      1,
      3,
      5,
      3,
      5,
      12,
      16,
      9,
      11,
      24,
      28,
      15,
      7,
      15,
      17,
      9,
      ...new Array(16).fill(0),
    ])
  })
})

describe('Clip with min > max', () => {
  it('sets every element to max (ONNX spec, torch.clamp)', () => {
    const x = tensor([-3, 0, 0.5, 2, 9])
    expect(Array.from(clamp(x, 2, 1).data)).toEqual([1, 1, 1, 1, 1])
    const model = nodeModel(
      'Clip',
      [
        ['x', DT.FLOAT, [5]],
        ['lo', DT.FLOAT, []],
        ['hi', DT.FLOAT, []],
      ],
      [['y', DT.FLOAT, [5]]],
    )
    const [y] = loadOnnx(model).run([x, tensor(2), tensor(1)]) as Tensor[]
    expect(Array.from(y!.data)).toEqual([1, 1, 1, 1, 1])
  })
})

describe('matmul propagates 0 * Inf and 0 * NaN (IEEE 754, as ONNX Runtime)', () => {
  for (const bad of [Infinity, -Infinity, NaN])
    for (const m of [1, 4, 5])
      it(`an all-zero a (${m} rows) times b holding ${bad}`, () => {
        const a = tensor(new Array(m * 8).fill(0)).reshape(m, 8)
        const bv = new Array(8 * 3).fill(1)
        bv[5 * 3 + 1] = bad
        const y = matmul(a, tensor(bv).reshape(8, 3))
        for (let i = 0; i < m; i++) {
          expect(y.data[i * 3]).toBe(0)
          expect(y.data[i * 3 + 1]).toBeNaN()
          expect(y.data[i * 3 + 2]).toBe(0)
        }
      })
})

describe('int64 values outside int32', () => {
  it('are an OnnxImportError on import, not a clamp', () => {
    const t = decodeTensorProto(pb(DT.INT64, [2], BigInt64Array.from([1n, 3000000000n])))
    expect(() => tensorProtoToTensor(t)).toThrow(OnnxImportError)
    expect(() => tensorProtoToTensor(t)).toThrow(/element 1 is 3000000000/)
  })

  it('keep the INT64_MAX / INT64_MIN sentinels of Slice as the int32 bounds', () => {
    const t = decodeTensorProto(pb(DT.INT64, [2], BigInt64Array.from([9223372036854775807n, -9223372036854775808n])))
    expect(Array.from(tensorProtoToTensor(t).data)).toEqual([2147483647, -2147483648])
    expect(() => tensorProtoToTensor(t, { int64Sentinels: false })).toThrow(OnnxImportError)
  })

  it('fail loadOnnx when an initializer holds one', () => {
    const init = { ...decodeTensorProto(pb(DT.INT64, [1], BigInt64Array.from([-5000000000n]))), name: 'b' }
    const model = nodeModel('Add', [['a', DT.INT64, [1]]], [['y', DT.INT64, [1]]], [], 17, [init])
    expect(() => loadOnnx(model)).toThrow(OnnxImportError)
  })
})

describe('an op keeps its own copy of the input list', () => {
  it('so pushing to an array after concatenating it changes neither the gradient nor the export', () => {
    const a = randn([1, 2], { dtype: 'float64' }).requireGrad()
    const b = randn([1, 3], { dtype: 'float64' }).requireGrad()
    const list = [a, b]
    const y = concat(list, 1) // (1, 5)
    list.push(randn([1, 4], { dtype: 'float64' }))
    y.mul(tensor([[1, 2, 3, 4, 5]], { dtype: 'float64' }))
      .sum()
      .backward()
    expect(Array.from(a.grad!.data)).toEqual([1, 2])
    expect(Array.from(b.grad!.data)).toEqual([3, 4, 5])

    class Dense extends Module {
      forward(x: Tensor) {
        const feats = [x]
        for (let i = 0; i < 2; i++) feats.push(concat(feats, 1).mul(2))
        return concat(feats, 1) // (1, 2) -> (1, 2 + 2 + 4)
      }
    }
    const x = tensor([[1, -1]])
    const model = loadOnnx(encodeModel(exportOnnxModel(new Dense(), [x])))
    const [out] = model.run([x]) as Tensor[]
    expect(Array.from(out!.data)).toEqual([1, -1, 2, -2, 2, -2, 4, -4])
  })
})

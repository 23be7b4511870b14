/**
 * Op keys are ONNX op types (docs/architecture.md): every op core defines, every multi-output op it
 * records, and every kernel key, is an ONNX operator type unless it is listed below with the reason
 * it has none, or names the gradient of one (key + 'Grad' / 'WeightGrad').
 */
import { describe, expect, it } from 'vitest'
import { ONNX_OPERATOR_TYPES, keysOffOnnx } from './helpers/onnx-operators.js'
import { jsKernels } from '../src/backends/js/kernels.js'
import * as core from '../src/index.js'
import { type OpDef, type Tracer, definedOps, withTracer } from '../src/op.js'

/** Core's ops with no ONNX operator of their own, and why. */
const CORE_OPS_WITHOUT_ONNX_TYPE: Record<string, string> = {
  // ONNX Gemm is 2-D only; Linear takes any leading dims and reads the (out, in) weight in place.
  // Exports as Gemm (2-D input) or Transpose + MatMul + Add.
  Linear: 'x W^T + b over any leading dims, one MatMulTransB kernel call',
  // Binary cross-entropy's clamped log with a guarded gradient at p = 0; exports as Log + Max.
  ClampedLog: 'max(log p, -100) with a finite gradient at p = 0',
  // ONNX has no adaptive pooling: they export as GlobalXPool, XPool or averaging MatMuls.
  AdaptiveAvgPool2d: 'PyTorch adaptive windows',
  AdaptiveMaxPool2d: 'PyTorch adaptive windows',
  // Training only (the backward of Slice), named after torch.slice_scatter.
  SliceScatter: 'zeros with dy written into the sliced positions',
}

/** Kernel keys that are no op's key, and why each is a kernel of its own. */
const KERNELS_WITHOUT_ONNX_TYPE: Record<string, string> = {
  // Linear's (and MatMul's shared-weight) product without materialising the transposed weight.
  MatMulTransB: 'a @ b^T with b row-major (n, k)',
  // MatMul's product with a transposed first operand (x^T dy of weight gradients), read in place.
  MatMulTransA: 'a^T @ b with a row-major (k, m)',
  // The copies behind contiguous(), transpose, expand and slicing (Identity's kernel), and their adjoint.
  StridedCopy: 'materialise a strided view',
  StridedScatter: 'write into a strided view',
  // The adjoints of Gather and GatherElements (GatherGrad's and ScatterElements' kernels): add, not assign.
  ScatterAdd: 'scatter-add along an axis',
  ScatterElementsAdd: "ScatterElements with reduction 'add'",
  // @refnets/rnn's RecurrentScan op (its layers export as the ONNX RNN / GRU / LSTM nodes).
  RecurrentScan: "a recurrent layer's time loop",
  // BatchNormalization in evaluation mode, once its statistics are folded into a scale and a shift per channel.
  ChannelAffine: 'x * scale[c] + shift[c] in one pass',
}

describe('op keys', () => {
  it('the ONNX operator list is ONNX 1.23 (203 types, Conv and MaxPool among them)', () => {
    expect(ONNX_OPERATOR_TYPES.size).toBe(203)
    for (const t of ['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'Attention'])
      expect(ONNX_OPERATOR_TYPES).toContain(t)
    expect(ONNX_OPERATOR_TYPES).not.toContain('Conv2d')
  })

  it('every op core defines is keyed by its ONNX op type, or is listed with the reason it has none', () => {
    expect(core.conv2d).toBeDefined()
    const ops = definedOps()
    expect(ops.length).toBeGreaterThan(80)
    expect(keysOffOnnx(ops, CORE_OPS_WITHOUT_ONNX_TYPE)).toEqual([])
    // Each allow-listed key is still in use (the list does not outlive its ops).
    for (const key of Object.keys(CORE_OPS_WITHOUT_ONNX_TYPE)) expect(ops.map((op) => op.name)).toContain(key)
  })

  it('the convolution and pooling ops carry their ONNX names; conv1d and conv2d share Conv', () => {
    const keys = (fn: () => unknown) => {
      const seen: string[] = []
      const tracer: Tracer = { record: (op: OpDef<any>) => seen.push(op.name) }
      withTracer(tracer, fn)
      return seen
    }
    const x = core.randn([1, 2, 6, 6])
    expect(keys(() => core.conv2d(x, core.randn([3, 2, 3, 3])))).toEqual(['Conv'])
    expect(keys(() => core.conv1d(core.randn([1, 2, 6]), core.randn([3, 2, 3])))).toEqual(['Conv'])
    expect(keys(() => core.convTranspose2d(x, core.randn([2, 3, 3, 3])))).toEqual(['ConvTranspose'])
    expect(keys(() => core.maxPool2d(x, 2))).toEqual(['MaxPool'])
    expect(keys(() => core.avgPool2d(x, 2))).toEqual(['AveragePool'])
    // Multi-output ops (applyMulti) are recorded under their ONNX names too.
    expect(keys(() => core.maxPool2dWithIndices(x, 2))).toEqual(['MaxPool'])
    expect(keys(() => core.split(x, 3, 1))).toEqual(['Split'])
  })

  it('every kernel key is an op key (an ONNX op type, or a listed op), or is listed with its reason', () => {
    const allowed = { ...CORE_OPS_WITHOUT_ONNX_TYPE, ...KERNELS_WITHOUT_ONNX_TYPE }
    expect(
      keysOffOnnx(
        Object.keys(jsKernels).map((name) => ({ name })),
        allowed,
      ),
    ).toEqual([])
    expect(Object.keys(jsKernels)).toEqual(expect.arrayContaining(Object.keys(KERNELS_WITHOUT_ONNX_TYPE)))
    expect(Object.keys(jsKernels)).toEqual(
      expect.arrayContaining(['Conv', 'ConvTranspose', 'ConvWeightGrad', 'MaxPool', 'MaxPoolGrad', 'AveragePool']),
    )
  })
})

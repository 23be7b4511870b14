/**
 * The registry-driven test: every entry of `specs` (layers and architectures) at its small input.
 * - the output has the spec's shape;
 * - after a backward pass, the input and every parameter have a finite gradient of their shape,
 *   and every weight of rank >= 2 a non-zero one;
 * - the architectures torchvision also has have exactly torchvision's parameter count;
 * - the module exports to ONNX with the layer's native operator (Conv, ConvTranspose, MaxPool,
 *   BatchNormalization, LRN, ...), and ONNX Runtime (CPU) computes the same output within the
 *   spec's tolerance. A provider that is not available fails the test: parity is never skipped.
 */
import { type Module, type ModelSpec, type Tensor, Generator, onnx, randn } from '@refnets/core'
import { crossCheck } from '@refnets/ort'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allFinite, gradientProblems } from '../../core/test/helpers/gradients.js'
import { countParameters, specs } from '../src/index.js'

/**
 * torchvision 0.14's parameter counts, sum(p.numel() for p in model.parameters()) with 1000
 * classes; googlenet without the auxiliary heads (aux_logits=False). The other VGG and ResNet
 * builders are checked against fixtures/layouts.json in models.test.ts.
 */
const TORCHVISION_PARAMETERS: Record<string, number> = {
  alexnet: 61_100_840,
  vgg11: 132_863_336,
  vgg13: 133_047_848,
  vgg16: 138_357_544,
  vgg19: 143_667_240,
  'vgg11-bn': 132_868_840,
  'vgg13-bn': 133_053_736,
  'vgg16-bn': 138_365_992,
  'vgg19-bn': 143_678_248,
  googlenet: 6_624_904,
  resnet18: 11_689_512,
  resnet34: 21_797_672,
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
  densenet121: 7_978_856,
}

/**
 * ONNX operators each export must contain: a layer exports as the standard's operator, so ONNX
 * Runtime checks our semantics against the standard's (docs/architecture.md, "ONNX"). Dropout2d and DropBlock are
 * the identity in evaluation mode; AdaptiveAvgPool2d with an evenly dividing input is an
 * AveragePool. Specs not listed here are checked for parity only.
 */
const NATIVE_OPS: Record<string, string[]> = {
  conv2d: ['Conv'],
  'conv2d-valid-stride2': ['Conv'],
  'conv2d-same-stride2': ['Conv'],
  'conv2d-pads-per-side': ['Conv'],
  'conv2d-dilated': ['Conv'],
  'conv2d-grouped': ['Conv'],
  'conv2d-depthwise': ['Conv'],
  'conv2d-1x1': ['Conv'],
  'conv-transpose2d': ['ConvTranspose'],
  'max-pool2d': ['MaxPool'],
  'max-pool2d-ceil': ['MaxPool'],
  'avg-pool2d': ['AveragePool'],
  'avg-pool2d-ceil-exclude-pad': ['AveragePool'],
  'adaptive-avg-pool2d': ['AveragePool'],
  'global-avg-pool2d': ['GlobalAveragePool'],
  'batch-norm2d': ['BatchNormalization'],
  'local-response-norm': ['LRN'],
  dropout2d: ['Identity'],
  'drop-block': ['Identity'],
  lenet5: ['Conv', 'Sigmoid', 'AveragePool', 'Gemm'],
  'lenet5-modern': ['Conv', 'Relu', 'MaxPool', 'Gemm'],
  alexnet: ['Conv', 'MaxPool', 'Gemm'],
  'alexnet-lrn': ['Conv', 'LRN', 'MaxPool', 'Gemm'],
  vgg11: ['Conv', 'MaxPool', 'Gemm'],
  'vgg11-bn': ['Conv', 'BatchNormalization', 'MaxPool', 'Gemm'],
  vgg16: ['Conv', 'MaxPool', 'Gemm'],
  vgg13: ['Conv', 'MaxPool', 'Gemm'],
  vgg19: ['Conv', 'MaxPool', 'Gemm'],
  'vgg13-bn': ['Conv', 'BatchNormalization', 'MaxPool', 'Gemm'],
  'vgg16-bn': ['Conv', 'BatchNormalization', 'MaxPool', 'Gemm'],
  'vgg19-bn': ['Conv', 'BatchNormalization', 'MaxPool', 'Gemm'],
  resnet34: ['Conv', 'BatchNormalization', 'Add'],
  resnet101: ['Conv', 'BatchNormalization', 'Add'],
  resnet152: ['Conv', 'BatchNormalization', 'Add'],
  nin: ['Conv', 'MaxPool', 'GlobalAveragePool'],
  googlenet: ['Conv', 'BatchNormalization', 'MaxPool', 'Concat', 'GlobalAveragePool', 'Gemm'],
  resnet18: ['Conv', 'BatchNormalization', 'MaxPool', 'Add', 'GlobalAveragePool', 'Gemm'],
  resnet50: ['Conv', 'BatchNormalization', 'MaxPool', 'Add', 'GlobalAveragePool', 'Gemm'],
  'fcn-resnet18': ['Conv', 'BatchNormalization', 'ConvTranspose'],
  densenet121: ['Conv', 'BatchNormalization', 'Relu', 'Concat', 'AveragePool', 'MaxPool', 'GlobalAveragePool', 'Gemm'],
}

it('registers every layer and architecture once', () => {
  const names = specs.map((s) => s.name)
  expect(new Set(names).size).toBe(names.length)
  for (const model of [
    'lenet5',
    'alexnet',
    'vgg11',
    'vgg16',
    'vgg11-bn',
    'nin',
    'googlenet',
    'resnet18',
    'resnet50',
    'resnet152',
    'fcn-resnet18',
    'densenet121',
  ])
    expect(names).toContain(model)
  for (const name of [...Object.keys(NATIVE_OPS), ...Object.keys(TORCHVISION_PARAMETERS)]) expect(names).toContain(name)
})

describe.each(specs.map((s) => [s.name, s] as [string, ModelSpec]))('%s', (_name, spec) => {
  let model: Module<Tensor[], Tensor> | undefined
  let inputs: Tensor[] = []
  let output: Tensor | undefined

  beforeAll(() => {
    model = spec.build(0) as Module<Tensor[], Tensor>
    inputs = spec.inputs('small', 1).map((x) => (x.dtype === 'float32' || x.dtype === 'float64' ? x.requireGrad() : x))
    output = model.call(...inputs)
  })
  afterAll(() => {
    // Let the big models (VGG: 140M parameters) go before the next spec builds.
    model = undefined
    output = undefined
    inputs = []
  })

  it('produces the output shape of its spec', () => {
    expect(spec.outputShape).toBeDefined()
    expect(output!.shape).toEqual(spec.outputShape!('small'))
    expect(allFinite(output!.data)).toBe(true)
  })

  if (spec.trainable !== false)
    it('gives the input and every parameter a gradient', () => {
      // A random projection of the output, so no gradient vanishes by symmetry (the plain sum of a
      // batch-normalised output has zero gradient).
      const r = randn([...output!.shape], { dtype: output!.dtype, generator: new Generator(7) })
      output!.mul(r).sum().backward()
      for (const x of inputs) if (x.requiresGrad) expect(x.grad?.shape).toEqual(x.shape)
      expect(gradientProblems(model!.namedParameters())).toEqual([])
      model!.zeroGrad()
    })

  if (spec.name in TORCHVISION_PARAMETERS)
    it('has torchvision’s parameter count', () => {
      expect(countParameters(model!)).toBe(TORCHVISION_PARAMETERS[spec.name])
    })

  it('exports to ONNX and matches ONNX Runtime (CPU)', async () => {
    const x = spec.inputs('small', 2)
    const result = await crossCheck(model!, x, {
      providers: ['cpu'],
      ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
    })
    const cpu = result.providers[0]!
    console.log(
      `${spec.name}: parity max abs error / max |reference| = ${cpu.scaledError?.toExponential(2)} (bound ${spec.tolerance?.atol})`,
    )
    expect(cpu.status, `${cpu.reason ?? ''} (max abs error ${cpu.maxAbsError}, scaled ${cpu.scaledError})`).toBe('pass')
    expect(result.outputs[0]!.shape).toEqual(spec.outputShape!('small'))
    const ops = new Set(onnx.decodeModel(result.onnx).graph!.node!.map((n) => n.opType!))
    for (const op of NATIVE_OPS[spec.name] ?? []) expect([...ops], `${spec.name} exports ${op}`).toContain(op)
    // Evaluation mode: no training-only operator reaches the graph.
    expect(ops.has('Dropout')).toBe(false)
  })
})

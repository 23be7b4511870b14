/**
 * The architectures beyond the registry test: torchvision's state-dict layouts (keys, shapes and
 * order) and parameter counts for every torchvision-named builder, FLOPs against PyTorch forward
 * hooks, d2l's per-layer shapes for LeNet and NiN, and the building blocks (residual, inception,
 * FCN). The reference numbers come from fixtures/layouts.json, written by scripts/gen_fixtures.py.
 */
import { type Module, Generator, noGrad, randn, zeros } from '@refnets/core'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  ALEXNET_LRN,
  type BasicBlock,
  type Bottleneck,
  Conv2d,
  type ConvTranspose2d,
  INCEPTION_CONFIGS,
  Inception,
  LocalResponseNorm,
  type InceptionConfig,
  alexnet,
  bilinearKernel,
  countFlops,
  countParameters,
  fcnResnet18,
  googlenet,
  lenet5,
  lenet5Modern,
  nin,
  profile,
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  vgg11Bn,
  vgg13,
  vgg13Bn,
  vgg16,
  vgg16Bn,
  vgg19,
  vgg19Bn,
} from '../src/index.js'
import { torchOrderKeys } from './helpers/fixture-weights.js'

interface Layout {
  keys: [string, number[]][]
  parameters: number
  macs224: number
}
const layouts = JSON.parse(readFileSync(new URL('./fixtures/layouts.json', import.meta.url), 'utf8')) as {
  torchvision: string
  models: Record<string, Layout>
}

/**
 * torchvision builder name -> ours. VGG is built without torchvision's init (initWeights: false)
 * here: only the layout is checked, and drawing 120M normal samples takes ~10 s per model.
 */
const BUILDERS: Record<string, () => Module<any, any>> = {
  alexnet: () => alexnet(),
  vgg13: () => vgg13({ initWeights: false }),
  vgg16: () => vgg16({ initWeights: false }),
  vgg19: () => vgg19({ initWeights: false }),
  vgg11_bn: () => vgg11Bn({ initWeights: false }),
  vgg13_bn: () => vgg13Bn({ initWeights: false }),
  vgg16_bn: () => vgg16Bn({ initWeights: false }),
  vgg19_bn: () => vgg19Bn({ initWeights: false }),
  googlenet: () => googlenet({ initWeights: false }),
  resnet18: () => resnet18(),
  resnet34: () => resnet34(),
  resnet101: () => resnet101(),
  resnet152: () => resnet152(),
}

describe(`torchvision ${layouts.torchvision} layouts`, () => {
  it('every fixture model has a builder', () =>
    expect(Object.keys(BUILDERS).sort()).toEqual(Object.keys(layouts.models).sort()))

  it.each(Object.keys(layouts.models))('%s: state-dict keys, shapes and order, and the parameter count', (name) => {
    const ref = layouts.models[name]!
    const model = BUILDERS[name]!()
    const sd = model.stateDict()
    expect(torchOrderKeys(model).map((k) => [k, [...sd[k]!.shape]])).toEqual(ref.keys)
    expect(countParameters(model)).toBe(ref.parameters)
  })

  // The FLOP convention of shapes.ts (conv and linear multiply-accumulates), as PyTorch hooks count
  // them; torchvision's tables list the same numbers rounded (AlexNet 0.71, ResNet-18 1.81 GFLOPS).
  it.each(['alexnet', 'resnet18'])('%s: countFlops at 224x224 equals the PyTorch hook count', (name) => {
    expect(countFlops(BUILDERS[name]!(), [1, 3, 224, 224])).toBe(layouts.models[name]!.macs224)
  })
})

const shapes = (rows: ReturnType<typeof profile>) => rows.map((r) => [r.type, r.outputShape])

describe('LeNet-5', () => {
  it('has d2l’s layer shapes (7.6) and 61,706 parameters', () => {
    const rows = profile(lenet5(), [1, 1, 28, 28])
    expect(shapes(rows)).toEqual([
      ['Conv2d', [1, 6, 28, 28]],
      ['Sigmoid', [1, 6, 28, 28]],
      ['AvgPool2d', [1, 6, 14, 14]],
      ['Conv2d', [1, 16, 10, 10]],
      ['Sigmoid', [1, 16, 10, 10]],
      ['AvgPool2d', [1, 16, 5, 5]],
      ['Flatten', [1, 400]],
      ['Linear', [1, 120]],
      ['Sigmoid', [1, 120]],
      ['Linear', [1, 84]],
      ['Sigmoid', [1, 84]],
      ['Linear', [1, 10]],
    ])
    expect(countParameters(lenet5())).toBe(61_706)
    // a conv layer has k*k*c_in*c_out + c_out parameters; profile attributes them per layer
    expect(rows.map((r) => r.params).filter((p) => p > 0)).toEqual([
      5 * 5 * 6 + 6,
      5 * 5 * 6 * 16 + 16,
      400 * 120 + 120,
      120 * 84 + 84,
      84 * 10 + 10,
    ])
    expect(rows[0]!.flops).toBe(5 * 5 * 1 * 6 * 28 * 28)
  })

  it('the modern variant swaps in ReLU and max pooling, same parameters', () => {
    const types = profile(lenet5Modern(), [2, 1, 28, 28]).map((r) => r.type)
    expect(types.filter((t) => t === 'ReLU').length).toBe(4)
    expect(types.filter((t) => t === 'MaxPool2d').length).toBe(2)
    expect(types).not.toContain('Sigmoid')
    expect(countParameters(lenet5Modern())).toBe(61_706)
    expect(Object.keys(lenet5Modern().stateDict())).toEqual([
      '0.weight',
      '0.bias',
      '3.weight',
      '3.bias',
      '7.weight',
      '7.bias',
      '9.weight',
      '9.bias',
      '11.weight',
      '11.bias',
    ])
  })
})

describe('NiN', () => {
  it('has d2l’s block shapes at 224x224 and ends in global average pooling, no linear layer', () => {
    const model = nin()
    const rows = profile(model, [1, 1, 224, 224])
    const shapesAfter = (type: string) => rows.filter((r) => r.type === type).map((r) => r.outputShape)
    expect(shapesAfter('MaxPool2d')).toEqual([
      [1, 96, 26, 26],
      [1, 256, 12, 12],
      [1, 384, 5, 5],
    ])
    expect(shapesAfter('GlobalAvgPool2d')).toEqual([[1, 10, 1, 1]])
    expect(rows.at(-1)!.outputShape).toEqual([1, 10])
    expect(rows.some((r) => r.type === 'Linear')).toBe(false)
    expect(Object.keys(model.stateDict()).slice(0, 4)).toEqual(['0.0.weight', '0.0.bias', '0.2.weight', '0.2.bias'])
  })
})

describe('AlexNet', () => {
  it('with lrn: LRN (the paper’s k = 2, n = 5, alpha = 1e-4 per neighbour) after conv1 and conv2, same parameters', () => {
    const model = alexnet({ lrn: true, numClasses: 10 })
    const norms = [...model.features.namedChildren()].filter(([, m]) => m instanceof LocalResponseNorm)
    expect(norms.map(([k]) => k)).toEqual(['2', '6'])
    const lrn = norms[0]![1] as LocalResponseNorm
    expect([lrn.size, lrn.alpha / lrn.size, lrn.beta, lrn.k]).toEqual([5, 1e-4, 0.75, 2])
    expect(ALEXNET_LRN.alpha).toBe(5e-4)
    expect([...model.features.namedChildren()].filter(([, m]) => m instanceof Conv2d).map(([k]) => k)).toEqual([
      '0',
      '4',
      '8',
      '10',
      '12',
    ])
    expect(countParameters(model)).toBe(countParameters(alexnet({ numClasses: 10 })))
  })
})

describe('GoogLeNet', () => {
  it('chains the paper’s Table 1: each block’s input is the previous output 1x1 + 3x3 + 5x5 + pool proj', () => {
    const cfgs = Object.values(INCEPTION_CONFIGS) as InceptionConfig[]
    const outs = cfgs.map(([, a, , b, , c, d]) => a + b + c + d)
    expect(outs).toEqual([256, 480, 512, 512, 512, 528, 832, 832, 1024])
    for (let i = 1; i < cfgs.length; i++) expect(cfgs[i]![0]).toBe(outs[i - 1])
    const block = new Inception(...cfgs[0]!)
    expect(noGrad(() => block.call(randn([2, 192, 5, 5]))).shape).toEqual([2, 256, 5, 5])
  })
})

describe('ResNet', () => {
  it('projects the shortcut only where the shape changes', () => {
    const r18 = resnet18({ numClasses: 10 })
    const blocks = (m: { layer1: Module; layer2: Module; layer3: Module; layer4: Module }) =>
      [m.layer1, m.layer2, m.layer3, m.layer4].flatMap((l) =>
        [...l.namedChildren()].map(([, b]) => (b as BasicBlock | Bottleneck).downsample !== null),
      )
    expect(blocks(r18)).toEqual([false, false, true, false, true, false, true, false])
    const r50 = resnet50({ numClasses: 10 })
    expect(blocks(r50).filter(Boolean).length).toBe(4) // layer1.0 too: 64 -> 256 channels
    expect(noGrad(() => r18.features(randn([1, 3, 64, 96]))).shape).toEqual([1, 512, 2, 3])
  })

  it('a block with zero-initialised last batch norm starts as relu(x + shortcut) with the identity branch', () => {
    const r = resnet18({ numClasses: 10, zeroInitResidual: true }).eval()
    const block = [...r.layer1.namedChildren()][0]![1] as BasicBlock
    expect([...block.bn2.weight!.data].every((v) => v === 0)).toBe(true)
    const x = randn([1, 64, 6, 6], { generator: new Generator(2) })
    const y = noGrad(() => block.call(x))
    const relu = x.relu()
    let m = 0
    for (let i = 0; i < y.size; i++) m = Math.max(m, Math.abs(Number(y.data[i]) - Number(relu.data[i])))
    expect(m).toBe(0)
  })
})

describe('FCN', () => {
  it('names its children as d2l, upsamples 32x with the bilinear-initialised transposed conv', () => {
    const backbone = resnet18()
    const fcn = fcnResnet18({ numClasses: 5, backbone })
    const keys = Object.keys(fcn.stateDict())
    expect(keys.slice(0, 2)).toEqual(['0.weight', '1.weight'])
    expect(keys).toContain('4.0.conv1.weight')
    expect(keys).toContain('7.1.bn2.running_var')
    expect(keys.filter((k) => !/^\d/.test(k))).toEqual([
      'final_conv.weight',
      'final_conv.bias',
      'transpose_conv.weight',
      'transpose_conv.bias',
    ])
    expect(keys.some((k) => k.startsWith('fc') || k.includes('.fc.'))).toBe(false)
    // The backbone's tensors are shared, so pretrained weights carry over.
    expect(fcn.stateDict()['0.weight']).toBe(backbone.conv1.weight)
    const up = fcn.transpose_conv as ConvTranspose2d
    expect([up.kernelSize, up.stride, up.padding]).toEqual([[64, 64], 32, 16])
    expect([...up.weight.data]).toEqual([...bilinearKernel(5, 5, 64).data])
    const y = noGrad(() => fcn.eval().call(zeros([1, 3, 64, 96])))
    expect(y.shape).toEqual([1, 5, 64, 96])
  })
})

describe('parameter and FLOP helpers', () => {
  it('countParameters counts every parameter or only the trainable ones', () => {
    const model = resnet18({ numClasses: 10 })
    const total = countParameters(model)
    expect(total).toBe(11_689_512 - 513 * 1000 + 513 * 10)
    for (const p of model.fc.parameters()) p.requiresGrad = false
    expect(countParameters(model, { trainableOnly: true })).toBe(total - 513 * 10)
  })

  it('countFlops: conv k*k*(c_in/groups)*c_out*H_out*W_out, transposed conv k*k*c_in*(c_out/groups)*H_in*W_in, linear in*out + out', () => {
    const fcn = fcnResnet18({ numClasses: 4 })
    const rows = profile(fcn, [2, 3, 64, 64])
    const up = rows.find((r) => r.type === 'ConvTranspose2d')!
    expect(up.inputShape).toEqual([2, 4, 2, 2])
    expect(up.flops).toBe(64 * 64 * 4 * 4 * 2 * 2 * 2)
    const grouped = profile(new Conv2d(8, 16, 3, { groups: 4, stride: 2, padding: 1 }), [3, 8, 10, 10])[0]!
    expect(grouped.flops).toBe(3 * 3 * 2 * 16 * 5 * 5 * 3)
    // Profiling leaves the model's mode and forward untouched.
    expect(fcn.training).toBe(true)
    expect(Object.hasOwn(fcn.final_conv, 'forward')).toBe(false)
  })
})

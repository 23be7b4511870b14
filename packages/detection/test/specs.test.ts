/**
 * The registry-driven test: every entry of `specs` (box ops, RoI ops, detectors) at its small input.
 * - the (first) output has the spec's shape and is finite;
 * - after a backward pass, the differentiable inputs and every parameter have a finite gradient,
 *   every weight of rank >= 2 a non-zero one;
 * - the module exports to ONNX with the native operators listed below (RoiAlign, MaxRoiPool, Atan,
 *   Mish, ...), and ONNX Runtime (CPU) computes the same outputs within the spec's tolerance.
 */
import { type Module, type ModelSpec, type SpecSize, type Tensor, Generator, noGrad, onnx, randn } from '@refnets/core'
import { crossCheck } from '@refnets/ort'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allFinite, gradientProblems } from '../../core/test/helpers/gradients.js'
import { specs } from '../src/index.js'

/** Inputs that are not differentiable (RoI coordinates): no gradient is expected for them. */
const NO_GRAD_INPUTS: Record<string, number[]> = {
  'roi-align': [1],
  'roi-align-unaligned-adaptive': [1],
  'roi-pool': [1],
  'fast-rcnn-head': [1],
}

/** ONNX operators each export must contain. */
const NATIVE_OPS: Record<string, string[]> = {
  'box-iou': ['Max', 'Min', 'Relu', 'Div'],
  'complete-box-iou-loss': ['Atan'],
  'roi-align': ['RoiAlign'],
  'roi-align-unaligned-adaptive': ['RoiAlign'],
  'roi-pool': ['MaxRoiPool'],
  nms: ['NonMaxSuppression'],
  'tiny-ssd': ['Conv', 'BatchNormalization', 'MaxPool', 'Concat'],
  'ssd300-vgg16': ['Conv', 'MaxPool', 'Relu', 'Concat'],
  'small-yolo': ['Conv', 'BatchNormalization', 'Mish', 'LeakyRelu', 'MaxPool', 'Concat'],
  yolov4: ['Conv', 'BatchNormalization', 'Mish', 'LeakyRelu', 'MaxPool', 'Concat'],
  rpn: ['Conv', 'Relu'],
  'fast-rcnn-head': ['RoiAlign', 'Gemm'],
}

/**
 * Time limits (ms) for the big detectors on the plain-JS backend: SSD300 (VGG-16 at 268x268) and
 * YOLOv4 (64M parameters) take minutes to build, run, export and run in ONNX Runtime on two cores.
 */
const TIMEOUT: Record<string, number> = { 'ssd300-vgg16': 1_200_000, yolov4: 900_000 }

it.each(['yolov4', 'small-yolo'])(
  '%s keeps its eval outputs O(1) at both sizes (batch-norm statistics from a 416x416 image)',
  async (name) => {
    // a turn of the event loop between the long synchronous stretches, so vitest's RPC is answered
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
    const spec = specs.find((s) => s.name === name)!
    const m = spec.build(0).eval()
    const maxAbs = (size: SpecSize) => {
      let r = 0
      for (const y of noGrad(() => m.call(...spec.inputs(size, 0))) as Tensor[])
        for (const v of y.data) r = Math.max(r, Math.abs(v))
      return r
    }
    // statistics from four 64x64 images give outputs up to ~3e4 (YOLOv4) and ~1e3 (small YOLO) at
    // 416x416, where float32 parity fails
    await turn()
    expect(maxAbs('bench')).toBeLessThan(20)
    await turn()
    expect(maxAbs('small')).toBeLessThan(20)
  },
  900_000,
)

it('registers every op and detector once', () => {
  const names = specs.map((s) => s.name)
  expect(new Set(names).size).toBe(names.length)
  for (const name of Object.keys(NATIVE_OPS)) expect(names).toContain(name)
})

describe.each(specs.map((s) => [s.name, s] as [string, ModelSpec]))('%s', (_name, spec) => {
  let model: Module<Tensor[], Tensor | Tensor[]> | undefined
  let inputs: Tensor[] = []
  let outputs: Tensor[] = []

  const timeout = TIMEOUT[spec.name]
  beforeAll(async () => {
    model = spec.build(0) as Module<Tensor[], Tensor | Tensor[]>
    // a turn of the event loop between building (YOLOv4 estimates its batch-norm statistics on a
    // 416x416 image) and the forward pass, so vitest's worker answers its runner's RPC in time
    await new Promise<void>((resolve) => setImmediate(resolve))
    const frozen = NO_GRAD_INPUTS[spec.name] ?? []
    inputs = spec
      .inputs('small', 1)
      .map((x, i) => (!frozen.includes(i) && (x.dtype === 'float32' || x.dtype === 'float64') ? x.requireGrad() : x))
    const y = model.call(...inputs)
    outputs = Array.isArray(y) ? y : [y]
  }, timeout)
  afterAll(() => {
    model = undefined
    outputs = []
    inputs = []
  })

  it('produces the output shape of its spec', () => {
    expect(outputs[0]!.shape).toEqual(spec.outputShape!('small'))
    for (const o of outputs) expect(allFinite(o.data)).toBe(true)
  })

  it(
    'gives the inputs and every parameter a gradient',
    () => {
      // NMS returns indices: they carry no gradient, so nothing flows back to the scores.
      if (outputs.every((o) => o.dtype !== 'float32' && o.dtype !== 'float64')) {
        for (const o of outputs) expect(o.requiresGrad).toBe(false)
        return
      }
      const g = new Generator(7)
      let loss: Tensor | undefined
      for (const o of outputs) {
        const t = o.mul(randn([...o.shape], { dtype: o.dtype, generator: g })).sum()
        loss = loss ? loss.add(t) : t
      }
      loss!.backward()
      for (const x of inputs) if (x.requiresGrad) expect(x.grad?.shape).toEqual(x.shape)
      expect(gradientProblems(model!.namedParameters())).toEqual([])
      model!.zeroGrad()
    },
    timeout,
  )

  it(
    'exports to ONNX and matches ONNX Runtime (CPU)',
    async () => {
      const x = spec.inputs('small', 2)
      const result = await crossCheck(model!, x, {
        providers: ['cpu'],
        ...(spec.tolerance ? { tolerance: spec.tolerance } : {}),
      })
      const cpu = result.providers[0]!
      expect(cpu.status, `${cpu.reason ?? ''} (max abs error ${cpu.maxAbsError})`).toBe('pass')
      expect(result.outputs[0]!.shape).toEqual(spec.outputShape!('small'))
      const ops = new Set(onnx.decodeModel(result.onnx).graph!.node!.map((n) => n.opType!))
      for (const op of NATIVE_OPS[spec.name] ?? []) expect([...ops], `${spec.name} exports ${op}`).toContain(op)
    },
    timeout,
  )
})

/**
 * The ONNX-to-TensorFlow.js translation runs every core spec, every cnn layer and the CNN families and agrees
 * with refnets' forward pass, so the tfjs timings in the report are of the same computation.
 */
import { type ModelSpec, exportOnnx, noGrad, specs as core } from '@refnets/core'
import { specs as cnn } from '@refnets/cnn'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { UnsupportedOpError, compileTfjs } from '../src/tfjs.js'
import { tolerances } from '@refnets/ort'

beforeAll(async () => {
  tf.enableProdMode()
  await tf.setBackend('cpu')
})

// The architectures too, where the small input keeps a forward under a second.
const SMALL_MODELS = [
  'lenet5',
  'lenet5-modern',
  'alexnet-lrn',
  'nin',
  'googlenet',
  'resnet18',
  'resnet50',
  'fcn-resnet18',
]
const cases: ModelSpec[] = [...core, ...cnn.filter((s) => s.family === 'layer' || SMALL_MODELS.includes(s.name))]

describe.each(cases)('$name', (spec) => {
  it("gives refnets' output in TensorFlow.js", () => {
    const m = spec.build(0)
    m.eval()
    const x = spec.inputs('small', 1)
    const ours = noGrad(() => m.call(...x))
    const model = compileTfjs(tf, exportOnnx(m, x))
    const xs = x.map((t) => tf.tensor(Float32Array.from(t.contiguous().data as Float32Array), [...t.shape]))
    const [y] = model.run(xs)
    expect(y!.shape).toEqual(ours.shape)
    const a = y!.dataSync()
    const b = ours.contiguous().data as Float32Array
    // The harness's criterion: |tfjs - refnets| <= atol + rtol |refnets| (the spec's tolerance).
    const { atol, rtol } = spec.tolerance ?? tolerances.cpu.float32
    let outside = 0
    for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= atol + rtol * Math.abs(b[i]!))) outside++
    let worst = 0
    for (let i = 0; i < b.length; i++)
      worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (atol + rtol * Math.abs(b[i]!)))
    expect(outside, `worst |error| / tolerance ${worst}`).toBe(0)
    tf.dispose([y!, ...xs])
    model.dispose()
  })
})

it('names the op it cannot translate', () => {
  const m = {
    graph: {
      node: [{ opType: 'Resize', input: ['x'], output: ['y'] }],
      input: [{ name: 'x' }],
      output: [{ name: 'y' }],
    },
  }
  expect(() => compileTfjs(tf, encode(m))).toThrow(UnsupportedOpError)
  expect(() => compileTfjs(tf, encode(m))).toThrow(/ONNX Resize/)
})

import { onnx } from '@refnets/core'
const encode = (m: object) =>
  onnx.encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], ...m } as onnx.ModelProto)

/**
 * SSD300-VGG16 against torchvision 0.14's ssd300_vgg16 (scripts/gen_ssd_fixture.py): the same
 * state-dict names and shapes, and for the same deterministic weights the same default boxes and
 * raw head outputs (bbox_regression, cls_logits) at 300x300, to 1e-5 relative in float32.
 */
import { readFileSync } from 'node:fs'
import { fromArray, noGrad } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { Ssd300 } from '../src/index.js'
import { fillSsdWeights, hashFill } from './helpers/fixture-weights.js'

const fx = JSON.parse(readFileSync(new URL('./fixtures/ssd300.json', import.meta.url), 'utf8'))

/** max |a - b| / max(|b|, 1) over the fixture's sampled values. */
function relErr(ours: ArrayLike<number>, sampled: number[], stride: number): number {
  let m = 0
  sampled.forEach((v, j) => {
    m = Math.max(m, Math.abs(ours[j * stride]! - v) / Math.max(Math.abs(v), 1))
  })
  return m
}

describe('SSD300-VGG16 vs torchvision', () => {
  const model = new Ssd300({ numClasses: fx.numClasses }).eval()

  it("has torchvision's state-dict keys and shapes", () => {
    const sd = model.stateDict()
    expect(Object.keys(sd).sort()).toEqual(fx.keys.map((k: [string]) => k[0]).sort())
    for (const [k, shape] of fx.keys as [string, number[]][]) expect(sd[k]!.shape, k).toEqual(shape)
  })

  it('gives the default boxes of DefaultBoxGenerator', () => {
    const d = model.defaultBoxes()
    expect(d.shape).toEqual(fx.defaultBoxesShape)
    expect(relErr(d.data, fx.defaultBoxes, fx.stride)).toBeLessThan(1e-5)
  })

  it('gives the raw head outputs for the same weights and input', () => {
    fillSsdWeights(model, fx.keys)
    const x = fromArray(hashFill(new Float32Array(3 * 300 * 300), 1_000_003), [1, 3, 300, 300])
    const [box, cls] = noGrad(() => model.call(x))
    expect(box.shape).toEqual(fx.bboxRegressionShape)
    expect(cls.shape).toEqual(fx.clsLogitsShape)
    expect(relErr(box.data, fx.bboxRegression, fx.stride)).toBeLessThan(1e-5)
    expect(relErr(cls.data, fx.clsLogits, fx.stride)).toBeLessThan(1e-5)
  })
})

/**
 * Golden parity with torchvision (PyTorch 1.13 / torchvision 0.14): the same deterministic weights
 * (test/helpers/fixture-weights.ts, scripts/gen_fixtures.py) loaded through `loadStateDict` under
 * torchvision's names, the same 1x3x224x224 input, the same logits, scale-aware: max |refnets -
 * torch float32| / max |torch logit| within the measured error times PARITY_MARGIN (src/spec-helpers.ts).
 * The measured errors are of the order of float32 rounding itself (torch float32 vs float64).
 */
import { type Module, type Tensor, fromArray, noGrad } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { alexnet, densenet121, googlenet, resnet18, resnet50, vgg11 } from '../src/index.js'
import { measured } from '../src/spec-helpers.js'
import { fixtureStateDict, hashFill, readFixture, torchOrderKeys } from './helpers/fixture-weights.js'

// The fixture's weights replace every tensor, so torchvision's init is skipped where it is optional.
// [name, builder, measured max |refnets - torch float32| / max |torch logit|]
const MODELS: [string, () => Module<[Tensor], Tensor>, number][] = [
  ['alexnet', () => alexnet(), 2.3e-6],
  ['vgg11', () => vgg11({ initWeights: false }), 3.7e-6],
  ['googlenet', () => googlenet({ initWeights: false }), 8.84e-7],
  ['resnet18', () => resnet18(), 7.42e-7],
  ['resnet50', () => resnet50(), 1.48e-6],
  ['densenet121', () => densenet121(), 1.32e-6],
]

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

describe.each(MODELS)('torchvision %s', (name, build, measuredError) => {
  it('has torchvision’s state-dict keys and shapes in torchvision’s order, and its logits at 224x224', () => {
    const fx = readFixture(name)
    const t0 = performance.now()
    const model = build().eval()
    const tBuilt = performance.now()
    const sd = model.stateDict()
    expect(torchOrderKeys(model).map((k) => [k, [...sd[k]!.shape]])).toEqual(fx.keys)

    model.loadStateDict(fixtureStateDict(fx))
    const input = hashFill(new Float32Array(3 * 224 * 224), fx.formula.inputT)
    const t1 = performance.now()
    const y = noGrad(() => model.call(fromArray(input, fx.inputShape)))
    const t2 = performance.now()

    expect(y.shape).toEqual([1, 1000])
    const err = maxAbsDiff(y.data as Float32Array, fx.logits)
    const scale = Math.max(...fx.logits.map(Math.abs))
    console.log(
      `${name}: max |refnets - torch float32| = ${err.toExponential(2)} (${(err / scale).toExponential(2)} of max |logit| ${scale.toFixed(3)}), vs torch float64 ${maxAbsDiff(y.data as Float32Array, fx.logits64).toExponential(2)} ` +
        `(torch float32 vs float64 ${fx.float32VsFloat64MaxAbs.toExponential(2)}); build ${((tBuilt - t0) / 1000).toFixed(1)} s, fill+load ${((t1 - tBuilt) / 1000).toFixed(1)} s, forward ${((t2 - t1) / 1000).toFixed(1)} s`,
    )
    expect(err / scale).toBeLessThanOrEqual(measured(measuredError).atol)
  })
})

/**
 * Measure each spec's ONNX Runtime parity at its small input (the registry test's seeds): the max
 * absolute error, the largest |reference|, their ratio, and the largest element-wise relative
 * error where |reference| > 1e-3. The spec tolerances in src/specs.ts are set from these figures
 * with the margin documented there. Run: pnpm --filter @refnets/cnn parity-errors [name ...]
 */
import { crossCheck } from '@refnets/ort'
import { specs } from '../src/index.js'

const only = process.argv.slice(2)
console.log('| spec | max abs error | max abs ref | abs / ref | max rel error (abs ref > 1e-3) |')
console.log('| --- | --- | --- | --- | --- |')
for (const spec of specs) {
  if (only.length && !only.includes(spec.name)) continue
  // As test/specs.test.ts: build with seed 0, one training-mode forward on the seed-1 input (which
  // moves the batch-norm running statistics), then parity on the seed-2 input.
  const model = spec.build(0)
  model.call(...spec.inputs('small', 1))
  const x = spec.inputs('small', 2)
  const r = await crossCheck(model, x, { providers: ['cpu'], tolerance: { atol: 1e-3, rtol: Infinity } })
  const cpu = r.providers[0]!
  const ref = r.outputs[0]!.data
  let scale = 0
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(Number(ref[i])))
  const e = cpu.maxAbsError ?? NaN
  const row = [e, scale, e / scale, cpu.maxRelError ?? NaN].map((v) => v.toExponential(2))
  console.log(`| ${spec.name} | ${row.join(' | ')} |`)
}

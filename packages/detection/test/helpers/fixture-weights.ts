/**
 * The deterministic weights of scripts/gen_ssd_fixture.py, reproduced bit for bit (the same hash as
 * packages/cnn's torchvision fixtures): tensor t of the state dict is float32(center + spread * u(t, i)).
 */
import { type Module, type Tensor, fromArray } from '@refnets/core'
import { hashFill } from '../../../cnn/test/helpers/fixture-weights.js'

export { hashFill }

/** Fill a module's state dict from the fixture's key list (torchvision's order) by the script's rules. */
export function fillSsdWeights(model: Module<any, any>, keys: [string, number[]][]): void {
  const sd: Record<string, Tensor> = {}
  keys.forEach(([k, shape], t) => {
    const n = shape.reduce((a, b) => a * b, 1)
    const [c, s] = k.endsWith('scale_weight')
      ? [20, 0]
      : k.endsWith('weight')
        ? [0, 2 / Math.sqrt(n / shape[0]!)]
        : [0, 0.1]
    sd[k] = fromArray(hashFill(new Float32Array(n), t, c, s), shape)
  })
  model.loadStateDict(sd)
}

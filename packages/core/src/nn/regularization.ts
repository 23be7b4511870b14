/**
 * Weight penalties (notes 000, 002, 003): add to the data loss before backward.
 * L2: lambda / (2m) * sum ||W||^2 (the notes' form; m = batch size, 1 by default); L1: lambda / m *
 * sum |W| (drives weights to exactly zero: sparsity); elastic net: both. Pass the weights only
 * (biases are not usually penalised). Optimiser weight decay is the same L2 inside the update.
 */
import { ArgumentError } from '../errors.js'
import type { Tensor } from '../tensor.js'

const check = (params: Tensor[]) => {
  if (params.length === 0) throw new ArgumentError('a penalty needs at least one tensor')
}

export function l2Penalty(params: Tensor[], lambda: number, m = 1): Tensor {
  check(params)
  return params
    .map((p) => p.square().sum())
    .reduce((a, b) => a.add(b))
    .mul(lambda / (2 * m))
}

export function l1Penalty(params: Tensor[], lambda: number, m = 1): Tensor {
  check(params)
  return params
    .map((p) => p.abs().sum())
    .reduce((a, b) => a.add(b))
    .mul(lambda / m)
}

export function elasticNet(params: Tensor[], l1: number, l2: number, m = 1): Tensor {
  return l1Penalty(params, l1, m).add(l2Penalty(params, l2, m))
}

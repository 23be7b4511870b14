/**
 * Weight penalties (CS231n, https://cs231n.github.io/neural-networks-2/; d2l.ai,
 * https://d2l.ai/chapter_linear-regression/weight-decay.html): add to the data loss before backward.
 * L2: lambda / (2m) * sum ||W||^2 (the form of Ng's Deep Learning course,
 * https://www.coursera.org/learn/deep-neural-network; m = batch size, 1 by default); L1: lambda / m * sum |W|
 * (drives weights to exactly zero: sparsity); elastic net: both (Zou & Hastie 2005,
 * https://doi.org/10.1111/j.1467-9868.2005.00503.x). Pass the weights only (biases are not usually
 * penalised). Optimiser weight decay is the same L2 inside the update.
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

/**
 * Linear, Sequential, Flatten, Identity: the basic building blocks, as torch.nn's
 * (https://pytorch.org/docs/stable/generated/torch.nn.Linear.html).
 */
import type { DType } from '../dtype.js'
import { flatten as flattenOp, linear } from '../ops/index.js'
import { zeros } from '../ops/creation.js'
import type { Tensor } from '../tensor.js'
import { kaimingUniform_, uniform_ } from './init.js'
import { Module, Parameter } from './module.js'

export interface LinearOptions {
  bias?: boolean
  dtype?: DType
}

/**
 * y = x W^T + b. Weight (outFeatures, inFeatures) as in PyTorch; initialised as PyTorch does
 * (Kaiming uniform with a = sqrt(5), bias U(-1/sqrt(in), 1/sqrt(in))).
 */
export class Linear extends Module {
  weight: Parameter
  bias: Parameter | null

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    { bias = true, dtype = 'float32' }: LinearOptions = {},
  ) {
    super()
    this.weight = new Parameter(kaimingUniform_(zeros([outFeatures, inFeatures], { dtype }), Math.sqrt(5)))
    const bound = 1 / Math.sqrt(inFeatures)
    this.bias = bias ? new Parameter(uniform_(zeros([outFeatures], { dtype }), -bound, bound)) : null
  }

  forward(x: Tensor): Tensor {
    // (..., in) -> (..., out)
    return linear(x, this.weight, this.bias)
  }
}

/** Modules applied in order; children are named 0, 1, 2, ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[]

  constructor(...layers: Module[]) {
    super()
    this.layers = layers
  }

  // Children are named by index directly ("0.weight"), not "layers.0.weight".
  override *namedChildren(): Iterable<[string, Module<any, any>]> {
    for (let i = 0; i < this.layers.length; i++) yield [String(i), this.layers[i]!]
  }

  forward(x: Tensor): Tensor {
    for (const layer of this.layers) x = layer.call(x)
    return x
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super()
  }
  forward(x: Tensor): Tensor {
    return flattenOp(x, this.startDim, this.endDim)
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x
  }
}

/**
 * Multi-layer perceptron (Rumelhart, Hinton & Williams 1986, https://doi.org/10.1038/323533a0;
 * https://d2l.ai/chapter_multilayer-perceptrons/mlp.html): Linear -> activation [-> dropout] -> ... -> Linear.
 * `sizes` = [inputs, hidden..., outputs]; the last layer has no activation: it returns class scores
 * (N, C) for the cross-entropy loss. Layers are children 0, 1, 2, ... as in torch.nn.Sequential, so
 * the state dict reads `0.weight`, `0.bias`, `2.weight`, ...
 */
import { ArgumentError } from '../errors.js'
import { Linear, Sequential } from '../nn/linear.js'
import { Module } from '../nn/module.js'
import { crossEntropy, dropout, elu, gelu, leakyRelu, relu, sigmoid, silu, tanh } from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import type { DType } from '../dtype.js'
import { Classifier } from './classifier.js'
import { classTargets } from './losses.js'

const ACTIVATIONS = {
  relu: (x: Tensor) => relu(x),
  tanh: (x: Tensor) => tanh(x),
  sigmoid: (x: Tensor) => sigmoid(x),
  // Leaky ReLU with slope 0.01, PyTorch's default and CS231n's (https://cs231n.github.io/neural-networks-1/).
  leakyRelu: (x: Tensor) => leakyRelu(x, 0.01),
  elu: (x: Tensor) => elu(x, 1),
  gelu: (x: Tensor) => gelu(x),
  silu: (x: Tensor) => silu(x),
} as const

export type ActivationName = keyof typeof ACTIVATIONS

/** An element-wise activation as a parameter-free module. */
export class Activation extends Module {
  private readonly fn: (x: Tensor) => Tensor
  constructor(readonly kind: ActivationName) {
    super()
    const fn = Object.hasOwn(ACTIVATIONS, kind) ? ACTIVATIONS[kind] : undefined
    if (!fn) throw new ArgumentError(`unknown activation '${kind}'; one of ${Object.keys(ACTIVATIONS).join(', ')}`)
    this.fn = fn
  }
  forward(x: Tensor): Tensor {
    return this.fn(x)
  }
}

/**
 * Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html; CS231n,
 * https://cs231n.github.io/neural-networks-2/): in training, zero each unit with probability p and scale the
 * survivors by 1 / (1 - p), so the expected activation is unchanged and inference is the identity.
 */
export class MLPDropout extends Module {
  constructor(readonly p: number) {
    super()
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`dropout probability must be in [0, 1), got ${p}`)
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training)
  }
}

export interface MLPOptions {
  /** Hidden-layer activation (default 'relu'). */
  activation?: ActivationName
  /** Dropout probability after each hidden activation (default 0: none). */
  dropout?: number
  dtype?: DType
}

export class MLP extends Classifier {
  readonly net: Sequential

  constructor(
    readonly sizes: number[],
    { activation = 'relu', dropout = 0, dtype = 'float32' }: MLPOptions = {},
  ) {
    super()
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1))
      throw new ArgumentError(
        `MLP sizes must be at least [inputs, outputs] of positive integers, got [${sizes.join(', ')}]`,
      )
    if (!Object.hasOwn(ACTIVATIONS, activation))
      throw new ArgumentError(`unknown activation '${activation}'; one of ${Object.keys(ACTIVATIONS).join(', ')}`)
    const layers: Module[] = []
    for (let i = 0; i + 1 < sizes.length; i++) {
      layers.push(new Linear(sizes[i]!, sizes[i + 1]!, { dtype }))
      if (i + 2 < sizes.length) {
        layers.push(new Activation(activation))
        if (dropout > 0) layers.push(new MLPDropout(dropout))
      }
    }
    this.net = new Sequential(...layers)
  }

  // The layers are this module's children directly ("0.weight"), as in a torch.nn.Sequential MLP.
  override *namedChildren(): Iterable<[string, Module<any, any>]> {
    yield* this.net.namedChildren()
  }

  forward(x: Tensor): Tensor {
    // (N, sizes[0]) -> (N, sizes[last])
    return this.net.call(x)
  }

  /** Cross-entropy against class indices (N). */
  loss(scores: Tensor, target: Tensor): Tensor {
    return crossEntropy(scores, classTargets(target))
  }
}

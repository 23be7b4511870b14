/**
 * Activation layers (https://d2l.ai/chapter_multilayer-perceptrons/mlp.html;
 * https://cs231n.github.io/neural-networks-1/): thin modules over the functional ops, with PyTorch's
 * names and defaults. Each exports as its ONNX operator (Sigmoid, Relu, LeakyRelu, PRelu, Elu, ...).
 *
 * Papers:
 * - ReLU: Nair & Hinton 2010; Glorot, Bordes & Bengio 2011, https://proceedings.mlr.press/v15/glorot11a.html
 * - Leaky ReLU: Maas, Hannun & Ng 2013, https://ai.stanford.edu/~amaas/papers/relu_hybrid_icml2013_final.pdf
 * - PReLU: He et al. 2015, https://arxiv.org/abs/1502.01852
 * - ELU: Clevert, Unterthiner & Hochreiter 2016, https://arxiv.org/abs/1511.07289
 * - SELU: Klambauer et al. 2017, https://arxiv.org/abs/1706.02515
 * - SiLU / Swish: Elfwing et al. 2017, https://arxiv.org/abs/1702.03118; Ramachandran et al. 2017,
 *   https://arxiv.org/abs/1710.05941
 * - Mish: Misra 2019, https://arxiv.org/abs/1908.08681
 * - GELU: Hendrycks & Gimpel 2016, https://arxiv.org/abs/1606.08415
 * - Hardsigmoid: Courbariaux et al. 2015, https://arxiv.org/abs/1511.00363;
 *   https://onnx.ai/onnx/operators/onnx__HardSigmoid.html
 */
import type { DType } from '../dtype.js'
import { apply, defineOp } from '../op.js'
import * as F from '../ops/index.js'
import { full } from '../ops/creation.js'
import type { Tensor } from '../tensor.js'
import { Module, Parameter } from './module.js'

/** sigma(x) = 1 / (1 + e^-x); sigma' = a (1 - a). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x)
  }
}

/** tanh; tanh' = 1 - a^2. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x)
  }
}

/** max(0, x). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x)
  }
}

/** max(0, x) + slope min(0, x), slope 0.01 by default as in torch.nn.LeakyReLU (PyTorch docs). */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super()
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope)
  }
}

/** Leaky ReLU with a learned slope per channel (or one shared), initialised to 0.25 (He et al. 2015). */
export class PReLU extends Module {
  weight: Parameter
  constructor(
    readonly numParameters = 1,
    init = 0.25,
    { dtype = 'float32' }: { dtype?: DType } = {},
  ) {
    super()
    this.weight = new Parameter(full([numParameters], init, { dtype }))
  }
  forward(x: Tensor): Tensor {
    // One slope per channel (dim 1), as torch.nn.PReLU: (C) -> (1, C, 1, ...).
    const slope =
      this.numParameters === 1 || x.rank < 2
        ? this.weight
        : this.weight.reshape(x.shape.map((d, i) => (i === 1 ? d : 1)))
    return F.prelu(x, slope)
  }
}

/** x for x > 0, alpha (e^x - 1) otherwise. */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super()
  }
  forward(x: Tensor): Tensor {
    return F.elu(x, this.alpha)
  }
}

/** Self-normalising ELU (Klambauer et al. 2017) with its fixed alpha and scale. */
export class SELU extends Module {
  forward(x: Tensor): Tensor {
    return F.selu(x)
  }
}

/** x sigmoid(x) (SiLU, a.k.a. Swish with beta 1). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x)
  }
}
export { SiLU as Swish }

/** x tanh(softplus(x)). */
export class Mish extends Module {
  forward(x: Tensor): Tensor {
    return F.mish(x)
  }
}

/** x Phi(x), exact (erf) or the tanh approximation. */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super()
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate)
  }
}

/** PyTorch's Softplus: log(1 + e^(beta x)) / beta, and x itself where beta x > threshold. */
const Softplus_ = defineOp<{ beta: number; threshold: number }>({
  name: 'Softplus',
  forward: ([x], { beta, threshold }) => {
    // beta = 1 (the default) skips the scaling: two passes fewer.
    const bx = beta === 1 ? x! : x!.mul(beta)
    const sp = beta === 1 ? F.softplus(bx) : F.softplus(bx).div(beta)
    return F.where(bx.gt(threshold), x!, sp)
  },
  // NOTE: ONNX Softplus has no beta/threshold; for beta = 1 the threshold changes the value by
  // less than e^-20 (2e-9), so it exports as Softplus; other betas scale around it.
  onnx: (ctx, [x], { attrs }) => {
    if (attrs.beta === 1) return ctx.node('Softplus', [x!])
    const [bx] = ctx.node('Mul', [x!, ctx.constant([attrs.beta], 'float32', [])])
    const [sp] = ctx.node('Softplus', [bx!])
    return ctx.node('Div', [sp!, ctx.constant([attrs.beta], 'float32', [])])
  },
})
export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super()
  }
  forward(x: Tensor): Tensor {
    return apply(Softplus_, [x], { beta: this.beta, threshold: this.threshold })
  }
}

/** Numerically stable softmax along `dim`. */
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super()
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim)
  }
}

export class LogSoftmax extends Module {
  constructor(readonly dim = -1) {
    super()
  }
  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim)
  }
}

/** max(0, min(1, x/6 + 1/2)) as PyTorch (ONNX HardSigmoid with alpha 1/6). */
export class Hardsigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.hardSigmoid(x, 1 / 6, 0.5)
  }
}

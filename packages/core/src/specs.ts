/**
 * The registry of @refnets/core: the classic models and every single layer as a ModelSpec. The
 * benchmark harness (`pnpm bench`) and test/specs.test.ts iterate over `specs`; adding an entry here
 * is all a new layer needs to get its shape, gradient and ONNX Runtime checks and its benchmark.
 *
 * Sizes: `small` keeps tests fast (batch 4); `bench` is MNIST-sized (batch 64 of 784 features; 256 features
 * for the single layers).
 */
import { Generator, manualSeed } from './random.js'
import { randn } from './ops/index.js'
import { noGrad } from './autograd.js'
import { Module, Parameter } from './nn/module.js'
import { matmul } from './ops/index.js'
import { zeros } from './ops/creation.js'
import { uniform_ } from './nn/init.js'
import * as nn from './nn/index.js'
import { LogisticRegression } from './models/logistic-regression.js'
import { MLP } from './models/mlp.js'
import { SoftmaxRegression } from './models/softmax-regression.js'
import type { ModelSpec, SpecSize } from './spec.js'
import type { Tensor } from './tensor.js'

type Shapes = Record<SpecSize, number[]>

/** A spec with one seeded N(0, 1) input of shape `input[size]`. */
function spec(
  name: string,
  family: string,
  paper: string,
  make: () => Module<any, any>,
  input: Shapes,
  output: Shapes,
): ModelSpec {
  return {
    name,
    family,
    paper,
    build: (seed) => {
      manualSeed(seed)
      return make()
    },
    inputs: (size, seed): Tensor[] => [randn(input[size], { generator: new Generator(seed) })],
    outputShape: (size) => output[size],
  }
}

const MNIST: Shapes = { small: [4, 784], bench: [64, 784] }
const FEATURES: Shapes = { small: [4, 256], bench: [64, 256] }

/** Batch norm with running statistics that are not the initial 0 / 1: three training steps first. */
function warmedBatchNorm(): nn.BatchNorm1d {
  const bn = new nn.BatchNorm1d(256)
  noGrad(() => {
    for (let i = 0; i < 3; i++) bn.call(randn([32, 256], { mean: 0.5, std: 2 }))
  })
  return bn
}

/** x @ W for a (k, n) weight: a bare GEMM, the microbenchmark of the kernels (bench size 512 x 512 x 512). */
class MatMul extends Module {
  weight: Parameter

  constructor(k: number, n: number) {
    super()
    this.weight = new Parameter(uniform_(zeros([k, n]), -1 / Math.sqrt(k), 1 / Math.sqrt(k)))
  }

  forward(x: Tensor): Tensor {
    // (m, k) -> (m, n)
    return matmul(x, this.weight)
  }
}

/** x + y: one element-wise op, the per-call overhead of the smallest model there is. */
class AddModule extends Module<[Tensor, Tensor]> {
  forward(x: Tensor, y: Tensor): Tensor {
    return x.add(y)
  }
}

/** One 3-element add (two inputs): per-op overhead against ONNX Runtime's per-call overhead. */
const add3: ModelSpec = {
  name: 'add-3',
  family: 'layer',
  paper: 'ONNX Add (https://onnx.ai/onnx/operators/onnx__Add.html)',
  build: () => new AddModule(),
  inputs: (_, seed) => {
    const g = new Generator(seed)
    return [randn([3], { generator: g }), randn([3], { generator: g })]
  },
  outputShape: () => [3],
  trainable: false,
}

/** One sample through a tiny model: where per-op overhead, not arithmetic, is the cost. */
const TINY: Shapes = { small: [1, 4], bench: [1, 4] }

const activations: [string, string, () => Module<any, any>][] = [
  ['sigmoid', 'https://d2l.ai/chapter_multilayer-perceptrons/mlp.html', () => new nn.Sigmoid()],
  ['tanh', 'https://d2l.ai/chapter_multilayer-perceptrons/mlp.html', () => new nn.Tanh()],
  ['relu', 'Nair & Hinton 2010', () => new nn.ReLU()],
  ['leaky-relu', 'Maas et al. 2013', () => new nn.LeakyReLU(0.1)],
  ['prelu', 'He et al. 2015', () => new nn.PReLU()],
  ['elu', 'Clevert et al. 2016', () => new nn.ELU()],
  ['selu', 'Klambauer et al. 2017', () => new nn.SELU()],
  ['silu', 'Ramachandran et al. 2017 (Swish)', () => new nn.SiLU()],
  ['mish', 'Misra 2019', () => new nn.Mish()],
  ['gelu', 'Hendrycks & Gimpel 2016', () => new nn.GELU()],
  ['gelu-tanh', 'Hendrycks & Gimpel 2016 (tanh approximation)', () => new nn.GELU('tanh')],
  ['softplus', 'Dugas et al. 2001', () => new nn.Softplus()],
  ['softmax', 'Bridle 1990', () => new nn.Softmax(-1)],
  ['log-softmax', 'Bridle 1990', () => new nn.LogSoftmax(-1)],
  ['hardsigmoid', 'Courbariaux et al. 2015', () => new nn.Hardsigmoid()],
]

export const specs: ModelSpec[] = [
  spec(
    'logistic-regression',
    'linear-model',
    'Cox 1958, https://doi.org/10.1111/j.2517-6161.1958.tb00292.x',
    () => new LogisticRegression(784),
    MNIST,
    {
      small: [4],
      bench: [64],
    },
  ),
  spec(
    'softmax-regression',
    'linear-model',
    'https://d2l.ai/chapter_linear-classification/softmax-regression.html',
    () => new SoftmaxRegression(784, 10),
    MNIST,
    {
      small: [4, 10],
      bench: [64, 10],
    },
  ),
  spec(
    'mlp-mnist',
    'mlp',
    'Rumelhart et al. 1986, https://doi.org/10.1038/323533a0',
    () => new MLP([784, 256, 10]),
    MNIST,
    {
      small: [4, 10],
      bench: [64, 10],
    },
  ),
  spec('mlp-tiny', 'tiny', 'Rumelhart et al. 1986', () => new MLP([4, 16, 3]), TINY, { small: [1, 3], bench: [1, 3] }),
  spec('logistic-regression-tiny', 'tiny', 'Cox 1958', () => new LogisticRegression(4), TINY, {
    small: [1],
    bench: [1],
  }),
  add3,
  spec(
    'matmul-512',
    'gemm',
    'Goto & van de Geijn 2008, https://doi.org/10.1145/1356052.1356053',
    () => new MatMul(512, 512),
    { small: [8, 512], bench: [512, 512] },
    { small: [8, 512], bench: [512, 512] },
  ),
  spec(
    'linear',
    'layer',
    'https://pytorch.org/docs/stable/generated/torch.nn.Linear.html',
    () => new nn.Linear(256, 256),
    FEATURES,
    FEATURES,
  ),
  spec('layer-norm', 'layer', 'Ba et al. 2016', () => new nn.LayerNorm(256), FEATURES, FEATURES),
  spec('batch-norm1d', 'layer', 'Ioffe & Szegedy 2015', warmedBatchNorm, FEATURES, FEATURES),
  ...activations.map(([name, paper, make]) => spec(name, 'activation', paper, make, FEATURES, FEATURES)),
]

/**
 * LeNet-5. LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document
 * recognition", https://doi.org/10.1109/5.726791 (d2l.ai 7.6,
 * https://d2l.ai/chapter_convolutional-neural-networks/lenet.html).
 *
 * Key idea: convolutions learn local features with shared weights, pooling makes them tolerant to
 * small shifts, and fully connected layers map them to classes: conv-pool-conv-pool-fc-fc-output
 * The first CNN trained end to end with backpropagation (on handwritten digits).
 *
 * Two versions:
 * - `lenet5()`: d2l.ai's LeNet (7.6): sigmoid activations and average pooling as in 1998, the first
 *   conv padded by 2 so 28x28 MNIST digits play the role of the paper's 32x32 input; the Gaussian
 *   output layer is a plain linear layer.
 * - `lenet5Modern()`: the same shape with ReLU and max pooling, which trains much faster.
 * Both are a Sequential (children named 0..11, as `nn.Sequential` in d2l's PyTorch code).
 */
import { nn } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { AvgPool2d, MaxPool2d } from '../layers/pool.js'

export interface LeNetOptions {
  activation?: 'sigmoid' | 'relu'
  pool?: 'avg' | 'max'
  inChannels?: number
  numClasses?: number
}

/**
 * LeNet-5 as a Sequential. Shapes for a (B, 1, 28, 28) input:
 *   0 conv 5x5 pad 2   (B, 1, 28, 28) -> (B, 6, 28, 28)
 *   2 pool 2x2         -> (B, 6, 14, 14)
 *   3 conv 5x5         -> (B, 16, 10, 10)
 *   5 pool 2x2         -> (B, 16, 5, 5)
 *   6 flatten          -> (B, 400)
 *   7 fc               -> (B, 120);  9 fc -> (B, 84);  11 fc -> (B, numClasses)
 */
export function lenet5({
  activation = 'sigmoid',
  pool = 'avg',
  inChannels = 1,
  numClasses = 10,
}: LeNetOptions = {}): nn.Sequential {
  const act = () => (activation === 'relu' ? new nn.ReLU() : new nn.Sigmoid())
  const pooling = () => (pool === 'max' ? new MaxPool2d(2, { stride: 2 }) : new AvgPool2d(2, { stride: 2 }))
  return new nn.Sequential(
    new Conv2d(inChannels, 6, 5, { padding: 2 }),
    act(),
    pooling(),
    new Conv2d(6, 16, 5),
    act(),
    pooling(),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120),
    act(),
    new nn.Linear(120, 84),
    act(),
    new nn.Linear(84, numClasses),
  )
}

/** LeNet-5 with ReLU and max pooling. */
export const lenet5Modern = (opts: Omit<LeNetOptions, 'activation' | 'pool'> = {}) =>
  lenet5({ ...opts, activation: 'relu', pool: 'max' })

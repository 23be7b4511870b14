/**
 * BatchNorm2d and LocalResponseNorm.
 *
 * Batch normalisation (批量归一化; Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167; d2l.ai,
 * https://d2l.ai/chapter_convolutional-modern/batch-norm.html): normalise each channel
 * over the batch and the spatial positions, then scale and shift with learned gamma (`weight`) and
 * beta (`bias`). Training uses the batch statistics and updates running averages; evaluation uses
 * the running averages. It lets deeper nets train faster with larger learning rates.
 *
 * Local response normalisation (Krizhevsky et al. 2012, AlexNet, section 3.3,
 * https://doi.org/10.1145/3065386; https://onnx.ai/onnx/operators/onnx__LRN.html): each activation is divided by a
 * power of the summed squares of its neighbours across channels, a form of lateral inhibition. Batch norm replaced it.
 */
import { Module, type Tensor, localResponseNorm, nn } from '@refnets/core'

/**
 * torch.nn.BatchNorm2d: x (B, C, H, W) -> same shape, statistics per channel over B, H and W.
 * Parameters `weight` (gamma, ones) and `bias` (beta, zeros); buffers `running_mean` (zeros),
 * `running_var` (ones, updated with the unbiased batch variance) and `num_batches_tracked`.
 * The train/eval logic is core's `nn.BatchNorm`, shared with BatchNorm1d.
 */
export class BatchNorm2d extends nn.BatchNorm {
  constructor(numFeatures: number, opts: nn.BatchNormOptions = {}) {
    super(numFeatures, [4], opts)
  }
}

export interface LocalResponseNormOptions {
  alpha?: number
  beta?: number
  k?: number
}

/**
 * torch.nn.LocalResponseNorm: b_c = a_c / (k + alpha / size * sum over `size` neighbouring channels
 * of a^2)^beta. Defaults alpha 1e-4, beta 0.75, k 1 (PyTorch).
 * NOTE: the AlexNet paper writes k + alpha * sum (no division by n = size) with k = 2, n = 5,
 * alpha = 1e-4, beta = 0.75; PyTorch and ONNX divide alpha by size, so the paper's layer is
 * `new LocalResponseNorm(5, { alpha: 5e-4, beta: 0.75, k: 2 })` (see ALEXNET_LRN in models/alexnet.ts).
 */
export class LocalResponseNorm extends Module {
  readonly alpha: number
  readonly beta: number
  readonly k: number

  constructor(
    readonly size: number,
    { alpha = 1e-4, beta = 0.75, k = 1 }: LocalResponseNormOptions = {},
  ) {
    super()
    this.alpha = alpha
    this.beta = beta
    this.k = k
  }

  forward(x: Tensor): Tensor {
    // (B, C, H, W) -> (B, C, H, W)
    return localResponseNorm(x, { size: this.size, alpha: this.alpha, beta: this.beta, k: this.k })
  }
}

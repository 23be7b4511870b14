/**
 * Neural style transfer. Gatys, Ecker & Bethge 2016, "Image style transfer using convolutional
 * neural networks" (CVPR; first as https://arxiv.org/abs/1508.06576; d2l.ai 14.12,
 * https://d2l.ai/chapter_computer-vision/neural-style.html).
 *
 * Key idea: the parameters being optimised are the pixels of the generated image; the network is a
 * fixed, pretrained feature extractor (VGG). Three losses pull on the image:
 * - content loss: squared error between its activations and the content image's at a deep layer
 *   (deep layers keep what is where, not the exact pixels);
 * - style loss: squared error between Gram matrices (channel-by-channel correlations of the
 *   activations, which forget where things are and keep textures and colours) at several layers;
 * - total-variation loss: the differences between neighbouring pixels, which smooths out
 *   high-frequency noise.
 * The image starts as the content image and is improved by gradient descent (Adam here).
 */
import {
  ArgumentError,
  type Module,
  Parameter,
  ShapeError,
  type Tensor,
  mseLoss,
  nn,
  noGrad,
  optim,
  tensor,
} from '@refnets/core'
import { IMAGENET_MEAN, IMAGENET_STD } from './augment/index.js'
import { VGG_ARCHS, type VggArch, vggBlock } from './models/vgg.js'
import { freeze } from './transfer.js'

/**
 * Gram matrix of feature maps (B, C, H, W) -> (B, C, C) (or (C, H, W) -> (C, C)): G_ij = sum over
 * positions of F_i F_j, divided by C H W (d2l's normalisation, so values do not grow with the layer
 * size; Gatys et al. fold 1 / (4 C^2 (HW)^2) into the loss instead). `normalize: false` gives the plain sum.
 */
export function gramMatrix(features: Tensor, { normalize = true }: { normalize?: boolean } = {}): Tensor {
  if (features.rank !== 3 && features.rank !== 4)
    throw new ShapeError(`gramMatrix: expected features (B, C, H, W) or (C, H, W), got [${features.shape.join(', ')}]`)
  const batched = features.rank === 4
  const [b, c, h, w] = (batched ? features.shape : [1, ...features.shape]) as [number, number, number, number]
  const f = features.reshape(b, c, h * w) // (B, C, HW)
  let g = f.matmul(f.transpose(1, 2)) // (B, C, C)
  if (normalize) g = g.div(c * h * w)
  return batched ? g : g.reshape(c, c)
}

/** Content loss: mean squared error between the generated image's and the content image's activations. */
export function contentLoss(generated: Tensor, target: Tensor): Tensor {
  return mseLoss(generated, target.detach())
}

/** Style loss at one layer: mean squared error between the Gram matrix of `generated` and `targetGram`. */
export function styleLoss(generated: Tensor, targetGram: Tensor): Tensor {
  return mseLoss(gramMatrix(generated), targetGram.detach())
}

/**
 * Total variation of images (B, C, H, W) or (C, H, W): 0.5 (mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|),
 * d2l's anisotropic L1 form; `squared: true` uses squared differences instead.
 */
export function totalVariationLoss(x: Tensor, { squared = false }: { squared?: boolean } = {}): Tensor {
  if (x.rank !== 3 && x.rank !== 4)
    throw new ShapeError(`totalVariationLoss: expected images (B, C, H, W) or (C, H, W), got [${x.shape.join(', ')}]`)
  const [hAxis, wAxis] = [x.rank - 2, x.rank - 1]
  const h = x.shape[hAxis]!
  const w = x.shape[wAxis]!
  if (h < 2 || w < 2) throw new ShapeError(`totalVariationLoss: needs at least 2x2 pixels, got ${h}x${w}`)
  const dy = x.slice(hAxis, 1, h).sub(x.slice(hAxis, 0, h - 1))
  const dx = x.slice(wAxis, 1, w).sub(x.slice(wAxis, 0, w - 1))
  const penalty = (d: Tensor) => (squared ? d.square() : d.abs()).mean()
  return penalty(dy).add(penalty(dx)).mul(0.5)
}

/**
 * The convolutional part of a VGG (torchvision's `features`: features.0 is the first conv), without
 * the large classifier, so it is cheap to build. Load pretrained weights with the `features.`
 * prefix removed from their names.
 */
export function vggFeatures(
  arch: VggArch = VGG_ARCHS.vgg19,
  { inChannels = 3 }: { inChannels?: number } = {},
): nn.Sequential {
  const layers: Module[] = []
  let c = inChannels
  for (const [numConvs, outChannels] of arch) {
    layers.push(...vggBlock(numConvs, c, outChannels))
    c = outChannels
  }
  const seq = new nn.Sequential(...layers)
  for (const [, m] of seq.namedModules()) {
    const conv = m as unknown as { weight?: Parameter; bias?: Parameter | null }
    // torchvision's VGG init: Kaiming normal (fan_out, ReLU) weights, zero biases.
    if (conv.weight && conv.weight.rank === 4) {
      nn.kaimingNormal_(conv.weight, 0, 'fan_out')
      if (conv.bias) nn.zeros_(conv.bias)
    }
  }
  return seq
}

/** d2l's choice for VGG-19: style at the first conv of each block (conv1_1 ... conv5_1), content at conv4_2. */
export const VGG19_STYLE_LAYERS = [0, 5, 10, 19, 28] as const
export const VGG19_CONTENT_LAYERS = [25] as const

/**
 * Runs a Sequential and returns the outputs of the chosen layers (by index), stopping after the
 * deepest one. Input is an image batch in [0, 1]; it is standardised with `mean`/`std` first
 * (ImageNet's by default, what pretrained VGG weights expect).
 */
export class FeatureExtractor {
  private readonly mean: Tensor
  private readonly std: Tensor

  constructor(
    readonly net: nn.Sequential,
    readonly layers: readonly number[],
    { mean = IMAGENET_MEAN, std = IMAGENET_STD }: { mean?: readonly number[]; std?: readonly number[] } = {},
  ) {
    for (const i of layers)
      if (!Number.isInteger(i) || i < 0 || i >= net.layers.length)
        throw new ArgumentError(`FeatureExtractor: layer ${i} is out of range for ${net.layers.length} layers`)
    this.mean = tensor([...mean]).reshape(1, mean.length, 1, 1)
    this.std = tensor([...std]).reshape(1, std.length, 1, 1)
  }

  /** (B, C, H, W) in [0, 1] -> the activations of `layers`, in the order given. */
  extract(x: Tensor): Tensor[] {
    const last = Math.max(...this.layers)
    const found = new Map<number, Tensor>()
    let h = x.sub(this.mean).div(this.std)
    for (let i = 0; i <= last; i++) {
      h = this.net.layers[i]!.call(h)
      if (this.layers.includes(i)) found.set(i, h)
    }
    return this.layers.map((i) => found.get(i)!)
  }
}

export interface StyleTransferOptions {
  /** The feature network (e.g. `vggFeatures()` with pretrained weights); frozen and put in eval mode. */
  net: nn.Sequential
  /** Content image (1, 3, H, W) in [0, 1]; the result has its size and starts from it. */
  content: Tensor
  /** Style image (1, 3, H', W') in [0, 1]. */
  style: Tensor
  contentLayers?: readonly number[]
  styleLayers?: readonly number[]
  /** Loss weights (d2l: content 1, style 1e4, total variation 10). */
  contentWeight?: number
  styleWeight?: number
  tvWeight?: number
  /** Adam steps (default 100) and learning rate (default 0.01 for pixels in [0, 1]). */
  steps?: number
  lr?: number
  /** Called after every step with the step number and the losses. */
  onStep?: (step: number, losses: StyleLosses) => void
}

export interface StyleLosses {
  content: number
  style: number
  tv: number
  total: number
}

/**
 * Optimise an image so its features match the content image's at `contentLayers` and its Gram
 * matrices match the style image's at `styleLayers`, with a total-variation penalty. Pixels are
 * clamped to [0, 1] after each step. Returns the image (1, 3, H, W) and the losses of every step.
 */
export function styleTransfer({
  net,
  content,
  style,
  contentLayers = VGG19_CONTENT_LAYERS,
  styleLayers = VGG19_STYLE_LAYERS,
  contentWeight = 1,
  styleWeight = 1e4,
  tvWeight = 10,
  steps = 100,
  lr = 0.01,
  onStep,
}: StyleTransferOptions): { image: Tensor; history: StyleLosses[] } {
  for (const [name, t] of [
    ['content', content],
    ['style', style],
  ] as const)
    if (t.rank !== 4 || t.shape[0] !== 1)
      throw new ShapeError(`styleTransfer: expected the ${name} image as (1, C, H, W), got [${t.shape.join(', ')}]`)
  freeze(net)
  net.eval()
  const extractor = new FeatureExtractor(net, [...contentLayers, ...styleLayers])
  const nc = contentLayers.length
  const [contentTargets, styleGrams] = noGrad(() => {
    const fc = extractor.extract(content).slice(0, nc)
    const gs = extractor
      .extract(style)
      .slice(nc)
      .map((f) => gramMatrix(f))
    return [fc, gs] as const
  })
  const image = new Parameter(content.clone())
  const opt = new optim.Adam([image], { lr })
  const history: StyleLosses[] = []
  for (let step = 1; step <= steps; step++) {
    opt.zeroGrad()
    const feats = extractor.extract(image)
    const lc = feats
      .slice(0, nc)
      .reduce(
        (acc: Tensor | null, f, i) =>
          acc ? acc.add(contentLoss(f, contentTargets[i]!)) : contentLoss(f, contentTargets[i]!),
        null,
      )!
    const ls = feats
      .slice(nc)
      .reduce(
        (acc: Tensor | null, f, i) => (acc ? acc.add(styleLoss(f, styleGrams[i]!)) : styleLoss(f, styleGrams[i]!)),
        null,
      )!
    const ltv = totalVariationLoss(image)
    const total = lc.mul(contentWeight).add(ls.mul(styleWeight)).add(ltv.mul(tvWeight))
    total.backward()
    opt.step()
    // Keep the pixels displayable.
    const px = image.storage
    for (let i = 0; i < px.length; i++) px[i] = Math.min(1, Math.max(0, px[i]!))
    const losses = { content: lc.item(), style: ls.item(), tv: ltv.item(), total: total.item() }
    history.push(losses)
    onStep?.(step, losses)
  }
  return { image: image.detach(), history }
}

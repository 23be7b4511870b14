/**
 * NiN, Network in Network. Lin, Chen & Yan 2013, "Network in network", https://arxiv.org/abs/1312.4400
 * (d2l.ai 8.3, https://d2l.ai/chapter_convolutional-modern/nin.html).
 *
 * Key idea: drop the fully connected layers (most of AlexNet's and VGG's parameters) and use 1x1
 * convolutions instead ("drop the fully connected layers, use 1x1 convolutions in their place",
 * 抛弃全连接层，使用1 * 1卷积层替代). A NiN block is a conv
 * followed by two 1x1 convs, a small per-pixel MLP across channels; the last block has one channel
 * per class and a global average pool turns each channel into a logit.
 *
 * This is d2l.ai's NiN (8.3): a Sequential of blocks, children named 0..9 (conv weights "0.0.weight",
 * "0.2.weight", ...), the AlexNet-like widths 96/256/384, dropout before the class block.
 */
import { type Module, nn } from '@refnets/core'
import { Conv2d } from '../layers/conv.js'
import { GlobalAvgPool2d, MaxPool2d } from '../layers/pool.js'

/** conv k x k (stride, padding), ReLU, then two (1x1 conv, ReLU): (B, C_in, H, W) -> (B, C_out, H', W'). */
export function ninBlock(
  inChannels: number,
  outChannels: number,
  kernelSize: number,
  stride: number,
  padding: number,
): nn.Sequential {
  return new nn.Sequential(
    new Conv2d(inChannels, outChannels, kernelSize, { stride, padding }),
    new nn.ReLU(),
    new Conv2d(outChannels, outChannels, 1),
    new nn.ReLU(),
    new Conv2d(outChannels, outChannels, 1),
    new nn.ReLU(),
  )
}

/** (out channels, kernel, stride, padding) of the three feature blocks. */
export const NIN_BLOCKS = [
  [96, 11, 4, 0],
  [256, 5, 1, 2],
  [384, 3, 1, 1],
] as const

export interface NiNOptions {
  numClasses?: number
  /** d2l trains on Fashion-MNIST resized to 224x224: one channel. */
  inChannels?: number
  dropout?: number
}

/**
 * NiN. Shapes for a (B, 1, 224, 224) input:
 *   block 96 11x11/4 -> (B, 96, 54, 54) -> pool 3/2 -> (B, 96, 26, 26)
 *   block 256 5x5    -> (B, 256, 26, 26) -> pool -> (B, 256, 12, 12)
 *   block 384 3x3    -> (B, 384, 12, 12) -> pool -> (B, 384, 5, 5)
 *   dropout, block numClasses 3x3 -> (B, numClasses, 5, 5)
 *   global average pool -> (B, numClasses, 1, 1) -> flatten -> (B, numClasses)
 */
export function nin({ numClasses = 10, inChannels = 1, dropout = 0.5 }: NiNOptions = {}): nn.Sequential {
  const layers: Module[] = []
  let c = inChannels
  for (const [out, k, s, p] of NIN_BLOCKS) {
    layers.push(ninBlock(c, out, k, s, p), new MaxPool2d(3, { stride: 2 }))
    c = out
  }
  layers.push(new nn.Dropout(dropout), ninBlock(c, numClasses, 3, 1, 1), new GlobalAvgPool2d(), new nn.Flatten())
  return new nn.Sequential(...layers)
}

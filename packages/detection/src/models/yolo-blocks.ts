/**
 * Building blocks of YOLOv3/v4 (Redmon & Farhadi 2018, https://arxiv.org/abs/1804.02767;
 * Bochkovskiy, Wang & Liao 2020, "YOLOv4", https://arxiv.org/abs/2004.10934):
 * - ConvBnAct: convolution without bias, batch norm, then Leaky ReLU (0.1), Mish or identity;
 * - DarknetResidual: 1x1 then 3x3 convolution with a shortcut;
 * - CspStage (Wang et al. 2019, "CSPNet", https://arxiv.org/abs/1911.11929): a stride-2 conv, then the
 *   map is split into two 1x1 projections; only one goes through the residual blocks, and the two
 *   are concatenated and fused: half the computation, and gradients that do not repeat;
 * - Spp (He et al. 2014, https://arxiv.org/abs/1406.4729, as YOLOv4 uses it): max pools of 5, 9 and
 *   13 with stride 1 concatenated with the input, to widen the receptive field at no cost in resolution;
 * - upsample2x: nearest-neighbour doubling, written as reshape/expand so that it exports to ONNX.
 */
import { Module, type Tensor, concat, nn } from '@refnets/core'
import { BatchNorm2d, Conv2d, DropBlock, MaxPool2d } from '@refnets/cnn'

export type YoloAct = 'leaky' | 'mish' | 'linear'

export class ConvBnAct extends Module {
  conv: Conv2d
  bn: BatchNorm2d
  act: Module | null

  constructor(cin: number, cout: number, k: number, { stride = 1, act = 'leaky' as YoloAct } = {}) {
    super()
    this.conv = new Conv2d(cin, cout, k, { stride, padding: (k - 1) >> 1, bias: false })
    this.bn = new BatchNorm2d(cout)
    this.act = act === 'leaky' ? new nn.LeakyReLU(0.1) : act === 'mish' ? new nn.Mish() : null
  }

  forward(x: Tensor): Tensor {
    const y = this.bn.call(this.conv.call(x))
    return this.act ? this.act.call(y) : y
  }
}

export class DarknetResidual extends Module {
  cv1: ConvBnAct
  cv2: ConvBnAct

  constructor(c: number, hidden: number, act: YoloAct) {
    super()
    this.cv1 = new ConvBnAct(c, hidden, 1, { act })
    this.cv2 = new ConvBnAct(hidden, c, 3, { act })
  }

  forward(x: Tensor): Tensor {
    return x.add(this.cv2.call(this.cv1.call(x)))
  }
}

/** A CSP-Darknet stage: (N, cin, H, W) -> (N, cout, H/2, W/2). */
export class CspStage extends Module {
  down: ConvBnAct
  split0: ConvBnAct
  split1: ConvBnAct
  blocks: nn.Sequential
  post: ConvBnAct
  fuse: ConvBnAct

  constructor(cin: number, cout: number, numBlocks: number, { first = false, act = 'mish' as YoloAct } = {}) {
    super()
    // YOLOv4's first stage keeps the full width in both branches; later stages split it in half.
    const hidden = first ? cout : cout / 2
    this.down = new ConvBnAct(cin, cout, 3, { stride: 2, act })
    this.split0 = new ConvBnAct(cout, hidden, 1, { act })
    this.split1 = new ConvBnAct(cout, hidden, 1, { act })
    this.blocks = new nn.Sequential(
      ...Array.from({ length: numBlocks }, () => new DarknetResidual(hidden, first ? hidden / 2 : hidden, act)),
    )
    this.post = new ConvBnAct(hidden, hidden, 1, { act })
    this.fuse = new ConvBnAct(2 * hidden, cout, 1, { act })
  }

  forward(x: Tensor): Tensor {
    const d = this.down.call(x) // (N, cin, H, W) -> (N, cout, H/2, W/2)
    const a = this.split0.call(d) // shortcut branch (N, hidden, H/2, W/2)
    const b = this.post.call(this.blocks.call(this.split1.call(d))) // residual branch
    return this.fuse.call(concat([b, a], 1)) // (N, 2 hidden, ...) -> (N, cout, ...)
  }
}

/** Spatial pyramid pooling: (N, C, H, W) -> (N, 4C, H, W). */
export class Spp extends Module {
  pools: MaxPool2d[]

  constructor(sizes = [5, 9, 13]) {
    super()
    this.pools = sizes.map((k) => new MaxPool2d(k, { stride: 1, padding: k >> 1 }))
  }

  forward(x: Tensor): Tensor {
    return concat([...this.pools.map((p) => p.call(x)).reverse(), x], 1)
  }
}

/** Nearest-neighbour 2x upsampling: (N, C, H, W) -> (N, C, 2H, 2W). */
export function upsample2x(x: Tensor): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number]
  return x
    .reshape(n, c, h, 1, w, 1)
    .expand(n, c, h, 2, w, 2)
    .reshape(n, c, 2 * h, 2 * w)
}

/** A stack of 1x1 / 3x3 ConvBnAct alternating (YOLO's "conv set"), ending in 1x1 to `c`; optional DropBlock. */
export function convSet(cin: number, c: number, n: number, act: YoloAct = 'leaky', dropBlock = 0): nn.Sequential {
  const layers: Module[] = []
  for (let i = 0; i < n; i++)
    layers.push(new ConvBnAct(i === 0 ? cin : i % 2 ? c : 2 * c, i % 2 ? 2 * c : c, i % 2 ? 3 : 1, { act }))
  if (dropBlock > 0) layers.push(new DropBlock({ blockSize: 3, dropRate: dropBlock }))
  return new nn.Sequential(...layers)
}

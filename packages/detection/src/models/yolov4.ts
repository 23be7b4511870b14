/**
 * YOLOv4 (Bochkovskiy, Wang & Liao 2020, https://arxiv.org/abs/2004.10934) and smaller versions of
 * the same design.
 *
 * Key idea: a one-stage detector that predicts, on an S x S grid at three strides (8, 16, 32), for
 * each cell and each of its 3 anchors: box offsets (tx, ty, tw, th), an objectness logit and class
 * logits (YOLOv3's head, https://arxiv.org/abs/1804.02767). YOLOv4 assembles a "bag of specials":
 * a CSP-Darknet-53 backbone with Mish, SPP on the coarsest map, and a PAN neck (Liu et al. 2018,
 * https://arxiv.org/abs/1803.01534) that adds a bottom-up path after FPN's top-down one, so that
 * localisation detail from fine maps reaches the coarse heads.
 *
 * Forward gives the raw head maps, finest first: (N, A (5 + C), H/8, W/8), (.., H/16, ..), (.., H/32, ..);
 * yolo-loss.ts decodes and trains them.
 */
import { ArgumentError, Module, type Tensor, concat } from '@refnets/core'
import { Conv2d } from '@refnets/cnn'
import { ConvBnAct, CspStage, Spp, convSet, upsample2x } from './yolo-blocks.js'

export interface YoloV4Config {
  /** Stem width and the widths of the five CSP stages (YOLOv4: 32; 64, 128, 256, 512, 1024). */
  widths: [number, number, number, number, number, number]
  /** Residual blocks per stage (YOLOv4: 1, 2, 8, 8, 4). */
  depths: [number, number, number, number, number]
  /** Convs in each neck "conv set" (YOLOv4: 5). */
  neckDepth: number
}

export const YOLOV4_CONFIG: YoloV4Config = {
  widths: [32, 64, 128, 256, 512, 1024],
  depths: [1, 2, 8, 8, 4],
  neckDepth: 5,
}
/** A small YOLO of the same design that trains on two CPU cores. */
export const SMALL_YOLO_CONFIG: YoloV4Config = {
  widths: [8, 16, 24, 32, 48, 64],
  depths: [1, 1, 1, 1, 1],
  neckDepth: 3,
}

export interface YoloV4Options {
  numClasses?: number
  anchorsPerLevel?: number
  config?: YoloV4Config
  /** DropBlock rate in the neck during training (0: off). */
  dropBlock?: number
  /**
   * Prior probability p for the objectness and class outputs at initialisation: their biases are set
   * to -log((1 - p) / p), so every cell starts out predicting "no object" with probability 1 - p
   * (RetinaNet's prior, Lin et al. 2017, https://arxiv.org/abs/1708.02002, which YOLOv5's heads
   * also use). Without it the many negatives dominate the first steps of training. Default: the
   * convolution's plain initialisation.
   */
  priorProbability?: number
}

/** Set the objectness and class biases of a head's output convolution to the logit of p. */
export function setHeadPrior(out: Conv2d, anchorsPerLevel: number, numClasses: number, p: number): void {
  if (!(p > 0 && p < 1)) throw new ArgumentError(`priorProbability must be in (0, 1), got ${p}`)
  const bias = out.bias
  if (!bias) throw new ArgumentError('setHeadPrior: the output convolution has no bias')
  if (bias.shape[0] !== anchorsPerLevel * (5 + numClasses))
    throw new ArgumentError(
      `setHeadPrior: ${bias.shape[0]} output channels; expected ${anchorsPerLevel} x (5 + ${numClasses})`,
    )
  if (!bias.isContiguous) throw new ArgumentError('setHeadPrior: the bias is not contiguous')
  const b = -Math.log((1 - p) / p)
  for (let a = 0; a < anchorsPerLevel; a++)
    for (let k = 4; k < 5 + numClasses; k++) bias.storage[bias.offset + a * (5 + numClasses) + k] = b // objectness (4), classes
}

/** CSP-Darknet backbone: (N, 3, H, W) -> [C3 (stride 8), C4 (16), C5 (32)]. */
export class CspDarknet extends Module<[Tensor], Tensor[]> {
  stem: ConvBnAct
  stages: CspStage[]

  constructor(c: YoloV4Config) {
    super()
    const w = c.widths
    this.stem = new ConvBnAct(3, w[0], 3, { act: 'mish' })
    this.stages = c.depths.map((d, i) => new CspStage(w[i]!, w[i + 1]!, d, { first: i === 0, act: 'mish' }))
  }

  forward(x: Tensor): Tensor[] {
    let y = this.stem.call(x) // (N, 3, H, W) -> (N, w0, H, W)
    const outs: Tensor[] = []
    for (const s of this.stages) {
      y = s.call(y) // halves H and W each stage: strides 2, 4, 8, 16, 32
      outs.push(y)
    }
    return outs.slice(2) // strides 8, 16, 32
  }
}

export class YoloV4 extends Module<[Tensor], Tensor[]> {
  backbone: CspDarknet
  spp_pre: Module
  spp: Spp
  spp_post: Module
  lat4: ConvBnAct
  up5: ConvBnAct
  td4: Module
  lat3: ConvBnAct
  up4: ConvBnAct
  td3: Module
  down3: ConvBnAct
  bu4: Module
  down4: ConvBnAct
  bu5: Module
  head3: ConvBnAct
  head4: ConvBnAct
  head5: ConvBnAct
  out3: Conv2d
  out4: Conv2d
  out5: Conv2d
  readonly numClasses: number
  readonly anchorsPerLevel: number

  constructor({
    numClasses = 80,
    anchorsPerLevel = 3,
    config = YOLOV4_CONFIG,
    dropBlock = 0,
    priorProbability,
  }: YoloV4Options = {}) {
    super()
    this.numClasses = numClasses
    this.anchorsPerLevel = anchorsPerLevel
    const [, , , c3, c4, c5] = config.widths
    const [n3, n4, n5] = [c3 / 2, c4 / 2, c5 / 2] // neck widths (YOLOv4: 128, 256, 512)
    const n = config.neckDepth
    this.backbone = new CspDarknet(config)
    this.spp_pre = convSet(c5, n5, 3)
    this.spp = new Spp()
    this.spp_post = convSet(4 * n5, n5, 3)
    // top-down (FPN)
    this.up5 = new ConvBnAct(n5, n4, 1)
    this.lat4 = new ConvBnAct(c4, n4, 1)
    this.td4 = convSet(2 * n4, n4, n, 'leaky', dropBlock)
    this.up4 = new ConvBnAct(n4, n3, 1)
    this.lat3 = new ConvBnAct(c3, n3, 1)
    this.td3 = convSet(2 * n3, n3, n, 'leaky', dropBlock)
    // bottom-up (PAN)
    this.down3 = new ConvBnAct(n3, n4, 3, { stride: 2 })
    this.bu4 = convSet(2 * n4, n4, n, 'leaky', dropBlock)
    this.down4 = new ConvBnAct(n4, n5, 3, { stride: 2 })
    this.bu5 = convSet(2 * n5, n5, n, 'leaky', dropBlock)
    const outC = anchorsPerLevel * (5 + numClasses)
    this.head3 = new ConvBnAct(n3, 2 * n3, 3)
    this.head4 = new ConvBnAct(n4, 2 * n4, 3)
    this.head5 = new ConvBnAct(n5, 2 * n5, 3)
    this.out3 = new Conv2d(2 * n3, outC, 1)
    this.out4 = new Conv2d(2 * n4, outC, 1)
    this.out5 = new Conv2d(2 * n5, outC, 1)
    if (priorProbability !== undefined)
      for (const out of [this.out3, this.out4, this.out5])
        setHeadPrior(out, anchorsPerLevel, numClasses, priorProbability)
  }

  forward(x: Tensor): Tensor[] {
    const [c3, c4, c5] = this.backbone.call(x) as [Tensor, Tensor, Tensor]
    const p5 = this.spp_post.call(this.spp.call(this.spp_pre.call(c5))) // (N, n5, H/32, W/32)
    const p4 = this.td4.call(concat([this.lat4.call(c4), upsample2x(this.up5.call(p5))], 1)) // (N, n4, H/16, W/16)
    const p3 = this.td3.call(concat([this.lat3.call(c3), upsample2x(this.up4.call(p4))], 1)) // (N, n3, H/8, W/8)
    const q4 = this.bu4.call(concat([this.down3.call(p3), p4], 1)) // (N, n4, H/16, W/16)
    const q5 = this.bu5.call(concat([this.down4.call(q4), p5], 1)) // (N, n5, H/32, W/32)
    // each -> (N, A (5 + C), h, w)
    return [
      this.out3.call(this.head3.call(p3)),
      this.out4.call(this.head4.call(q4)),
      this.out5.call(this.head5.call(q5)),
    ]
  }
}

export const yolov4 = (o: Omit<YoloV4Options, 'config'> = {}): YoloV4 => new YoloV4({ ...o, config: YOLOV4_CONFIG })
export const smallYolo = (o: Omit<YoloV4Options, 'config'> = {}): YoloV4 =>
  new YoloV4({ ...o, config: SMALL_YOLO_CONFIG })

/**
 * YOLOv3's detection head (Redmon & Farhadi 2018): on each of three maps (strides 8, 16, 32) a 3x3
 * ConvBnAct doubling the channels and a 1x1 convolution to A (5 + C) outputs per cell.
 */
export class YoloV3Head extends Module<[Tensor, Tensor, Tensor], Tensor[]> {
  convs: ConvBnAct[]
  outs: Conv2d[]

  constructor(inChannels: [number, number, number], numClasses = 80, anchorsPerLevel = 3) {
    super()
    this.convs = inChannels.map((c) => new ConvBnAct(c, 2 * c, 3))
    this.outs = inChannels.map((c) => new Conv2d(2 * c, anchorsPerLevel * (5 + numClasses), 1))
  }

  forward(p3: Tensor, p4: Tensor, p5: Tensor): Tensor[] {
    // (N, c_l, h_l, w_l) -> (N, 2 c_l, h_l, w_l) -> (N, A (5 + C), h_l, w_l)
    return [p3, p4, p5].map((p, i) => this.outs[i]!.call(this.convs[i]!.call(p)))
  }
}

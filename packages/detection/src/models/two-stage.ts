/**
 * A small two-stage detector in the Faster R-CNN style (Ren et al. 2015, https://arxiv.org/abs/1506.01497;
 * Fast R-CNN, Girshick 2015, https://arxiv.org/abs/1504.08083; d2l.ai, "Region-based CNNs",
 * https://d2l.ai/chapter_computer-vision/rcnn.html).
 *
 * Key idea: stage one, the region proposal network, slides a 3x3 conv over the backbone map and
 * predicts for each of A anchors per pixel an objectness logit and box deltas; decoded, clipped and
 * thinned by NMS they are the proposals. Stage two pools a fixed-size feature for each proposal
 * with RoI align and classifies it with a two-layer MLP that also refines the box per class.
 * Names follow torchvision: rpn.head.conv.0.0, rpn.head.cls_logits, rpn.head.bbox_pred,
 * roi_heads.box_head.fc6 / fc7, roi_heads.box_predictor.cls_score / bbox_pred.
 */
import { Module, type Tensor, nn, noGrad, tensor } from '@refnets/core'
import { Conv2d } from '@refnets/cnn'
import { clipBoxesToImage, removeSmallBoxes } from '../boxes.js'
import { decodeBoxes } from '../anchors.js'
import { nms } from '../nms.js'
import { roiAlign } from '../roi.js'
import { ConvBnAct } from './yolo-blocks.js'

/** torchvision's AnchorGenerator for one map: per pixel, sizes x ratios (h/w = r) centred on stride multiples. */
export function rpnAnchors(h: number, w: number, stride: number, sizes: number[], ratios: number[]): Tensor {
  const base: number[][] = []
  for (const r of ratios)
    for (const s of sizes) {
      const hr = Math.sqrt(r)
      const [ws, hs] = [s / hr, s * hr]
      base.push([Math.round(-ws / 2), Math.round(-hs / 2), Math.round(ws / 2), Math.round(hs / 2)])
    }
  const out: number[] = []
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (const b of base) out.push(j * stride + b[0]!, i * stride + b[1]!, j * stride + b[2]!, i * stride + b[3]!)
  return tensor(Float32Array.from(out), { shape: [out.length / 4, 4] })
}

/** torchvision's RPNHead: [objectness (N, A, H, W), deltas (N, 4A, H, W)]. */
export class RpnHead extends Module<[Tensor], [Tensor, Tensor]> {
  conv: nn.Sequential
  cls_logits: Conv2d
  bbox_pred: Conv2d

  constructor(channels: number, numAnchors: number) {
    super()
    this.conv = new nn.Sequential(new nn.Sequential(new Conv2d(channels, channels, 3, { padding: 1 }), new nn.ReLU()))
    this.cls_logits = new Conv2d(channels, numAnchors, 1)
    this.bbox_pred = new Conv2d(channels, 4 * numAnchors, 1)
  }

  forward(x: Tensor): [Tensor, Tensor] {
    const t = this.conv.call(x) // (N, C, H, W)
    return [this.cls_logits.call(t), this.bbox_pred.call(t)] // (N, A, H, W), (N, 4A, H, W)
  }
}

export interface RegionProposalOptions {
  sizes?: number[]
  ratios?: number[]
  stride?: number
  preNmsTopN?: number
  postNmsTopN?: number
  nmsThreshold?: number
  minSize?: number
}

export class RegionProposalNetwork extends Module<[Tensor], [Tensor, Tensor]> {
  head: RpnHead
  readonly o: Required<RegionProposalOptions>

  constructor(channels: number, o: RegionProposalOptions = {}) {
    super()
    this.o = {
      sizes: [32, 64],
      ratios: [0.5, 1, 2],
      stride: 16,
      preNmsTopN: 200,
      postNmsTopN: 50,
      nmsThreshold: 0.7,
      minSize: 1,
      ...o,
    }
    this.head = new RpnHead(channels, this.o.sizes.length * this.o.ratios.length)
  }

  forward(features: Tensor): [Tensor, Tensor] {
    return this.head.call(features)
  }

  /** Proposals per image (corner boxes in pixels) from the head outputs, for an (imgH, imgW) input. */
  proposals(objectness: Tensor, deltas: Tensor, imageSize: [number, number]): Tensor[] {
    return noGrad(() => {
      const [n, a, h, w] = objectness.shape as [number, number, number, number]
      const anchors = rpnAnchors(h, w, this.o.stride, this.o.sizes, this.o.ratios)
      // (N, A, H, W) -> (N, H W A); (N, 4A, H, W) -> (N, H W A, 4), anchor order (pixel, then anchor)
      const obj = objectness.permute(0, 2, 3, 1).reshape(n, -1)
      const del = deltas.reshape(n, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)
      return Array.from({ length: n }, (_, b) => {
        const boxes = clipBoxesToImage(
          decodeBoxes(
            anchors,
            del
              .slice(0, b, b + 1)
              .reshape(-1, 4)
              .to('float32'),
            [1, 1, 1, 1],
          ),
          imageSize,
        )
        const s = obj.slice(0, b, b + 1).reshape(-1)
        const order = [...Array(s.size).keys()]
          .sort((p, q) => s.data[q]! - s.data[p]! || p - q)
          .slice(0, this.o.preNmsTopN)
        const keepSmall = new Set(removeSmallBoxes(boxes, this.o.minSize))
        const cand = order.filter((i) => keepSmall.has(i))
        const cb = tensor(
          cand.flatMap((i) => [...boxes.data.subarray(4 * i, 4 * i + 4)]),
          { shape: [cand.length, 4] },
        )
        const keep = nms(cb, tensor(cand.map((i) => s.data[i]!)), this.o.nmsThreshold).slice(0, this.o.postNmsTopN)
        return tensor(
          keep.flatMap((k) => [...cb.data.subarray(4 * k, 4 * k + 4)]),
          { shape: [keep.length, 4] },
        )
      })
    })
  }
}

/** torchvision's TwoMLPHead: (K, C, h, w) -> flatten -> fc6 -> ReLU -> fc7 -> ReLU: (K, hidden). */
export class TwoMlpHead extends Module {
  fc6: nn.Linear
  fc7: nn.Linear

  constructor(inFeatures: number, hidden: number) {
    super()
    this.fc6 = new nn.Linear(inFeatures, hidden)
    this.fc7 = new nn.Linear(hidden, hidden)
  }

  forward(x: Tensor): Tensor {
    return this.fc7.call(this.fc6.call(x.flatten(1)).relu()).relu()
  }
}

/** torchvision's FastRCNNPredictor: (K, hidden) -> [classLogits (K, classes), boxDeltas (K, 4 classes)]. */
export class FastRcnnPredictor extends Module<[Tensor], [Tensor, Tensor]> {
  cls_score: nn.Linear
  bbox_pred: nn.Linear

  constructor(hidden: number, numClasses: number) {
    super()
    this.cls_score = new nn.Linear(hidden, numClasses)
    this.bbox_pred = new nn.Linear(hidden, 4 * numClasses)
  }

  forward(x: Tensor): [Tensor, Tensor] {
    return [this.cls_score.call(x), this.bbox_pred.call(x)]
  }
}

/** The second stage on pooled RoI features: box_head then box_predictor. */
export class FastRcnnHead extends Module<[Tensor], [Tensor, Tensor]> {
  box_head: TwoMlpHead
  box_predictor: FastRcnnPredictor

  constructor(inFeatures: number, hidden: number, numClasses: number) {
    super()
    this.box_head = new TwoMlpHead(inFeatures, hidden)
    this.box_predictor = new FastRcnnPredictor(hidden, numClasses)
  }

  forward(pooled: Tensor): [Tensor, Tensor] {
    return this.box_predictor.call(this.box_head.call(pooled)) // (K, C, 7, 7) -> (K, hidden) -> heads
  }
}

export interface TwoStageOptions {
  numClasses?: number
  width?: number
  pool?: number
  hidden?: number
  rpn?: RegionProposalOptions
}

/**
 * The detector: a stride-16 conv backbone, the RPN, and the Fast R-CNN head on RoI align.
 * forward(x) gives the RPN outputs (the part that exports as one graph); `detectRois(x, rois)` runs
 * the second stage on given (K, 5) boxes [batch, x1, y1, x2, y2].
 */
export class TwoStageDetector extends Module<[Tensor], [Tensor, Tensor]> {
  backbone: nn.Sequential
  rpn: RegionProposalNetwork
  roi_heads: FastRcnnHead
  readonly pool: number

  constructor({ numClasses = 2, width = 32, pool = 7, hidden = 128, rpn = {} }: TwoStageOptions = {}) {
    super()
    this.pool = pool
    const c = (i: number, o: number) => new ConvBnAct(i, o, 3, { stride: 2, act: 'leaky' })
    this.backbone = new nn.Sequential(c(3, width / 4), c(width / 4, width / 2), c(width / 2, width), c(width, width))
    this.rpn = new RegionProposalNetwork(width, rpn)
    this.roi_heads = new FastRcnnHead(width * pool * pool, hidden, numClasses)
  }

  forward(x: Tensor): [Tensor, Tensor] {
    return this.rpn.call(this.backbone.call(x)) // (N, 3, H, W) -> (N, C, H/16, W/16) -> RPN maps
  }

  /** Second stage on (K, 5) rois: [classLogits (K, classes), boxDeltas (K, 4 classes)]. */
  detectRois(x: Tensor, rois: Tensor): [Tensor, Tensor] {
    const f = this.backbone.call(x)
    return this.roi_heads.call(
      roiAlign(f, rois.to(f.dtype), { outputSize: this.pool, spatialScale: 1 / 16, samplingRatio: 2 }),
    )
  }

  /** Proposals from an image batch: RPN, decode, clip, NMS. */
  propose(x: Tensor): Tensor[] {
    const [o, d] = noGrad(() => this.call(x))
    return this.rpn.proposals(o, d, [x.shape[2]!, x.shape[3]!])
  }
}

/**
 * The registry of @refnets/detection: the box ops that are ops, RoI align and pooling, and the
 * detectors as ModelSpecs, iterated by the registry-driven test (test/specs.test.ts) and the
 * benchmark harness. Sizes: `small` keeps the unit tests quick; `bench` is the size the papers use
 * (SSD300 at 300x300, YOLOv4 at 416x416, d2l's tiny SSD at 256x256).
 * `build` returns the module in training mode (as PyTorch does); call `.eval()` for inference.
 */
import {
  Generator,
  type ModelSpec,
  type SpecSize,
  type Tensor,
  manualSeed,
  nn,
  rand,
  randn,
  tensor,
} from '@refnets/core'
import { imageSpec } from '@refnets/cnn'
import { completeBoxIouLoss } from './losses.js'
import { boxIou, generalizedBoxIou } from './iou.js'
import { boxConvert } from './boxes.js'
import { roiAlign, roiPool } from './roi.js'
import { onnxNonMaxSuppression } from './nms.js'
import { Ssd300 } from './models/ssd300.js'
import { TinySsd } from './models/tiny-ssd.js'
import { YoloV3Head, smallYolo, yolov4 } from './models/yolov4.js'
import { FastRcnnHead, TwoStageDetector } from './models/two-stage.js'

/** A module around a function of tensors, so the harness can export and time an op. */
class Fn extends nn.Module<Tensor[], Tensor> {
  constructor(readonly fn: (...xs: Tensor[]) => Tensor) {
    super()
  }
  forward(...xs: Tensor[]): Tensor {
    return this.fn(...xs)
  }
}

/** n random corner boxes (float32) inside [0, side]², seeded. */
function randomBoxes(n: number, side: number, g: Generator): Tensor {
  const xy = rand([n, 2], { generator: g }).data
  const wh = rand([n, 2], { generator: g }).data
  const d: number[] = []
  for (let i = 0; i < n; i++) {
    const [w, h] = [(0.05 + 0.4 * wh[2 * i]!) * side, (0.05 + 0.4 * wh[2 * i + 1]!) * side]
    const [x, y] = [xy[2 * i]! * (side - w), xy[2 * i + 1]! * (side - h)]
    d.push(x, y, x + w, y + h)
  }
  return tensor(Float32Array.from(d), { shape: [n, 4] })
}

/** (K, 5) RoIs [batch, x1, y1, x2, y2] over a batch of `b` images of side `side`. */
function randomRois(k: number, b: number, side: number, g: Generator): Tensor {
  const boxes = randomBoxes(k, side, g).data
  return tensor(
    Float32Array.from({ length: 5 * k }, (_, i) =>
      i % 5 === 0 ? Math.floor(i / 5) % b : boxes[4 * Math.floor(i / 5) + (i % 5) - 1]!,
    ),
    { shape: [k, 5] },
  )
}

/** The first stage of the two-stage detector (backbone and RPN) with the detector's names. */
class RpnStage extends nn.Module<[Tensor], [Tensor, Tensor]> {
  backbone: nn.Sequential
  rpn: TwoStageDetector['rpn']
  constructor(d: TwoStageDetector) {
    super()
    this.backbone = d.backbone
    this.rpn = d.rpn
  }
  forward(x: Tensor): [Tensor, Tensor] {
    return this.rpn.call(this.backbone.call(x))
  }
}

const OPS = 'box-op'
const opTol = { atol: 1e-5, rtol: 1e-4 }
const boxSizes = { small: [8, 6], bench: [1000, 1000] } as const

const opSpecs: ModelSpec[] = [
  {
    name: 'box-iou',
    family: OPS,
    paper: 'Jaccard 1901; torchvision.ops.box_iou',
    build: () => new Fn((a, b) => boxIou(a!, b!)),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      return [randomBoxes(boxSizes[size][0], 100, g), randomBoxes(boxSizes[size][1], 100, g)]
    },
    outputShape: (size) => [...boxSizes[size]],
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'generalized-box-iou',
    family: OPS,
    paper: 'Rezatofighi et al. 2019',
    build: () => new Fn((a, b) => generalizedBoxIou(a!, b!)),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      return [randomBoxes(boxSizes[size][0], 100, g), randomBoxes(boxSizes[size][1], 100, g)]
    },
    outputShape: (size) => [...boxSizes[size]],
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'complete-box-iou-loss',
    family: OPS,
    paper: 'Zheng et al. 2020 (CIoU)',
    build: () => new Fn((a, b) => completeBoxIouLoss(a!, b!)),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const n = size === 'small' ? 8 : 10000
      return [randomBoxes(n, 100, g), randomBoxes(n, 100, g)]
    },
    outputShape: (size) => [size === 'small' ? 8 : 10000],
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'box-convert-cxcywh',
    family: OPS,
    paper: 'torchvision.ops.box_convert',
    build: () => new Fn((a) => boxConvert(a!, 'xyxy', 'cxcywh')),
    inputs: (size, seed) => [randomBoxes(size === 'small' ? 8 : 10000, 100, new Generator(seed))],
    outputShape: (size) => [size === 'small' ? 8 : 10000, 4],
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'roi-align',
    family: OPS,
    paper: 'He et al. 2017 (Mask R-CNN)',
    build: () =>
      new Fn((x, r) => roiAlign(x!, r!, { outputSize: 7, spatialScale: 0.25, samplingRatio: 2, aligned: true })),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const [b, c, s, k] = size === 'small' ? [2, 4, 12, 5] : [2, 256, 50, 512]
      return [randn([b, c, s, s], { generator: g }), randomRois(k, b, 4 * s, g)]
    },
    outputShape: (size) => (size === 'small' ? [5, 4, 7, 7] : [512, 256, 7, 7]),
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'roi-align-unaligned-adaptive',
    family: OPS,
    paper: 'He et al. 2017; torchvision sampling_ratio=-1',
    build: () => new Fn((x, r) => roiAlign(x!, r!, { outputSize: [3, 4], spatialScale: 0.5 })),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const [b, c, s, k] = size === 'small' ? [1, 3, 10, 4] : [2, 256, 50, 256]
      return [randn([b, c, s, s], { generator: g }), randomRois(k, b, 2 * s, g)]
    },
    outputShape: (size) => (size === 'small' ? [4, 3, 3, 4] : [256, 256, 3, 4]),
    tolerance: opTol,
    trainable: false,
  },
  {
    name: 'roi-pool',
    family: OPS,
    paper: 'Girshick 2015 (Fast R-CNN)',
    build: () => new Fn((x, r) => roiPool(x!, r!, { outputSize: 3, spatialScale: 0.5 })),
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const [b, c, s, k] = size === 'small' ? [2, 3, 10, 5] : [2, 256, 50, 256]
      return [randn([b, c, s, s], { generator: g }), randomRois(k, b, 2 * s, g)]
    },
    outputShape: (size) => (size === 'small' ? [5, 3, 3, 3] : [256, 256, 3, 3]),
    tolerance: opTol,
    trainable: false,
  },
]

const nmsInputs = (size: SpecSize, seed: number): Tensor[] => {
  const g = new Generator(seed)
  const [n, c] = size === 'small' ? [20, 2] : [2000, 20]
  return [randomBoxes(n, 100, g).reshape(1, n, 4), rand([1, c, n], { generator: g })]
}
const nmsOpts = { maxOutputBoxesPerClass: 10, iouThreshold: 0.5, scoreThreshold: 0.2 }

opSpecs.push({
  name: 'nms',
  family: OPS,
  paper: 'ONNX NonMaxSuppression; d2l.ai 14.4',
  build: () => new Fn((b, s) => onnxNonMaxSuppression(b!, s!, nmsOpts)),
  inputs: nmsInputs,
  // The number of kept boxes depends on the data: computed from the spec's own seeded inputs.
  outputShape: (size) => [...onnxNonMaxSuppression(...(nmsInputs(size, 1) as [Tensor, Tensor]), nmsOpts).shape],
  trainable: false,
})

const modelTol = { atol: 1e-4, rtol: 1e-3 }

/** The side of the image the YOLO specs' batch-norm statistics are estimated on (the bench size). */
export const YOLO_CALIBRATION_SIZE = 416

/**
 * A YOLO with batch-norm statistics estimated on one N(0, 1) image at 416x416. The statistics cnn's
 * imageSpec estimates at the small size (four 64x64 images) leave the stride-32 layers with 2x2
 * maps made only of border pixels; at 416x416 (13x13 maps) they no longer match, and the outputs
 * grow through the batch norms (YOLOv4: largest |y| 2.7e4, seed 0; small YOLO: 1.1e3), with
 * float32 differences against ONNX Runtime growing with them (YOLOv4: 0.25; small YOLO fails
 * atol 1e-4 + rtol 1e-3 even at 64x64). Statistics from the bench size keep the outputs O(1) at
 * both sizes (YOLOv4: 3.7 at 416x416, 2.5 at 64x64).
 */
function calibratedYolo(make: () => nn.Module<any, any>): (seed: number) => nn.Module<any, any> {
  return (seed) => {
    manualSeed(seed)
    const m = make()
    const s = YOLO_CALIBRATION_SIZE
    nn.updateBatchNorm(m, [[randn([1, 3, s, s], { generator: new Generator(seed + 1000) })]])
    return m
  }
}

const modelSpecs: ModelSpec[] = [
  imageSpec(
    'tiny-ssd',
    'ssd',
    'Liu et al. 2016; d2l.ai 14.7',
    () => new TinySsd({ numClasses: 1 }),
    { small: [2, 3, 64, 64], bench: [1, 3, 256, 256] },
    { small: [2, 344, 2], bench: [1, 5444, 2] },
    { tolerance: modelTol },
  ),
  // NOTE: SSD300's extra layers need at least a 268x268 input (the last 3x3 valid convolutions); small uses that.
  imageSpec(
    'ssd300-vgg16',
    'ssd',
    'Liu et al. 2016 (SSD300)',
    () => new Ssd300({ numClasses: 91 }),
    { small: [1, 3, 268, 268], bench: [1, 3, 300, 300] },
    { small: [1, 7034, 4], bench: [1, 8732, 4] },
    { tolerance: modelTol },
  ),
  // NOTE: atol 1e-3 for the small YOLO: at 416x416 float32 summation-order differences against ONNX
  // Runtime over its 66 convolutions reach 2.3e-4 in outputs of magnitude ~10 (1.7e-5 at 64x64).
  {
    ...imageSpec(
      'small-yolo',
      'yolo',
      'Bochkovskiy et al. 2020 (YOLOv4 design, small widths)',
      () => smallYolo({ numClasses: 3 }),
      { small: [2, 3, 64, 64], bench: [1, 3, 416, 416] },
      { small: [2, 24, 8, 8], bench: [1, 24, 52, 52] },
      { tolerance: { atol: 1e-3, rtol: 1e-3 } },
    ),
    build: calibratedYolo(() => smallYolo({ numClasses: 3 })),
  },
  // NOTE: a looser tolerance for YOLOv4: over ~110 convolutions with batch norms float32
  // summation-order differences against ONNX Runtime grow to a few 1e-3.
  {
    ...imageSpec(
      'yolov4',
      'yolo',
      'Bochkovskiy et al. 2020 (YOLOv4)',
      () => yolov4({ numClasses: 80 }),
      { small: [1, 3, 64, 64], bench: [1, 3, 416, 416] },
      { small: [1, 255, 8, 8], bench: [1, 255, 52, 52] },
      { tolerance: { atol: 1e-2, rtol: 1e-2 } },
    ),
    build: calibratedYolo(() => yolov4({ numClasses: 80 })),
  },
  {
    name: 'yolov3-head',
    family: 'yolo',
    paper: 'Redmon & Farhadi 2018 (YOLOv3)',
    build: (seed) => {
      manualSeed(seed)
      return new YoloV3Head([16, 32, 64], 3)
    },
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const s = size === 'small' ? 8 : 52
      return [
        randn([1, 16, s, s], { generator: g }),
        randn([1, 32, s / 2, s / 2], { generator: g }),
        randn([1, 64, s / 4, s / 4], { generator: g }),
      ]
    },
    outputShape: (size) => (size === 'small' ? [1, 24, 8, 8] : [1, 24, 52, 52]),
    tolerance: modelTol,
  },
  imageSpec(
    'rpn',
    'two-stage',
    'Ren et al. 2015 (Faster R-CNN RPN)',
    () => new RpnStage(new TwoStageDetector({ numClasses: 3, width: 32 })),
    { small: [1, 3, 64, 64], bench: [1, 3, 512, 512] },
    { small: [1, 6, 4, 4], bench: [1, 6, 32, 32] },
    { tolerance: modelTol },
  ),
  {
    name: 'fast-rcnn-head',
    family: 'two-stage',
    paper: 'Girshick 2015 (Fast R-CNN) on RoI align',
    build: (seed) => {
      manualSeed(seed)
      const head = new FastRcnnHead(8 * 7 * 7, 32, 4)
      return new (class FastRcnnOnRoiAlign extends nn.Module<[Tensor, Tensor], [Tensor, Tensor]> {
        roi_heads = head
        forward(x: Tensor, rois: Tensor): [Tensor, Tensor] {
          return this.roi_heads.call(roiAlign(x, rois, { outputSize: 7, spatialScale: 1 / 16, samplingRatio: 2 }))
        }
      })()
    },
    inputs: (size, seed) => {
      const g = new Generator(seed)
      const [s, k] = size === 'small' ? [4, 6] : [32, 128]
      return [randn([1, 8, s, s], { generator: g }), randomRois(k, 1, 16 * s, g)]
    },
    outputShape: (size) => [size === 'small' ? 6 : 128, 4],
    tolerance: modelTol,
  },
]

export const specs: ModelSpec[] = [...opSpecs, ...modelSpecs]

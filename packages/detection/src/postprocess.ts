/**
 * From raw detector outputs to detections for one image: decode the box offsets against the
 * anchors, turn logits into class scores, then per class: score threshold, top-k and NMS, and
 * keep the best `maxDetections` (torchvision's SSD.postprocess_detections; d2l's multibox_detection).
 */
import { type Tensor, noGrad, sigmoid, softmax, tensor } from '@refnets/core'
import { type BoxWeights, decodeBoxes } from './anchors.js'
import { detect } from './nms.js'
import { clipBoxesToImage } from './boxes.js'

export interface ImageDetections {
  /** Corner boxes, best first. */
  boxes: number[][]
  scores: number[]
  /** Class ids, 0-based over the object classes (the background column is not a class). */
  labels: number[]
}

export interface PostprocessOptions {
  scoreThreshold?: number
  iouThreshold?: number
  topK?: number
  maxDetections?: number
  weights?: BoxWeights
  /** softmax with column 0 the background (SSD), or independent sigmoids (no background column). */
  scoring?: 'softmax' | 'sigmoid'
  /** Clip boxes to (height, width) before NMS. */
  clipTo?: [number, number]
}

/** Detections from (A, C) logits, (A, 4) offsets and (A, 4) anchors of one image. */
export function postprocessDetections(
  logits: Tensor,
  offsets: Tensor,
  anchors: Tensor,
  o: PostprocessOptions = {},
): ImageDetections {
  const {
    scoreThreshold = 0.01,
    iouThreshold = 0.45,
    topK = 400,
    maxDetections = 200,
    weights = [10, 10, 5, 5],
    scoring = 'softmax',
  } = o
  return noGrad(() => {
    let boxes = decodeBoxes(anchors.to(offsets.dtype), offsets, weights)
    if (o.clipTo) boxes = clipBoxesToImage(boxes, o.clipTo)
    const probs = scoring === 'softmax' ? softmax(logits, -1) : sigmoid(logits)
    const [a, c] = probs.shape as [number, number]
    const first = scoring === 'softmax' ? 1 : 0
    const p = probs.data
    const b = boxes.data
    const candBoxes: number[] = []
    const candScores: number[] = []
    const candClasses: number[] = []
    for (let i = 0; i < a; i++)
      for (let k = first; k < c; k++)
        if (p[i * c + k]! > scoreThreshold) {
          candBoxes.push(b[4 * i]!, b[4 * i + 1]!, b[4 * i + 2]!, b[4 * i + 3]!)
          candScores.push(p[i * c + k]!)
          candClasses.push(k - first)
        }
    const n = candScores.length
    const bt = Float64Array.from(candBoxes)
    const det = detect(tensor(bt, { shape: [n, 4] }), tensor(Float64Array.from(candScores)), {
      iouThreshold,
      topK,
      maxDetections,
      classes: candClasses,
    })
    return {
      boxes: det.indices.map((i) => [bt[4 * i]!, bt[4 * i + 1]!, bt[4 * i + 2]!, bt[4 * i + 3]!]),
      scores: det.scores,
      labels: det.indices.map((i) => candClasses[i]!),
    }
  })
}

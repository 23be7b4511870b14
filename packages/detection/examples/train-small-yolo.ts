/**
 * A small YOLO (the YOLOv4 design: CSP-Darknet with Mish, SPP, PAN; small widths) on the seeded
 * synthetic detection data (three classes, one or two objects per 64x64 image), trained on the
 * default backend with YOLOv4's bag of freebies, each of which can be switched off for the
 * ablation in docs/detection.md:
 *
 *   MOSAIC=1   mosaic of four training images for half of the samples (cnn's `mosaic`)
 *   SMOOTH=0.1 class label smoothing
 *   BOX=ciou   box loss (ciou, diou, giou or mse)
 *   COSINE=1   cosine learning-rate decay (else constant)
 *
 * Anchors: k-means (1 - IoU) on the training boxes, 9 sizes, 3 per level (strides 8, 16, 32); grid
 * sensitivity 1.1 and multi-anchor assignment (IoU > 0.213). The objectness and class biases start
 * at the logit of a prior PRIOR=0.01 (`priorProbability`), so the many empty cells do not swamp the
 * first steps. Prints the loss (and its box, objectness and class terms) and the validation mAP@0.5
 * after every epoch and draws detections on four validation images to examples/out/.
 * BUDGET is in CPU seconds (user + system of this process, the idle-machine time of a one-thread
 * run): training stops after the epoch that ends past it.
 * Run from packages/detection:  REFNETS_THREADS=1 pnpm run example:yolo
 * (env: TRAIN, VAL, EPOCHS, BATCH, LR, BUDGET, PRIOR, and the switches)
 */
import { Generator, manualSeed, noGrad, optim, stack } from '@refnets/core'
import { mosaic } from '@refnets/cnn'
import {
  type YoloLevel,
  type YoloTarget,
  kmeansAnchors,
  smallYolo,
  syntheticDetectionData,
  yoloDetect,
  yoloLoss,
} from '../src/index.js'
import { cpuSeconds, drawDetections, mapAt50, type Predicted, seconds } from './common.js'

const env = (k: string, d: string) => process.env[k] ?? d
const TRAIN = Number(env('TRAIN', '600'))
const VAL = Number(env('VAL', '100'))
const EPOCHS = Number(env('EPOCHS', '12'))
const BATCH = Number(env('BATCH', '16'))
const LR = Number(env('LR', '3e-3'))
const BUDGET = Number(env('BUDGET', '840'))
const PRIOR = Number(env('PRIOR', '0.01'))
const MOSAIC = env('MOSAIC', '1') === '1'
const SMOOTH = Number(env('SMOOTH', '0.1'))
const BOX = env('BOX', 'ciou') as 'ciou' | 'diou' | 'giou' | 'mse'
const COSINE = env('COSINE', '1') === '1'
const TAG = env('TAG', 'small-yolo')
const SIZE = 64
const C = 3
const TARGET = 0.8

manualSeed(0)
const t0 = Date.now()
const all = syntheticDetectionData({ count: TRAIN + VAL, size: SIZE, seed: 0, maxObjects: 2 })
const [train, val] = [all.slice(0, TRAIN), all.slice(TRAIN)]
const km = kmeansAnchors(
  train.flatMap((s) => s.boxes.map((b) => [b[2]! - b[0]!, b[3]! - b[1]!] as [number, number])),
  9,
  { seed: 0 },
)
const levels: YoloLevel[] = [8, 16, 32].map((stride, l) => ({ stride, anchors: km.anchors.slice(3 * l, 3 * l + 3) }))
console.log(
  `small YOLO; anchors ${km.anchors.map(([w, h]) => `${w.toFixed(0)}x${h.toFixed(0)}`).join(' ')} (mean IoU ${km.meanIou.toFixed(3)}); ` +
    `mosaic ${MOSAIC}, label smoothing ${SMOOTH}, box loss ${BOX}, cosine ${COSINE}; ${TRAIN}/${VAL} images`,
)

const model = smallYolo({ numClasses: C, ...(PRIOR > 0 ? { priorProbability: PRIOR } : {}) })
const opts = {
  numClasses: C,
  levels,
  gridScale: 1.1,
  iouThreshold: 0.213,
  ignoreThreshold: 0.7,
  labelSmoothing: SMOOTH,
  boxLoss: BOX,
}
const opt = new optim.Adam(model.parameters(), { lr: LR })
const steps = EPOCHS * Math.ceil(TRAIN / BATCH)
const schedule = COSINE ? new optim.CosineAnnealingLR(opt, { tMax: steps }) : null
const gen = new Generator(1)

function predict(samples: typeof val): Predicted[] {
  model.eval()
  const out: Predicted[] = []
  for (let i = 0; i < samples.length; i += 32) {
    const chunk = samples.slice(i, i + 32)
    const maps = noGrad(() => model.call(stack(chunk.map((s) => s.image))))
    out.push(
      ...yoloDetect(maps, {
        numClasses: C,
        levels,
        gridScale: 1.1,
        scoreThreshold: 0.05,
        iouThreshold: 0.45,
        maxDetections: 20,
      }),
    )
  }
  model.train()
  return out
}

let map = 0
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const te = Date.now()
  const order = [...train.keys()].sort(() => gen.random() - 0.5)
  let sum = 0
  const parts = [0, 0, 0] // box, objectness, classification
  let n = 0
  for (let i = 0; i < order.length; i += BATCH) {
    const items = order.slice(i, i + BATCH).map((j) => {
      if (!MOSAIC || gen.random() < 0.5)
        return { image: train[j]!.image, target: { boxes: train[j]!.boxes, labels: train[j]!.labels } as YoloTarget }
      const four = [j, ...[0, 1, 2].map(() => Math.floor(gen.random() * TRAIN))].map((k) => ({
        image: train[k]!.image,
        boxes: train[k]!.boxes,
        labels: train[k]!.labels,
      }))
      const m = mosaic(four, { size: SIZE, minSize: 4, generator: gen })
      return { image: m.image, target: { boxes: m.boxes, labels: m.labels ?? [] } }
    })
    const maps = model.call(stack(items.map((it) => it.image)))
    const loss = yoloLoss(
      maps,
      items.map((it) => it.target),
      opts,
    )
    opt.zeroGrad()
    loss.total.backward()
    opt.step()
    schedule?.step()
    sum += loss.total.item()
    parts[0]! += loss.box.item()
    parts[1]! += loss.objectness.item()
    parts[2]! += loss.classification.item()
    n++
  }
  map = mapAt50(val, predict(val))
  console.log(
    `epoch ${epoch}/${EPOCHS}: loss ${(sum / n).toFixed(4)} (box ${(parts[0]! / n).toFixed(4)}, objectness ${(parts[1]! / n).toFixed(4)}, ` +
      `class ${(parts[2]! / n).toFixed(4)}), validation mAP@0.5 ${map.toFixed(3)} ` +
      `(${seconds(te)} s; total ${seconds(t0)} s wall, ${cpuSeconds().toFixed(0)} s CPU)`,
  )
  if (cpuSeconds() > BUDGET) {
    console.log(`stopping: past the ${BUDGET} s CPU budget`)
    break
  }
}
const files = drawDetections(TAG, val, predict(val))
console.log(`drew ${files.join(', ')}`)
console.log(
  `final validation mAP@0.5 ${map.toFixed(3)} (target ${TARGET}): ${map >= TARGET ? 'reached' : 'NOT reached'} in ${seconds(t0)} s wall, ${cpuSeconds().toFixed(0)} s CPU`,
)

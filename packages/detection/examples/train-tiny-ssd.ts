/**
 * d2l's tiny SSD on the seeded synthetic detection data (three classes, one or two objects per
 * 64x64 image), trained on the default backend and evaluated by VOC mAP@0.5 on a held-out split:
 *
 *   (B, 3, 64, 64) -> base net -> maps 8, 4, 2, 1, 1 -> 344 anchors -> classes + offsets
 *
 * Targets: d2l's multibox_target (each object its best anchor, then every anchor with IoU >= 0.5),
 * offsets with variances (0.1, 0.2); loss: SSD's (cross-entropy with 3:1 hard negative mining plus
 * smooth L1); Adam with a cosine decay; detections: softmax, per-class NMS at 0.45. Progress after
 * every epoch; at the end detections on four validation images are drawn to examples/out/.
 * BUDGET is in CPU seconds (user + system of this process, the idle-machine time of a one-thread
 * run): training stops after the epoch that ends past it.
 * Run from packages/detection:  REFNETS_THREADS=1 pnpm run example:tiny-ssd   (env: TRAIN, VAL, EPOCHS, BATCH, LR, WIDTHS, BUDGET)
 */
import { Generator, type Tensor, manualSeed, noGrad, optim, stack, tensor } from '@refnets/core'
import { TinySsd, multiboxTarget, postprocessDetections, ssdLoss, syntheticDetectionData } from '../src/index.js'
import { cpuSeconds, drawDetections, mapAt50, type Predicted, seconds } from './common.js'

const TRAIN = Number(process.env.TRAIN ?? 600)
const VAL = Number(process.env.VAL ?? 100)
const EPOCHS = Number(process.env.EPOCHS ?? 8)
const BATCH = Number(process.env.BATCH ?? 16)
const LR = Number(process.env.LR ?? 3e-3)
const WIDTHS = (process.env.WIDTHS ?? '8,16,32,32').split(',').map(Number) as [number, number, number, number]
const SIZE = 64
/** Stop after the epoch that ends past this many CPU seconds (the example's 15-minute budget). */
const BUDGET = Number(process.env.BUDGET ?? 840)
const TARGET = 0.8

manualSeed(0)
const t0 = Date.now()
const all = syntheticDetectionData({ count: TRAIN + VAL, size: SIZE, seed: 0, maxObjects: 2 })
const [train, val] = [all.slice(0, TRAIN), all.slice(TRAIN)]
const model = new TinySsd({ numClasses: 3, widths: WIDTHS })
const anchors = model.anchors(SIZE, SIZE) // (344, 4) relative corners
const A = anchors.shape[0]!
const targets = train.map((s) =>
  multiboxTarget(anchors, tensor(s.boxes.map((b, k) => [s.labels[k]!, ...b.map((v) => v / SIZE)]))),
)
console.log(
  `tiny SSD (widths ${WIDTHS}), ${A} anchors; ${TRAIN} training / ${VAL} validation images; data in ${seconds(t0)} s`,
)

const opt = new optim.Adam(model.parameters(), { lr: LR })
const steps = EPOCHS * Math.ceil(TRAIN / BATCH)
const schedule = new optim.CosineAnnealingLR(opt, { tMax: steps })
const gen = new Generator(1) // the order of the training images in each epoch

function predict(samples: typeof val): Predicted[] {
  model.eval()
  const out: Predicted[] = []
  for (let i = 0; i < samples.length; i += 32) {
    const chunk = samples.slice(i, i + 32)
    const [cls, box] = noGrad(() => model.call(stack(chunk.map((s) => s.image))))
    chunk.forEach((_, b) => {
      const d = postprocessDetections(
        cls.slice(0, b, b + 1).reshape(A, -1),
        box.slice(0, b, b + 1).reshape(A, 4),
        anchors,
        { scoreThreshold: 0.05, iouThreshold: 0.45, maxDetections: 20 },
      )
      out.push({ boxes: d.boxes.map((bb) => bb.map((v) => v * SIZE)), scores: d.scores, labels: d.labels })
    })
  }
  model.train()
  return out
}

let map = 0
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const te = Date.now()
  const order = [...train.keys()].sort(() => gen.random() - 0.5)
  let sum = 0
  let n = 0
  for (let i = 0; i < order.length; i += BATCH) {
    const idx = order.slice(i, i + BATCH)
    const x = stack(idx.map((j) => train[j]!.image)) as Tensor
    const [cls, box] = model.call(x)
    const labels = tensor(Int32Array.from(idx.flatMap((j) => [...targets[j]!.labels])), { shape: [idx.length, A] })
    const offsets = tensor(Float32Array.from(idx.flatMap((j) => [...targets[j]!.offsets.data])), {
      shape: [idx.length, A, 4],
    })
    const loss = ssdLoss(cls, box, { labels, offsets })
    opt.zeroGrad()
    loss.total.backward()
    opt.step()
    schedule.step()
    sum += loss.total.item()
    n++
  }
  map = mapAt50(val, predict(val))
  console.log(
    `epoch ${epoch}/${EPOCHS}: loss ${(sum / n).toFixed(4)}, validation mAP@0.5 ${map.toFixed(3)} ` +
      `(${seconds(te)} s; total ${seconds(t0)} s wall, ${cpuSeconds().toFixed(0)} s CPU)`,
  )
  if (cpuSeconds() > BUDGET) {
    console.log(`stopping: past the ${BUDGET} s CPU budget`)
    break
  }
}
const files = drawDetections('tiny-ssd', val, predict(val))
console.log(`drew ${files.join(', ')}`)
console.log(
  `final validation mAP@0.5 ${map.toFixed(3)} (target ${TARGET}): ${map >= TARGET ? 'reached' : 'NOT reached'} in ${seconds(t0)} s wall, ${cpuSeconds().toFixed(0)} s CPU`,
)

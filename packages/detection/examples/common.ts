/**
 * Shared pieces of the training examples: the synthetic data split, VOC mAP@0.5 of predicted
 * detections on the held-out split, and PNG drawings of detections.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type DetectionBox,
  type GroundTruthBox,
  SYNTHETIC_CLASSES,
  type SyntheticSample,
  vocEvaluate,
} from '../src/index.js'
import { drawBoxesPng } from '../src/draw.js'

export const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'out')

export interface Predicted {
  boxes: number[][]
  scores: number[]
  labels: number[]
}

/** mAP@0.5 (all-point VOC AP, averaged over classes) of predictions for samples. */
export function mapAt50(samples: SyntheticSample[], preds: Predicted[]): number {
  const gts: GroundTruthBox[] = samples.flatMap((s, i) =>
    s.boxes.map((b, k) => ({ image: i, cls: s.labels[k]!, box: b as [number, number, number, number] })),
  )
  const dets: DetectionBox[] = preds.flatMap((p, i) =>
    p.boxes.map((b, k) => ({
      image: i,
      cls: p.labels[k]!,
      score: p.scores[k]!,
      box: b as [number, number, number, number],
    })),
  )
  return vocEvaluate(gts, dets, { iouThreshold: 0.5, method: 'all-point' }).mAP
}

/** Write PNGs of the first n samples with their detections above minScore. */
export function drawDetections(
  prefix: string,
  samples: SyntheticSample[],
  preds: Predicted[],
  n = 4,
  minScore = 0.3,
): string[] {
  mkdirSync(OUT_DIR, { recursive: true })
  return samples.slice(0, n).map((s, i) => {
    const p = preds[i]!
    const keep = p.scores.map((sc, k) => (sc >= minScore ? k : -1)).filter((k) => k >= 0)
    const png = drawBoxesPng(
      s.image,
      keep.map((k) => p.boxes[k]!),
      keep.map((k) => `${SYNTHETIC_CLASSES[p.labels[k]!]} ${p.scores[k]!.toFixed(2)}`),
      keep.map((k) => p.labels[k]!),
    )
    const file = join(OUT_DIR, `${prefix}-${i}.png`)
    writeFileSync(file, png)
    return file
  })
}

export const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0)

/**
 * CPU seconds (user + system) this process has used. On a shared machine the wall clock is
 * inflated by other jobs; the CPU time of a one-thread run (REFNETS_THREADS=1) is the estimate of
 * its wall time on an idle machine, so the examples budget by it.
 */
export const cpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

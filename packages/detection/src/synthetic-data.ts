/**
 * A seeded synthetic detection data set in the spirit of d2l's banana data set (d2l.ai, "The Object
 * Detection Dataset", https://d2l.ai/chapter_computer-vision/object-detection-dataset.html): objects
 * of a few classes (a yellow banana-like crescent, a red disc, a blue square) pasted at random scales
 * and positions onto varied backgrounds (colour gradients, noise and clutter rectangles), with their
 * boxes. The same seed gives the same images on every machine; `toCoco` writes it as COCO JSON.
 */
import { ArgumentError, Generator, Tensor } from '@refnets/core'
import type { CocoDataset } from './coco-eval.js'

export const SYNTHETIC_CLASSES = ['banana', 'disc', 'square'] as const

export interface SyntheticOptions {
  /** Number of images. */
  count: number
  /** Side of the square images in pixels (default 64). */
  size?: number
  seed?: number
  /** Objects per image: 1 to maxObjects (default 2). */
  maxObjects?: number
  /** Object side as a fraction of the image, [min, max] (default [0.2, 0.45]). */
  scale?: [number, number]
  /** How many of SYNTHETIC_CLASSES to use (default 3). */
  numClasses?: number
}

export interface SyntheticSample {
  /** (3, size, size) in [0, 1]. */
  image: Tensor
  /** Corner boxes in pixels. */
  boxes: number[][]
  labels: number[]
}

/** Whether pixel (u, v) in [0, 1]² of the object's box belongs to the object of class c. */
function inside(c: number, u: number, v: number): boolean {
  const x = 2 * u - 1
  const y = 2 * v - 1
  if (c === 0) {
    // crescent: inside an ellipse, outside a shifted one
    const a = (x * x) / 1 + (y * y) / 0.55 <= 1
    const b = (x * x) / 0.8 + ((y + 0.45) * (y + 0.45)) / 0.5 <= 1
    return a && !b && v > 0.15
  }
  if (c === 1) return x * x + y * y <= 1
  return Math.abs(x) <= 0.9 && Math.abs(y) <= 0.9
}

const COLOURS = [
  [0.95, 0.85, 0.15],
  [0.85, 0.15, 0.15],
  [0.15, 0.3, 0.9],
]

/** Generate `count` images with 1..maxObjects non-overlapping (IoU < 0.3) objects each. */
export function syntheticDetectionData({
  count,
  size = 64,
  seed = 0,
  maxObjects = 2,
  scale = [0.2, 0.45],
  numClasses = 3,
}: SyntheticOptions): SyntheticSample[] {
  if (!(Number.isInteger(count) && count >= 0))
    throw new ArgumentError(`syntheticDetectionData: count must be an integer >= 0, got ${count}`)
  if (!(numClasses >= 1 && numClasses <= SYNTHETIC_CLASSES.length))
    throw new ArgumentError(`syntheticDetectionData: numClasses must be 1 to ${SYNTHETIC_CLASSES.length}`)
  const g = new Generator(seed)
  const r = () => g.random()
  const out: SyntheticSample[] = []
  for (let n = 0; n < count; n++) {
    const img = new Float32Array(3 * size * size)
    // background: a random two-colour gradient, noise, and a few clutter rectangles
    const c0 = [r(), r(), r()].map((v) => 0.2 + 0.6 * v)
    const c1 = [r(), r(), r()].map((v) => 0.2 + 0.6 * v)
    const angle = r() * Math.PI * 2
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size; j++) {
        const t = 0.5 + 0.5 * Math.sin(angle) * (i / size - 0.5) + 0.5 * Math.cos(angle) * (j / size - 0.5)
        for (let k = 0; k < 3; k++) img[(k * size + i) * size + j] = c0[k]! * (1 - t) + c1[k]! * t + (r() - 0.5) * 0.1
      }
    for (let q = 0, nq = Math.floor(r() * 4); q < nq; q++) {
      const [x0, y0] = [Math.floor(r() * size), Math.floor(r() * size)]
      const [w, h] = [Math.floor(2 + r() * size * 0.3), Math.floor(2 + r() * size * 0.3)]
      const col = [r(), r(), r()].map((v) => 0.3 + 0.4 * v)
      for (let i = y0; i < Math.min(size, y0 + h); i++)
        for (let j = x0; j < Math.min(size, x0 + w); j++)
          for (let k = 0; k < 3; k++) img[(k * size + i) * size + j] = col[k]!
    }
    const boxes: number[][] = []
    const labels: number[] = []
    const want = 1 + Math.floor(r() * maxObjects)
    for (let tries = 0; boxes.length < want && tries < 20; tries++) {
      const c = Math.floor(r() * numClasses)
      const s = (scale[0] + (scale[1] - scale[0]) * r()) * size
      const aspect = c === 0 ? 1.4 + 0.3 * r() : 0.85 + 0.3 * r()
      const w = Math.min(size, Math.round(s * Math.sqrt(aspect)))
      const h = Math.min(size, Math.round(s / Math.sqrt(aspect)))
      const x1 = Math.floor(r() * (size - w + 1))
      const y1 = Math.floor(r() * (size - h + 1))
      const b = [x1, y1, x1 + w, y1 + h]
      const overlaps = boxes.some((o) => {
        const iw = Math.min(o[2]!, b[2]!) - Math.max(o[0]!, b[0]!)
        const ih = Math.min(o[3]!, b[3]!) - Math.max(o[1]!, b[1]!)
        return iw > 0 && ih > 0 && (iw * ih) / (w * h + (o[2]! - o[0]!) * (o[3]! - o[1]!) - iw * ih) > 0.3
      })
      if (overlaps) continue
      const shade = 0.85 + 0.3 * r()
      for (let i = y1; i < y1 + h; i++)
        for (let j = x1; j < x1 + w; j++)
          if (inside(c, (j - x1 + 0.5) / w, (i - y1 + 0.5) / h))
            for (let k = 0; k < 3; k++)
              img[(k * size + i) * size + j] = Math.min(1, COLOURS[c]![k]! * shade + (r() - 0.5) * 0.06)
      boxes.push(b)
      labels.push(c)
    }
    for (let i = 0; i < img.length; i++) img[i] = Math.min(1, Math.max(0, img[i]!))
    out.push({ image: new Tensor(img, [3, size, size]), boxes, labels })
  }
  return out
}

/** The data set as COCO ground truth (image ids from 1, category id = class + 1, bbox [x, y, w, h]). */
export function toCoco(samples: SyntheticSample[], numClasses = 3): CocoDataset {
  let id = 0
  return {
    images: samples.map((s, i) => ({
      id: i + 1,
      width: s.image.shape[2]!,
      height: s.image.shape[1]!,
      file_name: `${String(i + 1).padStart(5, '0')}.png`,
    })),
    annotations: samples.flatMap((s, i) =>
      s.boxes.map((b, k) => ({
        id: ++id,
        image_id: i + 1,
        category_id: s.labels[k]! + 1,
        bbox: [b[0]!, b[1]!, b[2]! - b[0]!, b[3]! - b[1]!],
        area: (b[2]! - b[0]!) * (b[3]! - b[1]!),
        iscrowd: 0,
      })),
    ),
    categories: SYNTHETIC_CLASSES.slice(0, numClasses).map((name, c) => ({ id: c + 1, name })),
  }
}

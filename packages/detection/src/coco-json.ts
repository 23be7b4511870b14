/**
 * COCO JSON in and out (https://cocodataset.org/#format-data): a ground-truth dataset file
 * (images, annotations, categories) and a results file (a list of {image_id, category_id, bbox,
 * score}), with boxes as [x, y, width, height]. Parsing checks the fields the evaluator reads.
 */
import { ArgumentError } from '@refnets/core'
import type { CocoDataset, CocoResult } from './coco-eval.js'

/** The JSON is not a COCO dataset or results file. */
export class CocoFormatError extends ArgumentError {
  override name = 'CocoFormatError'
}

const isBox = (b: unknown): b is number[] =>
  Array.isArray(b) && b.length === 4 && b.every((v) => typeof v === 'number' && Number.isFinite(v))

/** Parse a COCO ground-truth file (text or parsed JSON). */
export function parseCocoDataset(json: string | unknown): CocoDataset {
  const d = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<CocoDataset>
  for (const k of ['images', 'annotations', 'categories'] as const)
    if (!Array.isArray(d?.[k]))
      throw new CocoFormatError(`COCO dataset: expected an array '${k}', got ${typeof d?.[k]}`)
  d.annotations!.forEach((a, i) => {
    if (
      typeof a.id !== 'number' ||
      typeof a.image_id !== 'number' ||
      typeof a.category_id !== 'number' ||
      !isBox(a.bbox)
    )
      throw new CocoFormatError(
        `COCO dataset: annotation ${i} needs numeric id, image_id, category_id and bbox [x, y, w, h]`,
      )
  })
  return d as CocoDataset
}

/** Parse a COCO results file (text or parsed JSON). */
export function parseCocoResults(json: string | unknown): CocoResult[] {
  const r = typeof json === 'string' ? JSON.parse(json) : json
  if (!Array.isArray(r)) throw new CocoFormatError(`COCO results: expected an array of detections, got ${typeof r}`)
  r.forEach((x: Partial<CocoResult>, i: number) => {
    if (
      typeof x.image_id !== 'number' ||
      typeof x.category_id !== 'number' ||
      !isBox(x.bbox) ||
      typeof x.score !== 'number' ||
      !Number.isFinite(x.score)
    )
      throw new CocoFormatError(
        `COCO results: entry ${i} needs numeric image_id, category_id, finite score and bbox [x, y, w, h]`,
      )
  })
  return r as CocoResult[]
}

/** Results of one image from corner boxes [x1, y1, x2, y2], scores and category ids. */
export function toCocoResults(
  imageId: number,
  boxes: number[][],
  scores: number[],
  categoryIds: number[],
): CocoResult[] {
  if (boxes.length !== scores.length || boxes.length !== categoryIds.length)
    throw new ArgumentError(
      `toCocoResults: ${boxes.length} boxes, ${scores.length} scores and ${categoryIds.length} category ids must match`,
    )
  return boxes.map((b, i) => ({
    image_id: imageId,
    category_id: categoryIds[i]!,
    bbox: [b[0]!, b[1]!, b[2]! - b[0]!, b[3]! - b[1]!],
    score: scores[i]!,
  }))
}

/** COCO JSON text of a dataset or results (stable key order as given). */
export const writeCocoJson = (value: CocoDataset | CocoResult[]): string => JSON.stringify(value)

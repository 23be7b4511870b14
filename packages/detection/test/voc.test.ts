/**
 * VOC AP on the shared voc-toy fixture (7 images, 15 ground truths, 24 detections; expected values
 * stated in rafaelpadilla/review_object_detection_metrics tests/test_eval_pascal.py, see
 * shared/data/detection/voc-toy/expected.json), with its "+1 pixel" IoU and stable tie order.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  type Box,
  type DetectionBox,
  type GroundTruthBox,
  ap11,
  apAllPoint,
  iouOf,
  prCurve,
  vocEvaluate,
} from '../src/index.js'

const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/detection/voc-toy')
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'))
const xywh = (x: number, y: number, w: number, h: number): Box => [x, y, x + w, y + h]
const read = (sub: string) =>
  readdirSync(join(dir, sub))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, sub, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => ({ image: f.slice(0, -4), parts: l.trim().split(/\s+/) })),
    )
const gts: GroundTruthBox[] = read('gts').map(({ image, parts: [c, x, y, w, h] }) => ({
  image,
  cls: c!,
  box: xywh(+x!, +y!, +w!, +h!),
}))
const dets: DetectionBox[] = read('dets').map(({ image, parts: [c, s, x, y, w, h] }) => ({
  image,
  cls: c!,
  score: +s!,
  box: xywh(+x!, +y!, +w!, +h!),
}))

describe('VOC AP on voc-toy', () => {
  it('reads 15 ground truths and 24 detections', () => {
    expect(gts.length).toBe(expected.counts.groundTruths)
    expect(dets.length).toBe(expected.counts.detections)
  })
  it.each(['0.1', '0.3', '0.5', '0.75'])('IoU %s: 11-point and all-point AP as stated', (t) => {
    const rel = (a: number, b: number) => (b === 0 ? a === 0 : Math.abs(a - b) <= 1e-9 * Math.abs(b))
    const e11 = expected.expected.elevenPoint.AP[t]
    const eAll = expected.expected.allPoint.AP[t]
    const r11 = vocEvaluate(gts, dets, { iouThreshold: +t, method: '11-point', plusOne: true }).mAP
    const rAll = vocEvaluate(gts, dets, { iouThreshold: +t, method: 'all-point', plusOne: true }).mAP
    // The stated values have 10 decimals; the recomputed ones are the full doubles.
    expect(Math.abs(r11 - e11)).toBeLessThan(1e-10)
    expect(Math.abs(rAll - eAll)).toBeLessThan(1e-10)
    expect(rel(r11, expected.recomputed[t].AP11)).toBe(true)
    expect(rel(rAll, expected.recomputed[t].APall)).toBe(true)
    const c = prCurve(gts, dets, +t, { plusOne: true })
    expect([c.tp, c.fp]).toEqual([expected.recomputed[t].tp, expected.recomputed[t].fp])
  })
  it('without the +1 pixel rule gives the continuous-area values listed for reference', () => {
    const w = expected.conventions.withoutPlusOne
    expect(vocEvaluate(gts, dets, { iouThreshold: 0.1, method: '11-point' }).mAP).toBeCloseTo(0.30245388669301715, 12)
    expect(vocEvaluate(gts, dets, { iouThreshold: 0.3, method: 'all-point' }).mAP).toBeCloseTo(0.22539682539682537, 12)
    expect(w).toContain('tp 8')
  })
})

describe('curves and edge cases', () => {
  it('a perfect detector has AP 1; no detections AP 0; a class without ground truth is left out of mAP', () => {
    const g: GroundTruthBox[] = [{ image: 1, cls: 'a', box: [0, 0, 10, 10] }]
    expect(vocEvaluate(g, [{ image: 1, cls: 'a', score: 0.9, box: [0, 0, 10, 10] }]).mAP).toBe(1)
    expect(vocEvaluate(g, []).mAP).toBe(0)
    expect(
      vocEvaluate(g, [
        { image: 1, cls: 'a', score: 0.9, box: [0, 0, 10, 10] },
        { image: 1, cls: 'b', score: 0.5, box: [0, 0, 1, 1] },
      ]).mAP,
    ).toBe(1)
    expect(vocEvaluate([], []).mAP).toBe(0)
    expect(ap11({ precision: [], recall: [] })).toBe(0)
    expect(apAllPoint({ precision: [1, 0.5], recall: [0.5, 0.5] })).toBe(0.5)
    expect(iouOf([0, 0, 2, 2], [1, 1, 3, 3])).toBeCloseTo(1 / 7, 15)
  })
  it('rejects x2 < x1 and NaN scores', () => {
    expect(() => prCurve([{ image: 1, cls: 0, box: [5, 0, 1, 1] }], [], 0.5)).toThrow(/x2 >= x1/)
    expect(() => prCurve([], [{ image: 1, cls: 0, score: NaN, box: [0, 0, 1, 1] }], 0.5)).toThrow(/score/)
  })
})

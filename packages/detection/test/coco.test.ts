/**
 * COCO evaluation: the reference evaluator's demo (fake bbox results on 100 val2014 images, see
 * fixtures/coco-fake100/README.md) must give its 12 published numbers; COCO JSON round trips.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { type CocoDataset, type CocoResult, cocoEvaluate, formatCocoStats } from '../src/index.js'

const load = (f: string) => JSON.parse(readFileSync(new URL(`./fixtures/coco-fake100/${f}`, import.meta.url), 'utf8'))
const gt: CocoDataset = load('instances_val2014_100_bbox.json')
const results: CocoResult[] = load('results.json')

/** faster_coco_eval tests/test_cocoapi_fake_data.py ("bbox"), equal to pycocotools to 10 places. */
const EXPECTED = [
  0.5045806987249628, 0.6969727247299577, 0.5729816669904824, 0.5856257209410443, 0.5193996948036719,
  0.5013978986347466, 0.38681277964578054, 0.5936795762842003, 0.595352982877607, 0.6398109626113442,
  0.5664205978994309, 0.5642905982905982,
]
/** cocoapi PythonAPI/pycocoEvalDemo.ipynb, as printed (3 decimals). */
const PRINTED = [0.505, 0.697, 0.573, 0.586, 0.519, 0.501, 0.387, 0.594, 0.595, 0.64, 0.566, 0.564]

describe('COCO evaluator', () => {
  it('reproduces the 12 numbers of the reference evaluator on its demo fixture', () => {
    const r = cocoEvaluate(gt, results)
    r.stats.forEach((s, i) => {
      expect(Math.abs(s - EXPECTED[i]!), `stat ${i}`).toBeLessThan(1e-6)
      expect(Math.round(s * 1000) / 1000).toBe(PRINTED[i])
    })
    expect(formatCocoStats(r.stats).split('\n')[0]).toBe(
      ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505',
    )
  })
})

import { CocoFormatError, parseCocoDataset, parseCocoResults, toCocoResults, writeCocoJson } from '../src/index.js'

describe('COCO JSON and edge cases', () => {
  const tiny: CocoDataset = {
    images: [{ id: 1 }, { id: 2 }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 1, bbox: [20, 20, 30, 30], area: 900, iscrowd: 1 },
    ],
    categories: [
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ],
  }
  it('round-trips datasets and results, converting corner boxes to xywh', () => {
    expect(parseCocoDataset(writeCocoJson(tiny))).toEqual(tiny)
    const r = toCocoResults(1, [[0, 0, 10, 10]], [0.9], [1])
    expect(r).toEqual([{ image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.9 }])
    expect(parseCocoResults(writeCocoJson(r))).toEqual(r)
  })
  it('a perfect detection gives AP 1; detections inside a crowd region are ignored, not false positives', () => {
    const r = cocoEvaluate(tiny, [
      ...toCocoResults(1, [[0, 0, 10, 10]], [0.9], [1]),
      ...toCocoResults(
        1,
        [
          [22, 22, 30, 30],
          [25, 25, 40, 40],
        ],
        [0.95, 0.99],
        [1, 1],
      ),
    ])
    expect(r.stats[0]).toBeCloseTo(1, 12)
    expect(r.stats[3]).toBeCloseTo(1, 12) // the 100-pixel box is small
    expect(r.stats[4]).toBe(-1) // no medium ground truth that is not a crowd
  })
  it('no results: AP 0 where ground truth exists; results for unknown images or bad JSON are errors', () => {
    expect(cocoEvaluate(tiny, []).stats[0]).toBe(0)
    expect(() => cocoEvaluate(tiny, toCocoResults(9, [[0, 0, 1, 1]], [1], [1]))).toThrow(/image 9/)
    expect(() => parseCocoResults('[{"image_id": 1}]')).toThrow(CocoFormatError)
    expect(() => parseCocoDataset('{"images": []}')).toThrow(CocoFormatError)
    expect(() => cocoEvaluate(tiny, [{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: NaN }])).toThrow(/score/)
  })
})

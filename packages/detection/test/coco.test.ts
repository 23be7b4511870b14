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
  0.5045806987249628, 0.6969727247299577, 0.5729816669904824, 0.5856257209410443, 0.5193996948036719, 0.5013978986347466,
  0.38681277964578054, 0.5936795762842003, 0.595352982877607, 0.6398109626113442, 0.5664205978994309, 0.5642905982905982,
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
    expect(formatCocoStats(r.stats).split('\n')[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505')
  })
})

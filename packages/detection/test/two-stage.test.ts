/** The two-stage detector: torchvision's names, RPN anchors, proposals and the RoI-align second stage. */
import { Generator, noGrad, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { TwoStageDetector, rpnAnchors } from '../src/index.js'

describe('two-stage detector', () => {
  const m = new TwoStageDetector({ numClasses: 3, width: 16, hidden: 32 }).eval()
  it("uses torchvision's parameter names", () => {
    const names = Object.keys(m.stateDict())
    for (const k of [
      'rpn.head.conv.0.0.weight',
      'rpn.head.cls_logits.weight',
      'rpn.head.bbox_pred.bias',
      'roi_heads.box_head.fc6.weight',
      'roi_heads.box_head.fc7.bias',
      'roi_heads.box_predictor.cls_score.weight',
      'roi_heads.box_predictor.bbox_pred.weight',
    ])
      expect(names).toContain(k)
  })
  it('RPN anchors are centred on stride multiples with area size² and h / w = ratio', () => {
    const a = rpnAnchors(1, 2, 16, [32], [0.5, 1, 2])
    expect(a.shape).toEqual([6, 4])
    expect([...a.data.subarray(4, 8)]).toEqual([-16, -16, 16, 16])
    // second pixel, ratio 0.5: w = 32 / sqrt(0.5) = 45.3, h = 22.6, rounded per half side
    expect([...a.data.subarray(12, 16)]).toEqual([16 - 23, -11, 16 + 23, 11])
  })
  it('proposes at most postNmsTopN clipped boxes per image and classifies RoIs', () => {
    const x = randn([2, 3, 64, 64], { generator: new Generator(2) })
    const [obj, del] = noGrad(() => m.call(x))
    expect(obj.shape).toEqual([2, 6, 4, 4])
    expect(del.shape).toEqual([2, 24, 4, 4])
    const props = m.propose(x)
    expect(props.length).toBe(2)
    for (const p of props) {
      expect(p.shape[0]).toBeLessThanOrEqual(50)
      for (const v of p.data) expect(v >= 0 && v <= 64).toBe(true)
    }
    const [cls, box] = noGrad(() =>
      m.detectRois(
        x,
        tensor([
          [0, 0, 0, 32, 32],
          [1, 8, 8, 60, 50],
        ]),
      ),
    )
    expect(cls.shape).toEqual([2, 3])
    expect(box.shape).toEqual([2, 12])
  })
})

/** YOLO blocks, YOLOv4 shapes, target assignment, the YOLO loss (gradcheck) and decoding. */
import { ArgumentError, Generator, gradcheck, noGrad, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  Spp,
  assignYoloTargets,
  setHeadPrior,
  smallYolo,
  upsample2x,
  yoloDetect,
  yoloLoss,
  type YoloLossOptions,
} from '../src/index.js'

const levels = [
  {
    stride: 8,
    anchors: [
      [6, 6],
      [10, 14],
    ] as [number, number][],
  },
  {
    stride: 16,
    anchors: [
      [20, 20],
      [30, 18],
    ] as [number, number][],
  },
]
const opts: YoloLossOptions = { numClasses: 2, levels, iouThreshold: 0.3, ignoreThreshold: 0.7 }

describe('YOLO blocks', () => {
  it('upsamples by two (nearest) and SPP keeps the size with 4x the channels', () => {
    const x = tensor([
      [
        [
          [1, 2],
          [3, 4],
        ],
      ],
    ])
    expect(upsample2x(x).toArray()).toEqual([
      [
        [
          [1, 1, 2, 2],
          [1, 1, 2, 2],
          [3, 3, 4, 4],
          [3, 3, 4, 4],
        ],
      ],
    ])
    expect(new Spp().call(randn([1, 3, 7, 7])).shape).toEqual([1, 12, 7, 7])
  })
  it('small YOLO gives three head maps at strides 8, 16 and 32', () => {
    const m = smallYolo({ numClasses: 2 }).eval()
    const ys = noGrad(() => m.call(randn([2, 3, 64, 64], { generator: new Generator(1) })))
    expect(ys.map((y) => y.shape)).toEqual([
      [2, 21, 8, 8],
      [2, 21, 4, 4],
      [2, 21, 2, 2],
    ])
  })
  it('priorProbability sets the objectness and class biases to logit(p) and leaves the box biases alone', () => {
    const p = 0.01
    const logitP = Math.log(p / (1 - p))
    const m = smallYolo({ numClasses: 2, priorProbability: p })
    for (const out of [m.out3, m.out4, m.out5]) {
      const b = out.bias!.toArray() as number[]
      expect(b).toHaveLength(3 * 7)
      for (let a = 0; a < 3; a++) {
        for (let k = 0; k < 4; k++) expect(Math.abs(b[a * 7 + k]!)).toBeLessThan(1) // default U(-1/sqrt(fan_in), ..)
        for (let k = 4; k < 7; k++) expect(b[a * 7 + k]!).toBeCloseTo(logitP, 5)
      }
    }
    // on an image, the mean objectness probability at initialisation is near p (logit(p) plus small noise)
    const ys = noGrad(() => m.eval().call(randn([1, 3, 64, 64], { generator: new Generator(1) })))
    const obj = ys.flatMap((y) => {
      const v = y.toArray() as number[][][][]
      return [0, 1, 2].flatMap((a) => v[0]![a * 7 + 4]!.flat().map((z) => 1 / (1 + Math.exp(-z))))
    })
    const mean = obj.reduce((s, x) => s + x, 0) / obj.length
    expect(mean).toBeLessThan(0.1)
    const plain = smallYolo({ numClasses: 2 })
    const plainObj = plain.out3.bias!.toArray() as number[]
    expect(Math.abs(plainObj[4]!)).toBeLessThan(1)
  })
  it('setHeadPrior rejects p outside (0, 1) and a head of the wrong width', () => {
    const m = smallYolo({ numClasses: 2 })
    expect(() => setHeadPrior(m.out3, 3, 2, 0)).toThrow(ArgumentError)
    expect(() => setHeadPrior(m.out3, 3, 2, 1)).toThrow(ArgumentError)
    expect(() => setHeadPrior(m.out3, 3, 3, 0.01)).toThrow(ArgumentError)
    expect(() => smallYolo({ numClasses: 2, priorProbability: -0.5 })).toThrow(ArgumentError)
  })
})

describe('YOLO targets and loss', () => {
  it('assigns the best anchor and, with multi-anchor assignment, every anchor above the IoU threshold', () => {
    const t = [{ boxes: [[8, 8, 18, 22]], labels: [1] }] // 10 x 14: anchor (10, 14) of level 0 fits exactly
    const single = assignYoloTargets(
      [
        [8, 8],
        [4, 4],
      ],
      t,
      { ...opts, iouThreshold: 1 },
    )
    expect(single.map((p) => [p.level, p.a, p.gx, p.gy])).toEqual([[0, 1, 1, 1]])
    const multi = assignYoloTargets(
      [
        [8, 8],
        [4, 4],
      ],
      t,
      opts,
    )
    expect(multi.length).toBeGreaterThan(1)
  })

  it('rejects out-of-range class ids and inverted boxes; an image without objects has only the objectness term', () => {
    const maps = [randn([1, 14, 8, 8]), randn([1, 14, 4, 4])]
    expect(() => yoloLoss(maps, [{ boxes: [[0, 0, 4, 4]], labels: [2] }], opts)).toThrow(ArgumentError)
    expect(() => yoloLoss(maps, [{ boxes: [[5, 0, 4, 4]], labels: [0] }], opts)).toThrow(/x2 > x1/)
    const l = yoloLoss(maps, [{ boxes: [], labels: [] }], opts)
    expect(l.numPositives).toBe(0)
    expect(l.box.item()).toBe(0)
    expect(Number.isFinite(l.total.item())).toBe(true)
  })

  it.each(['giou', 'diou', 'mse'] as const)(
    'passes gradcheck with the %s box loss, label smoothing and grid sensitivity',
    (boxLoss) => {
      const g = new Generator(4)
      const maps = [
        randn([1, 14, 4, 4], { dtype: 'float64', generator: g }).mul(0.5),
        randn([1, 14, 2, 2], { dtype: 'float64', generator: g }).mul(0.5),
      ]
      const t = [
        {
          boxes: [
            [3, 4, 13, 17],
            [14, 10, 31, 28],
          ],
          labels: [0, 1],
        },
      ]
      const o = { ...opts, boxLoss, labelSmoothing: 0.1, gridScale: 1.1 }
      const r = gradcheck((a, b) => yoloLoss([a!, b!], t, o).total, maps)
      expect(r.relError).toBeLessThan(1e-7)
    },
  )

  it('label smoothing targets are 1 - ε/2 and ε/2: at zero logits the class BCE is log 2', () => {
    const maps = [
      tensor(new Float64Array(14 * 64), { shape: [1, 14, 8, 8] }),
      tensor(new Float64Array(14 * 16), { shape: [1, 14, 4, 4] }),
    ]
    const t = [{ boxes: [[8, 8, 18, 22]], labels: [1] }]
    // zero logits: BCE = log 2 for any target, so the class term is log 2 with or without smoothing
    expect(yoloLoss(maps, t, { ...opts, labelSmoothing: 0.2 }).classification.item()).toBeCloseTo(Math.log(2), 12)
  })
})

describe('YOLO decoding', () => {
  it('recovers a box encoded into the head map', () => {
    // one positive: level 1 (stride 16), anchor 0 (20 x 20), cell (1, 2); box centre (24 + 4, 40 - 4), size 20 e^0.5
    const C = 2
    const m1 = new Float64Array(2 * (5 + C) * 16).fill(-10)
    const m0 = new Float64Array(2 * (5 + C) * 64).fill(-10)
    const at = (a: number, k: number, y: number, x: number) => ((a * (5 + C) + k) * 4 + y) * 4 + x
    const logit = (p: number) => Math.log(p / (1 - p))
    m1[at(0, 0, 2, 1)] = logit(0.75)
    m1[at(0, 1, 2, 1)] = logit(0.25)
    m1[at(0, 2, 2, 1)] = 0.5
    m1[at(0, 3, 2, 1)] = 0.5
    m1[at(0, 4, 2, 1)] = 5
    m1[at(0, 6, 2, 1)] = 5
    const d = yoloDetect([tensor(m0, { shape: [1, 14, 8, 8] }), tensor(m1, { shape: [1, 14, 4, 4] })], {
      numClasses: C,
      levels,
    })
    expect(d[0]!.labels).toEqual([1])
    const w = 20 * Math.exp(0.5)
    const want = [28 - w / 2, 36 - w / 2, 28 + w / 2, 36 + w / 2]
    d[0]!.boxes[0]!.forEach((v, i) => {
      expect(v).toBeCloseTo(want[i]!, 9)
    })
  })
})

import { readFileSync } from 'node:fs'
import { ArgumentError, DTypeError, Generator, ShapeError, Tensor, crossEntropy, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  IMAGENET_EIGVAL,
  IMAGENET_EIGVEC,
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  compose,
  cutmix,
  cutout,
  hflip,
  mixup,
  mosaic,
  normalize,
  pcaLighting,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  randomResizedCropBox,
  resize,
  rgbPca,
  sampleBeta,
  softTargetCrossEntropy,
  vflip,
} from '../src/augment/index.js'

const fixture = JSON.parse(readFileSync(new URL('./fixtures/augment.json', import.meta.url), 'utf8'))

/** A seeded random batch (N, C, H, W) in [0, 1). */
function randomImages(shape: number[], seed = 1): Tensor {
  const g = new Generator(seed)
  const n = shape.reduce((a, b) => a * b, 1)
  return new Tensor(
    Float32Array.from({ length: n }, () => g.random()),
    shape,
  )
}

const arr = (t: Tensor) => Array.from(t.data)

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length)
  let worst = 0
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!))
  expect(worst).toBeLessThanOrEqual(tol)
}

describe('geometry', () => {
  it('hflip mirrors each row and twice is the identity', () => {
    const x = tensor([
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ])
    expect(hflip(x).toArray()).toEqual([
      [
        [3, 2, 1],
        [6, 5, 4],
      ],
    ])
    const b = randomImages([3, 2, 5, 7])
    expect(arr(hflip(hflip(b)))).toEqual(arr(b))
    expect(vflip(x).toArray()).toEqual([
      [
        [4, 5, 6],
        [1, 2, 3],
      ],
    ])
    expect(arr(vflip(vflip(b)))).toEqual(arr(b))
  })

  it('randomHorizontalFlip: p = 1 flips, p = 0 copies, and each image draws its own coin', () => {
    const b = randomImages([16, 1, 4, 4])
    expect(arr(randomHorizontalFlip(b, { p: 1, generator: new Generator(0) }))).toEqual(arr(hflip(b)))
    expect(arr(randomHorizontalFlip(b, { p: 0, generator: new Generator(0) }))).toEqual(arr(b))
    const out = randomHorizontalFlip(b, { generator: new Generator(3) })
    expect(arr(out)).toEqual(arr(randomHorizontalFlip(b, { generator: new Generator(3) })))
    const flipped = hflip(b)
    let nFlipped = 0
    for (let i = 0; i < 16; i++) {
      const o = arr(out.slice(0, i, i + 1))
      const isFlip = o.join() === arr(flipped.slice(0, i, i + 1)).join()
      const isSame = o.join() === arr(b.slice(0, i, i + 1)).join()
      expect(isFlip || isSame).toBe(true)
      if (isFlip) nFlipped++
    }
    expect(nFlipped).toBeGreaterThan(0)
    expect(nFlipped).toBeLessThan(16)
  })

  it('randomCrop cuts a window of the padded image (constant, edge and reflect padding)', () => {
    const x = randomImages([2, 3, 6, 5])
    for (const paddingMode of ['constant', 'edge', 'reflect'] as const) {
      const pad = 2
      const out = randomCrop(x, [6, 5], { padding: pad, paddingMode, fill: -1, generator: new Generator(7) })
      expect(out.shape).toEqual([2, 3, 6, 5])
      expect(arr(out)).toEqual(
        arr(randomCrop(x, [6, 5], { padding: pad, paddingMode, fill: -1, generator: new Generator(7) })),
      )
      // Reference padding, written independently: numpy's pad modes.
      const ref = (i: number, n: number) =>
        paddingMode === 'edge' ? Math.min(Math.max(i, 0), n - 1) : i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i
      const value = (b: number, c: number, y: number, xx: number) =>
        paddingMode === 'constant' && (y < 0 || y >= 6 || xx < 0 || xx >= 5)
          ? -1
          : x.data[((b * 3 + c) * 6 + ref(y, 6)) * 5 + ref(xx, 5)]!
      for (let b = 0; b < 2; b++) {
        let found = false
        for (let top = -pad; top <= pad && !found; top++)
          for (let left = -pad; left <= pad && !found; left++) {
            let ok = true
            for (let c = 0; c < 3 && ok; c++)
              for (let i = 0; i < 6 && ok; i++)
                for (let j = 0; j < 5 && ok; j++)
                  ok = out.data[((b * 3 + c) * 6 + i) * 5 + j] === value(b, c, top + i, left + j)
            found = ok
          }
        expect(found).toBe(true)
      }
    }
    expect(arr(randomCrop(x, [6, 5]))).toEqual(arr(x))
    expect(randomCrop(x.slice(0, 0, 1).squeeze(0), 4, { padding: 1 }).shape).toEqual([3, 4, 4])
    expect(() => randomCrop(x, [9, 5], { padding: 1 })).toThrow(ShapeError)
  })

  it('resize matches torch.nn.functional.interpolate (bilinear, align_corners=False)', () => {
    const b = new Tensor(Float64Array.from(fixture.batch.data), fixture.batch.shape)
    for (const r of fixture.resize) expectClose(resize(b, r.size).data, r.data, 1e-12)
    expect(arr(resize(b, [5, 7]))).toEqual(arr(b))
    // [0, 1] upsampled to 4: sample points -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped neighbour).
    expect(resize(tensor([[[0, 1]]]), [1, 4]).toArray()).toEqual([[[0, 0.25, 0.75, 1]]])
  })

  it('randomResizedCropBox stays inside the image with area and ratio in range', () => {
    const g = new Generator(5)
    for (let k = 0; k < 200; k++) {
      const [top, left, h, w] = randomResizedCropBox(40, 60, { scale: [0.2, 0.9], ratio: [0.5, 2], generator: g })
      expect(top).toBeGreaterThanOrEqual(0)
      expect(left).toBeGreaterThanOrEqual(0)
      expect(top + h).toBeLessThanOrEqual(40)
      expect(left + w).toBeLessThanOrEqual(60)
      // Rounding the sides to pixels moves area and ratio a little.
      expect((h * w) / 2400).toBeGreaterThan(0.18)
      expect((h * w) / 2400).toBeLessThan(0.95)
      expect(w / h).toBeGreaterThan(0.45)
      expect(w / h).toBeLessThan(2.2)
    }
    // Nothing square of area >= 50 fits a 1x100 strip: the fallback is the centred 1x1 window.
    expect(randomResizedCropBox(1, 100, { scale: [0.5, 1], ratio: [1, 1], generator: g })).toEqual([0, 49, 1, 1])
  })

  it('randomResizedCrop with the whole image is a plain resize, and is seeded', () => {
    const x = randomImages([2, 3, 8, 8])
    const whole = randomResizedCrop(x, [5, 6], { scale: [1, 1], ratio: [1, 1], generator: new Generator(0) })
    expectClose(whole.data, resize(x, [5, 6]).data, 1e-7)
    const a = randomResizedCrop(x, 4, { generator: new Generator(9) })
    expect(a.shape).toEqual([2, 3, 4, 4])
    expect(arr(a)).toEqual(arr(randomResizedCrop(x, 4, { generator: new Generator(9) })))
    expect(arr(a)).not.toEqual(arr(randomResizedCrop(x, 4, { generator: new Generator(10) })))
  })
})

describe('colour', () => {
  const img = new Tensor(Float32Array.from(fixture.image.data), fixture.image.shape)

  it('adjustments match torchvision.transforms.functional', () => {
    expectClose(adjustBrightness(img, fixture.brightness.factor).data, fixture.brightness.data, 1e-6)
    expectClose(adjustContrast(img, fixture.contrast.factor).data, fixture.contrast.data, 1e-6)
    expectClose(adjustSaturation(img, fixture.saturation.factor).data, fixture.saturation.data, 1e-6)
    for (const h of fixture.hue) expectClose(adjustHue(img, h.factor).data, h.data, 1e-5)
  })

  it('hue: grey pixels do not change and half a turn twice comes back', () => {
    const grey = new Tensor(Float32Array.from([0.2, 0.7, 0.2, 0.7, 0.2, 0.7]), [3, 1, 2])
    expectClose(adjustHue(grey, 0.3).data, grey.data, 1e-7)
    expectClose(adjustHue(adjustHue(img, 0.5), -0.5).data, img.data, 1e-6)
    expect(() => adjustHue(img, 0.7)).toThrow(ArgumentError)
  })

  it('colorJitter: no jitter copies, brightness alone scales each image by a factor in range', () => {
    const b = new Tensor(
      Float32Array.from(randomImages([4, 3, 3, 3]).data, (v) => 0.1 + v * 0.5),
      [4, 3, 3, 3],
    )
    expect(arr(colorJitter(b, { generator: new Generator(1) }))).toEqual(arr(b))
    const out = colorJitter(b, { brightness: 0.4, generator: new Generator(2) })
    const factors = [0, 1, 2, 3].map((i) => {
      const r = arr(out.slice(0, i, i + 1)).map((v, k) => v / b.data[i * 27 + k]!)
      for (const v of r) expect(v).toBeCloseTo(r[0]!, 5)
      expect(r[0]).toBeGreaterThanOrEqual(0.6)
      expect(r[0]).toBeLessThanOrEqual(1.4)
      return r[0]!
    })
    expect(new Set(factors.map((f) => f.toFixed(5))).size).toBe(4)
    const all = { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1 }
    const j1 = colorJitter(b, { ...all, generator: new Generator(4) })
    expect(arr(j1)).toEqual(arr(colorJitter(b, { ...all, generator: new Generator(4) })))
    for (const v of j1.data) expect(v >= 0 && v <= 1).toBe(true)
    expect(colorJitter(randomImages([1, 4, 4]), { contrast: 0.5 }).shape).toEqual([1, 4, 4])
    expect(() => colorJitter(randomImages([2, 4, 4, 4]), all)).toThrow(ShapeError)
  })

  it('pcaLighting adds one RGB offset per image, along the principal axes', () => {
    const b = randomImages([3, 3, 4, 4])
    expect(arr(pcaLighting(b, { alphaStd: 0, generator: new Generator(0) }))).toEqual(arr(b))
    const out = pcaLighting(b, { generator: new Generator(8) })
    expect(arr(out)).toEqual(arr(pcaLighting(b, { generator: new Generator(8) })))
    for (let n = 0; n < 3; n++) {
      const offset = [0, 1, 2].map((c) => {
        const d = Array.from({ length: 16 }, (_, i) => out.data[(n * 3 + c) * 16 + i]! - b.data[(n * 3 + c) * 16 + i]!)
        for (const v of d) expect(v).toBeCloseTo(d[0]!, 5)
        return d[0]!
      })
      // offset = V (alpha * lambda): project back on the (orthonormal) columns to recover alpha.
      const alpha = [0, 1, 2].map(
        (j) =>
          (IMAGENET_EIGVEC[0][j]! * offset[0]! +
            IMAGENET_EIGVEC[1][j]! * offset[1]! +
            IMAGENET_EIGVEC[2][j]! * offset[2]!) /
          IMAGENET_EIGVAL[j]!,
      )
      for (const a of alpha) expect(Math.abs(a)).toBeLessThan(0.6) // N(0, 0.1): 6 sigma
      expect(alpha.some((a) => Math.abs(a) > 1e-4)).toBe(true)
    }
    expect(() => pcaLighting(randomImages([1, 4, 4]))).toThrow(ShapeError)
  })

  it('rgbPca finds the direction the colours vary along', () => {
    const g = new Generator(2)
    const n = 400
    const px = new Float32Array(3 * n)
    const dir = [1 / 3, 2 / 3, 2 / 3]
    for (let i = 0; i < n; i++) {
      const t = g.normal()
      for (let c = 0; c < 3; c++) px[c * n + i] = 0.5 + 0.2 * t * dir[c]! + 0.01 * g.normal()
    }
    const { eigval, eigvec } = rgbPca(new Tensor(px, [1, 3, 20, 20]))
    expect(eigval[0]).toBeGreaterThan(100 * eigval[1]!)
    expect(eigval[0]).toBeCloseTo(0.04, 2)
    const v = [eigvec[0]![0]!, eigvec[1]![0]!, eigvec[2]![0]!]
    expect(Math.abs(v[0]! * dir[0]! + v[1]! * dir[1]! + v[2]! * dir[2]!)).toBeGreaterThan(0.999)
  })
})

describe('occlusion and mixing', () => {
  it('cutout blanks one square (clipped at the border) in every channel', () => {
    const x = new Tensor(new Float32Array(2 * 3 * 32 * 32).fill(1), [2, 3, 32, 32])
    const out = cutout(x, { size: 8, fill: 0, generator: new Generator(4) })
    expect(arr(out)).toEqual(arr(cutout(x, { size: 8, fill: 0, generator: new Generator(4) })))
    for (let n = 0; n < 2; n++) {
      const masks = [0, 1, 2].map((c) => arr(out.slice(0, n, n + 1).slice(1, c, c + 1)).map((v) => (v === 0 ? 1 : 0)))
      expect(masks[1]).toEqual(masks[0])
      expect(masks[2]).toEqual(masks[0])
      const cells = masks[0]!.flatMap((m, i) => (m ? [[Math.floor(i / 32), i % 32]] : []))
      const rows = new Set(cells.map((p) => p[0]))
      const cols = new Set(cells.map((p) => p[1]))
      expect(cells.length).toBe(rows.size * cols.size) // a rectangle
      expect(rows.size).toBeGreaterThanOrEqual(4)
      expect(rows.size).toBeLessThanOrEqual(8)
      expect(cols.size).toBeGreaterThanOrEqual(4)
      expect(cols.size).toBeLessThanOrEqual(8)
    }
  })

  it('sampleBeta has the Beta mean and stays in [0, 1]', () => {
    const g = new Generator(11)
    for (const [a, b] of [
      [0.2, 0.2],
      [2, 5],
      [1, 1],
    ] as const) {
      let sum = 0
      for (let i = 0; i < 4000; i++) {
        const v = sampleBeta(a, b, g)
        expect(v >= 0 && v <= 1).toBe(true)
        sum += v
      }
      expect(sum / 4000).toBeCloseTo(a / (a + b), 1)
    }
  })

  it('mixup mixes images and one-hot labels with the same weight; label rows sum to 1', () => {
    const x = randomImages([6, 2, 3, 3])
    const y = tensor(Int32Array.from([0, 1, 2, 3, 4, 0]))
    const r = mixup(x, y, { alpha: 0.4, numClasses: 5, generator: new Generator(12) })
    expect(r.lambda).toBeGreaterThanOrEqual(0)
    expect(r.lambda).toBeLessThanOrEqual(1)
    expect(r.labels.shape).toEqual([6, 5])
    for (let i = 0; i < 6; i++) {
      const row = arr(r.labels.slice(0, i, i + 1))
      expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 6)
      const j = r.permutation[i]!
      const want = [0, 1, 2, 3, 4].map(
        (k) => r.lambda * (y.data[i] === k ? 1 : 0) + (1 - r.lambda) * (y.data[j] === k ? 1 : 0),
      )
      expectClose(row, want, 1e-6)
      const xi = arr(x.slice(0, i, i + 1))
      const xj = arr(x.slice(0, j, j + 1))
      expectClose(
        arr(r.images.slice(0, i, i + 1)),
        xi.map((v, k) => r.lambda * v + (1 - r.lambda) * xj[k]!),
        1e-6,
      )
    }
    const again = mixup(x, y, { alpha: 0.4, numClasses: 5, generator: new Generator(12) })
    expect(again.lambda).toBe(r.lambda)
    expect(arr(again.images)).toEqual(arr(r.images))
    // lambda = 1 leaves everything as it was; soft labels go through as given.
    const soft = new Tensor(
      Float32Array.from({ length: 12 }, (_, i) => (i % 2 ? 0.25 : 0.75)),
      [6, 2],
    )
    const id = mixup(x, soft, { lambda: 1 })
    expect(arr(id.images)).toEqual(arr(x))
    expect(arr(id.labels)).toEqual(arr(soft))
    expect(() => mixup(x, y)).toThrow(ArgumentError)
    expect(() => mixup(x.slice(0, 0, 1).squeeze(0), y, { numClasses: 5 })).toThrow(ShapeError)
  })

  it('cutmix pastes one box from the partner image and weighs labels by area', () => {
    const x = randomImages([4, 3, 10, 12])
    const y = tensor(Int32Array.from([0, 1, 2, 1]))
    const r = cutmix(x, y, { numClasses: 3, lambda: 0.6, generator: new Generator(6) })
    const [x1, y1, x2, y2] = r.box
    expect(x2 - x1).toBeGreaterThan(0)
    expect(y2 - y1).toBeGreaterThan(0)
    expect(r.lambda).toBeCloseTo(1 - ((x2 - x1) * (y2 - y1)) / 120, 12)
    for (let i = 0; i < 4; i++)
      for (let c = 0; c < 3; c++)
        for (let yy = 0; yy < 10; yy++)
          for (let xx = 0; xx < 12; xx++) {
            const inside = xx >= x1 && xx < x2 && yy >= y1 && yy < y2
            const srcImage = inside ? r.permutation[i]! : i
            expect(r.images.data[((i * 3 + c) * 10 + yy) * 12 + xx]).toBe(
              x.data[((srcImage * 3 + c) * 10 + yy) * 12 + xx],
            )
          }
    for (let i = 0; i < 4; i++) {
      const row = arr(r.labels.slice(0, i, i + 1))
      expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 6)
      expect(row[y.data[i]!]).toBeGreaterThanOrEqual(r.lambda - 1e-6)
    }
  })

  it('softTargetCrossEntropy equals crossEntropy on one-hot targets', () => {
    const logits = randomImages([5, 4], 3).mul(4)
    const y = tensor(Int32Array.from([0, 3, 1, 2, 3]))
    const onehot = new Tensor(
      Float32Array.from({ length: 20 }, (_, i) => (y.data[Math.floor(i / 4)] === i % 4 ? 1 : 0)),
      [5, 4],
    )
    expect(softTargetCrossEntropy(logits, onehot).item()).toBeCloseTo(crossEntropy(logits, y).item(), 5)
  })
})

describe('mosaic', () => {
  const items = [0.1, 0.2, 0.3, 0.4].map((v, k) => ({
    image: new Tensor(new Float32Array(3 * 8 * 8).fill(v), [3, 8, 8]),
    // The whole image, a small box at its top-left corner, and one at its bottom-right (with a class).
    boxes: [
      [0, 0, 8, 8, 10 + k],
      [0, 0, 1, 1, 20 + k],
      [7, 7, 8, 8, 30 + k],
    ],
    labels: [k, k, k],
  }))

  it('tiles the four images around the centre and moves their boxes with them', () => {
    const r = mosaic(items, { generator: new Generator(3) })
    const [xc, yc] = r.center
    expect(xc).toBeGreaterThanOrEqual(2)
    expect(xc).toBeLessThanOrEqual(6)
    expect(r.image.shape).toEqual([3, 8, 8])
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 8; x++) {
          const k = (y < yc ? 0 : 2) + (x < xc ? 0 : 1)
          expect(r.image.data[(c * 8 + y) * 8 + x]).toBeCloseTo(items[k]!.image.data[0]!, 7)
        }
    // Image 0 sits with its bottom-right corner at the centre: only its bottom-right box survives,
    // at (xc-1, yc-1); the whole-image boxes become the four quadrants.
    const expected = [
      { box: [0, 0, xc, yc, 10], src: 0 },
      { box: [xc - 1, yc - 1, xc, yc, 30], src: 0 },
      { box: [xc, 0, 8, yc, 11], src: 1 },
      { box: [0, yc, xc, 8, 12], src: 2 },
      { box: [xc, yc, 8, 8, 13], src: 3 },
      { box: [xc, yc, xc + 1, yc + 1, 23], src: 3 },
    ]
    expect(r.boxes.slice().sort()).toEqual(expected.map((e) => e.box).sort())
    for (const [i, b] of r.boxes.entries()) {
      expect(r.sources[i]).toBe(expected.find((e) => e.box.join() === b.join())!.src)
      expect(r.labels![i]).toBe(r.sources[i])
    }
    const again = mosaic(items, { generator: new Generator(3) })
    expect(again.boxes).toEqual(r.boxes)
    expect(arr(again.image)).toEqual(arr(r.image))
  })

  it('handles other canvas sizes, fills the uncovered part and drops boxes below minSize', () => {
    const r = mosaic(items, {
      size: [20, 24],
      centerRange: [0.5, 0.5],
      fill: -1,
      minSize: 1,
      generator: new Generator(0),
    })
    expect(r.center).toEqual([12, 10])
    expect(r.image.shape).toEqual([3, 20, 24])
    expect(r.image.data[0]).toBe(-1) // (0, 0) lies outside image 0, which spans x 4..11, y 2..9
    expect(r.image.data[5 * 24 + 6]).toBeCloseTo(0.1, 7)
    // Nothing is cut: every box survives, shifted; 1x1 boxes are not above minSize 1 and are dropped.
    expect(r.boxes).toContainEqual([4, 2, 12, 10, 10])
    expect(r.boxes).toContainEqual([12, 10, 20, 18, 13])
    expect(r.boxes.length).toBe(4)
    expect(r.labels).toEqual([0, 1, 2, 3])
  })

  it('rejects bad input with typed errors', () => {
    expect(() => mosaic(items.slice(0, 3))).toThrow(ArgumentError)
    expect(() =>
      mosaic([...items.slice(0, 3), { image: new Tensor(new Float32Array(64), [1, 8, 8]), boxes: [] }]),
    ).toThrow(ShapeError)
    expect(() => mosaic([...items.slice(0, 3), { ...items[3]!, labels: [1] }])).toThrow(ShapeError)
  })
})

describe('inputs', () => {
  it('normalize and compose', () => {
    const x = tensor([[[0.5]], [[1]]])
    expectClose(normalize(x, [0.5, 0.5], [0.5, 0.25]).data, [0, 2], 1e-7)
    const t = compose(hflip, (im) => normalize(im, [0, 0], [2, 2]))
    expectClose(t(tensor([[[1, 3]], [[5, 7]]])).data, [1.5, 0.5, 3.5, 2.5], 1e-7)
  })

  it('typed errors for non-float pixels and wrong ranks', () => {
    expect(() => hflip(tensor(Int32Array.from([1, 2, 3, 4]), { shape: [1, 2, 2] }))).toThrow(DTypeError)
    expect(() => hflip(tensor([1, 2, 3]))).toThrow(ShapeError)
    expect(() => resize(tensor([[[1]]]), 0)).toThrow(ArgumentError)
  })
})

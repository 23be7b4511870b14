/**
 * Drawing boxes with labels onto a (3, H, W) image tensor, and writing PNG files through
 * @refnets/cnn/image (Node only: this is the `@refnets/detection/draw` entry point). Labels are
 * drawn with a built-in 3x5 pixel font (letters, digits, '.', ':' and '-') on a filled tab.
 */
import { ArgumentError, ShapeError, Tensor } from '@refnets/core'
import { encodePng } from '@refnets/cnn/image'

/** 3x5 glyphs, rows top to bottom, '#' = ink. */
const FONT: Record<string, string> = {
  A: '.#.#.####.##.#',
  B: '##.#.###.#.###.',
  C: '.###..#..#...##',
  D: '##.#.##.##.###.',
  E: '####..###..####',
  F: '####..###..#...',
  G: '.###..#.##.#.##',
  H: '#.##.####.##.#',
  I: '###.#..#..#.###',
  J: '..#..#..##.#.#.',
  K: '#.##.###.#.##.#',
  L: '#..#..#..#..###',
  M: '#.#####.##.##.#',
  N: '##.#.##.##.##.#',
  O: '.#.#.##.##.#.#.',
  P: '##.#.###.#..#..',
  Q: '.#.#.##.##.#..#',
  R: '##.#.###.#.##.#',
  S: '.###...#...###.',
  T: '###.#..#..#..#.',
  U: '#.##.##.##.####',
  V: '#.##.##.##.#.#.',
  W: '#.##.##.######.#',
  X: '#.##.#.#.#.##.#',
  Y: '#.##.#.#..#..#.',
  Z: '###..#.#.#..###',
  '0': '####.##.##.####',
  '1': '.#.##..#..#.###',
  '2': '##...#.#.#..###',
  '3': '###..#.##..####',
  '4': '#.##.####..#..#',
  '5': '####..##...###.',
  '6': '.###..####.####',
  '7': '###..#..#.#..#.',
  '8': '####.#####.####',
  '9': '####.####..###.',
  '.': '............#..',
  ':': '....#.....#....',
  '-': '......###......',
  ' ': '...............',
}

function glyph(ch: string): string {
  const g = FONT[ch.toUpperCase()] ?? FONT[' ']!
  return g.padEnd(15, '.')
}

export interface DrawOptions {
  /** RGB colours in [0, 1], cycled by label (default a fixed palette). */
  palette?: [number, number, number][]
  /** Line width in pixels (default 1). */
  lineWidth?: number
}

const PALETTE: [number, number, number][] = [
  [1, 0.2, 0.2],
  [0.2, 1, 0.2],
  [0.2, 0.4, 1],
  [1, 1, 0.2],
  [1, 0.2, 1],
  [0.2, 1, 1],
]

/**
 * A copy of `image` (3, H, W) with each corner box (pixels) outlined and, when given, its text
 * (e.g. 'banana 0.93') on a tab above it. Boxes are clipped to the image; colours follow `colorIds`.
 */
export function drawBoxes(
  image: Tensor,
  boxes: number[][],
  texts: string[] = [],
  colorIds: number[] = [],
  o: DrawOptions = {},
): Tensor {
  if (image.rank !== 3 || image.shape[0] !== 3)
    throw new ShapeError(`drawBoxes: expected a (3, H, W) image, got shape [${image.shape.join(', ')}]`)
  const [, h, w] = image.shape as [number, number, number]
  const out = Float32Array.from(image.data)
  const palette = o.palette ?? PALETTE
  const lw = o.lineWidth ?? 1
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= w || y >= h) return
    for (let k = 0; k < 3; k++) out[(k * h + y) * w + x] = c[k]!
  }
  boxes.forEach((b, i) => {
    if (b.length !== 4 || !b.every(Number.isFinite))
      throw new ArgumentError(`drawBoxes: box ${i} must be 4 finite numbers, got [${b}]`)
    const c = palette[(colorIds[i] ?? i) % palette.length]!
    const [x1, y1, x2, y2] = b.map(Math.round) as [number, number, number, number]
    for (let t = 0; t < lw; t++) {
      for (let x = x1; x <= x2; x++) {
        put(x, y1 + t, c)
        put(x, y2 - t, c)
      }
      for (let y = y1; y <= y2; y++) {
        put(x1 + t, y, c)
        put(x2 - t, y, c)
      }
    }
    const text = texts[i]
    if (!text) return
    const ty = Math.max(0, y1 - 7)
    for (let y = ty; y < ty + 7; y++) for (let x = x1; x < x1 + 4 * text.length + 1; x++) put(x, y, c)
    ;[...text].forEach((ch, n) => {
      const gl = glyph(ch)
      for (let r = 0; r < 5; r++)
        for (let q = 0; q < 3; q++) if (gl[r * 3 + q] === '#') put(x1 + 1 + 4 * n + q, ty + 1 + r, [0, 0, 0])
    })
  })
  return new Tensor(out, [3, h, w])
}

/** PNG bytes of an image with boxes drawn on it. */
export function drawBoxesPng(
  image: Tensor,
  boxes: number[][],
  texts: string[] = [],
  colorIds: number[] = [],
  o: DrawOptions = {},
): Uint8Array {
  return encodePng(drawBoxes(image, boxes, texts, colorIds, o))
}

/**
 * Self-contained SVG figures for attention: a heatmap of attention weights (d2l's
 * `show_heatmaps`) and a line chart (positional-encoding columns, kernel-regression fits). Plain
 * strings, no DOM: write them to a file in Node or put them in a page.
 */
import { ShapeError, type Tensor, fmt } from '@refnets/core'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Viridis-like ramp from dark blue (0) to yellow (1). */
function colour(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ]
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1)
  const i = Math.min(stops.length - 2, Math.floor(x))
  const f = x - i
  const c = stops[i]!.map((a, k) => Math.round(a + (stops[i + 1]![k]! - a) * f))
  return `rgb(${c.join(',')})`
}

export interface HeatmapOptions {
  title?: string
  xlabel?: string
  ylabel?: string
  /** Side of one cell in pixels (default: fit the larger side into 400 px). */
  cell?: number
}

/** One cell per entry of a 2-D matrix (rows = queries, columns = keys), scaled from its min to its max. */
export function heatmapSvg(
  matrix: Tensor,
  { title = '', xlabel = 'Keys', ylabel = 'Queries', cell }: HeatmapOptions = {},
): string {
  if (matrix.rank !== 2) throw new ShapeError(`heatmapSvg: expected a matrix (rows, columns), got ${fmt(matrix.shape)}`)
  const [rows, cols] = matrix.shape as [number, number]
  const v = Array.from(matrix.data, Number)
  const lo = Math.min(...v)
  const hi = Math.max(...v)
  const c = cell ?? Math.max(2, Math.floor(400 / Math.max(rows, cols)))
  const left = 50
  const top = title ? 30 : 10
  const w = left + cols * c + 80
  const h = top + rows * c + 40
  const rects: string[] = []
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      rects.push(
        `<rect class="cell" x="${left + j * c}" y="${top + i * c}" width="${c}" height="${c}" fill="${colour(hi > lo ? (v[i * cols + j]! - lo) / (hi - lo) : 0)}"/>`,
      )
  const bar = Array.from(
    { length: 20 },
    (_, k) =>
      `<rect x="${left + cols * c + 20}" y="${top + (19 - k) * ((rows * c) / 20)}" width="12" height="${(rows * c) / 20 + 0.5}" fill="${colour(k / 19)}"/>`,
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    title ? `<text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>` : '',
    ...rects,
    ...bar,
    `<text x="${left + cols * c + 36}" y="${top + 8}">${hi.toPrecision(3)}</text>`,
    `<text x="${left + cols * c + 36}" y="${top + rows * c}">${lo.toPrecision(3)}</text>`,
    `<text x="${left + (cols * c) / 2}" y="${top + rows * c + 25}" text-anchor="middle">${esc(xlabel)}</text>`,
    `<text x="15" y="${top + (rows * c) / 2}" text-anchor="middle" transform="rotate(-90 15 ${top + (rows * c) / 2})">${esc(ylabel)}</text>`,
    '</svg>',
  ]
    .filter(Boolean)
    .join('\n')
}

export interface Series {
  name: string
  x: number[]
  y: number[]
  /** Draw points instead of a line. */
  points?: boolean
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b']

/** A line chart of several series with axes, ticks and a legend. */
export function lineChartSvg(
  series: Series[],
  { title = '', xlabel = '', ylabel = '', width = 560, height = 320 } = {},
): string {
  const xs = series.flatMap((s) => s.x)
  const ys = series.flatMap((s) => s.y)
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]
  const m = { l: 55, r: 130, t: title ? 30 : 12, b: 40 }
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (width - m.l - m.r)
  const py = (y: number) => height - m.b - ((y - y0) / (y1 - y0 || 1)) * (height - m.t - m.b)
  const ticks = (a: number, b: number) => Array.from({ length: 5 }, (_, i) => a + ((b - a) * i) / 4)
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    title ? `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>` : '',
    `<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="black"/>`,
    ...ticks(x0, x1).map(
      (t) => `<text x="${px(t)}" y="${height - m.b + 14}" text-anchor="middle">${+t.toPrecision(3)}</text>`,
    ),
    ...ticks(y0, y1).map((t) => `<text x="${m.l - 5}" y="${py(t) + 4}" text-anchor="end">${+t.toPrecision(3)}</text>`),
    `<text x="${(m.l + width - m.r) / 2}" y="${height - 8}" text-anchor="middle">${esc(xlabel)}</text>`,
    `<text x="14" y="${height / 2}" text-anchor="middle" transform="rotate(-90 14 ${height / 2})">${esc(ylabel)}</text>`,
  ]
  series.forEach((s, k) => {
    const col = PALETTE[k % PALETTE.length]!
    if (s.points)
      parts.push(
        ...s.x.map((x, i) => `<circle cx="${px(x).toFixed(1)}" cy="${py(s.y[i]!).toFixed(1)}" r="2.5" fill="${col}"/>`),
      )
    else
      parts.push(
        `<polyline fill="none" stroke="${col}" stroke-width="1.5" points="${s.x.map((x, i) => `${px(x).toFixed(1)},${py(s.y[i]!).toFixed(1)}`).join(' ')}"/>`,
      )
    parts.push(`<rect x="${width - m.r + 10}" y="${m.t + k * 16}" width="10" height="10" fill="${col}"/>`)
    parts.push(`<text x="${width - m.r + 25}" y="${m.t + k * 16 + 9}">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.filter(Boolean).join('\n')
}

/**
 * A labelled 2-D scatter plot as a self-contained SVG string (for word-embedding projections and
 * Zipf plots): points are scaled into the canvas with a margin; labels are XML-escaped.
 */
import { ArgumentError } from '@refnets/core'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function scatterSvg(
  points: [number, number][],
  labels: string[],
  { width = 800, height = 600, title = '' } = {},
): string {
  if (points.length !== labels.length)
    throw new ArgumentError(`scatterSvg: ${points.length} points but ${labels.length} labels`)
  if (points.some(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y)))
    throw new ArgumentError('scatterSvg: every coordinate must be finite')
  const m = 40
  const xs = points.map((p) => p[0])
  const ys = points.map((p) => p[1])
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)]
  const sx = (x: number) => m + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * m)
  const sy = (y: number) => height - m - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * m)
  const body = points
    .map(([x, y], i) => {
      const [px, py] = [sx(x), sy(y)]
      const dot = `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="#1f77b4"/>`
      return `${dot}<text x="${(px + 4).toFixed(1)}" y="${(py - 3).toFixed(1)}" font-size="11">${esc(labels[i]!)}</text>`
    })
    .join('\n')
  const head = title ? `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>\n` : ''
  const open = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"`
  return `${open} font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${head}${body}\n</svg>\n`
}

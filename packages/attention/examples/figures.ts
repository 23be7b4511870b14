/**
 * The attention chapter's figures (d2l.ai 11.2 and 11.6), written as SVG into docs/figures/attention/:
 *
 *   nw-heatmap-nonparametric.svg  Nadaraya-Watson attention weights (test inputs x training inputs), w = 1
 *   nw-heatmap-learned.svg        the same with the learned w (a narrower Gaussian kernel)
 *   nw-fit.svg                    truth, noisy training data and both fits
 *   positional-encoding-columns.svg  columns 6-9 of the sinusoid table over 60 positions
 *   positional-encoding-heatmap.svg  the table itself (60 positions x 64 dimensions)
 *
 *   pnpm run example:figures
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { noGrad } from '@refnets/core'
import {
  NWKernelRegression,
  heatmapSvg,
  lineChartSvg,
  nadarayaWatson,
  nadarayaWatsonData,
  sinusoidalTable,
  trainNWKernelRegression,
} from '../src/index.js'

const dir = fileURLToPath(new URL('../../../docs/figures/attention/', import.meta.url))
mkdirSync(dir, { recursive: true })
const write = (name: string, svg: string) => {
  writeFileSync(`${dir}${name}`, svg)
  console.log(`wrote docs/figures/attention/${name}`)
}

const data = nadarayaWatsonData({ dtype: 'float64', seed: 0 })
const plain = nadarayaWatson(data.xTest, data.xTrain, data.yTrain)
const model = new NWKernelRegression({ dtype: 'float64', seed: 0 })
const losses = trainNWKernelRegression(model, data)
const learned = noGrad(() => {
  const pred = model.call(data.xTest, data.xTrain, data.yTrain)
  return { pred, weights: model.attentionWeights! }
})
const mse = (p: Float64Array) => p.reduce((a, v, i) => a + (v - (data.yTruth.data[i] as number)) ** 2, 0) / p.length
console.log(`learned w = ${model.w.item().toFixed(3)}; training loss ${losses.map((l) => l.toFixed(2)).join(' -> ')}`)
console.log(
  `test MSE against the truth: non-parametric ${mse(plain.pred.data as Float64Array).toFixed(4)}, learned ${mse(learned.pred.data as Float64Array).toFixed(4)}`,
)

write(
  'nw-heatmap-nonparametric.svg',
  heatmapSvg(plain.weights, {
    title: 'Nadaraya-Watson weights, w = 1',
    xlabel: 'Sorted training inputs',
    ylabel: 'Sorted testing inputs',
    cell: 8,
  }),
)
write(
  'nw-heatmap-learned.svg',
  heatmapSvg(learned.weights, {
    title: `Nadaraya-Watson weights, learned w = ${model.w.item().toFixed(2)}`,
    xlabel: 'Sorted training inputs',
    ylabel: 'Sorted testing inputs',
    cell: 8,
  }),
)
const xt = Array.from(data.xTest.data as Float64Array)
write(
  'nw-fit.svg',
  lineChartSvg(
    [
      { name: 'Truth', x: xt, y: Array.from(data.yTruth.data as Float64Array) },
      { name: 'Pred (w = 1)', x: xt, y: Array.from(plain.pred.data as Float64Array) },
      { name: 'Pred (learned w)', x: xt, y: Array.from(learned.pred.data as Float64Array) },
      {
        name: 'Training data',
        x: Array.from(data.xTrain.data as Float64Array),
        y: Array.from(data.yTrain.data as Float64Array),
        points: true,
      },
    ],
    { title: 'Nadaraya-Watson kernel regression', xlabel: 'x', ylabel: 'y' },
  ),
)

const P = sinusoidalTable(60, 32, 'float64')
write(
  'positional-encoding-columns.svg',
  lineChartSvg(
    [6, 7, 8, 9].map((j) => ({
      name: `Col ${j}`,
      x: [...Array(60).keys()],
      y: Array.from({ length: 60 }, (_, i) => P.data[i * 32 + j] as number),
    })),
    { title: 'Sinusoidal positional encoding', xlabel: 'Row (position)' },
  ),
)
write(
  'positional-encoding-heatmap.svg',
  heatmapSvg(sinusoidalTable(60, 64, 'float64'), {
    title: 'Positional encoding',
    xlabel: 'Column (encoding dimension)',
    ylabel: 'Row (position)',
    cell: 6,
  }),
)

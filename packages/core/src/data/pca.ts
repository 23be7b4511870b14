/**
 * PCA and whitening (CS231n, "PCA and Whitening", https://cs231n.github.io/neural-networks-2/). PCA maps d features
 * onto the k orthogonal directions of largest variance: the top eigenvectors of the covariance matrix, or equivalently
 * the top right singular vectors of the centred data (X_c = U S V^T, so C = V S^2 V^T / (n - 1)).
 * Both routes are implemented; they agree to rounding. PCA whitening then divides each projected
 * coordinate by its standard deviation; ZCA whitening rotates the result back into the original
 * coordinates. Decompositions run in float64.
 */
import { ArgumentError, ShapeError } from '../errors.js'
import { fmt } from '../shape.js'
import { Tensor } from '../tensor.js'
import { svd, symmetricEig } from './linalg.js'

export interface PcaOptions {
  /** 'eig': eigendecomposition of the covariance matrix; 'svd': SVD of the centred data (default 'eig'). */
  method?: 'eig' | 'svd'
}

/** A fitted PCA: every tensor here is float64. */
export class PCA {
  constructor(
    /** Feature means of the training data, (d). */
    readonly mean: Tensor,
    /** Principal axes as rows, (k, d), unit length, ordered by explained variance. */
    readonly components: Tensor,
    /** Variance along each component (covariance eigenvalues, with the n - 1 denominator), (k). */
    readonly explainedVariance: Tensor,
    /** Each component's share of the total variance of all d directions, (k). */
    readonly explainedVarianceRatio: Tensor,
    /** Singular values of the centred data, sqrt((n - 1) * variance), (k). */
    readonly singularValues: Tensor,
  ) {}

  get nComponents(): number {
    return this.components.shape[0]!
  }

  /** Project (N, d) onto the components: (x - mean) W^T, (N, k), in x's dtype. */
  transform(x: Tensor): Tensor {
    checkFeatures(x, this.mean.shape[0]!, 'PCA.transform')
    return x.to('float64').sub(this.mean).matmul(this.components.T).to(outDtype(x))
  }

  /** Map (N, k) coordinates back to feature space: z W + mean, (N, d). */
  inverseTransform(z: Tensor): Tensor {
    checkFeatures(z, this.nComponents, 'PCA.inverseTransform')
    return z.to('float64').matmul(this.components).add(this.mean).to(outDtype(z))
  }
}

const outDtype = (x: Tensor) => (x.dtype === 'float64' ? 'float64' : 'float32')

function checkFeatures(x: Tensor, d: number, what: string): void {
  if (x.rank !== 2 || x.shape[1] !== d) throw new ShapeError(`${what} expects (N, ${d}), got ${fmt(x.shape)}`)
}

/** Centre the columns of an (n, d) tensor: [centred values, means] in float64. */
function centre(x: Tensor): [Float64Array, Float64Array, number, number] {
  if (x.rank !== 2 || x.shape[0]! < 2)
    throw new ShapeError(`PCA needs an (N, d) tensor with N >= 2, got ${fmt(x.shape)}`)
  const [n, d] = x.shape as [number, number]
  const src = x.data
  const mean = new Float64Array(d)
  for (let i = 0; i < n * d; i++) mean[i % d]! += Number(src[i])
  for (let j = 0; j < d; j++) mean[j]! /= n
  const xc = new Float64Array(n * d)
  for (let i = 0; i < n * d; i++) xc[i] = Number(src[i]) - mean[i % d]!
  return [xc, mean, n, d]
}

/**
 * The full spectrum of the centred data: eigenvalues of C = X_c^T X_c / (n - 1) (largest first) and
 * the matching unit eigenvectors as rows of a (d, d) matrix.
 */
function spectrum(
  xc: Float64Array,
  n: number,
  d: number,
  method: 'eig' | 'svd',
): { values: Float64Array; axes: Float64Array } {
  const axes = new Float64Array(d * d)
  let values: Float64Array
  if (method === 'eig') {
    // Sample covariance matrix (Cov(x, y) = 1/(n-1) sum (x_i - mean_x)(y_i - mean_y)).
    const cov = new Float64Array(d * d)
    for (let i = 0; i < n; i++)
      for (let a = 0; a < d; a++) {
        const xa = xc[i * d + a]!
        for (let b = a; b < d; b++) cov[a * d + b]! += xa * xc[i * d + b]!
      }
    for (let a = 0; a < d; a++)
      for (let b = a; b < d; b++) {
        cov[a * d + b]! /= n - 1
        cov[b * d + a] = cov[a * d + b]!
      }
    const e = symmetricEig(cov, d)
    // NOTE: rounding can leave tiny negative eigenvalues of a PSD matrix; clamp them to 0.
    values = e.values.map((v) => Math.max(v, 0))
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) axes[j * d + k] = e.vectors[k * d + j]!
  } else if (method === 'svd') {
    const r = svd(xc, n, d)
    const rk = r.s.length
    values = new Float64Array(d)
    for (let j = 0; j < rk; j++) values[j] = (r.s[j]! * r.s[j]!) / (n - 1)
    // With n < d the SVD has only n right singular vectors; the remaining axes carry zero variance.
    for (let j = 0; j < Math.min(rk, d); j++) for (let k = 0; k < d; k++) axes[j * d + k] = r.v[k * rk + j]!
  } else {
    throw new ArgumentError(`PCA method must be 'eig' or 'svd', got '${method}'`)
  }
  // NOTE: eigenvectors are defined up to sign. Make the largest-magnitude entry of each axis
  // positive so both methods (and repeated runs) give the same components.
  for (let j = 0; j < d; j++) {
    let big = 0
    for (let k = 0; k < d; k++) if (Math.abs(axes[j * d + k]!) > Math.abs(big)) big = axes[j * d + k]!
    if (big < 0) for (let k = 0; k < d; k++) axes[j * d + k] = -axes[j * d + k]!
  }
  return { values, axes }
}

/** Fit PCA with k components (default all d) on an (N, d) tensor. */
export function pca(x: Tensor, k?: number, { method = 'eig' }: PcaOptions = {}): PCA {
  const [xc, mean, n, d] = centre(x)
  const nc = k ?? d
  if (!Number.isInteger(nc) || nc < 1 || nc > d)
    throw new ArgumentError(`PCA: k must be an integer in [1, ${d}], got ${k}`)
  const { values, axes } = spectrum(xc, n, d, method)
  const total = values.reduce((a, b) => a + b, 0)
  const top = values.slice(0, nc)
  return new PCA(
    new Tensor(mean, [d]),
    new Tensor(axes.slice(0, nc * d), [nc, d]),
    new Tensor(top, [nc]),
    new Tensor(
      top.map((v) => (total > 0 ? v / total : 0)),
      [nc],
    ),
    new Tensor(
      top.map((v) => Math.sqrt(v * (n - 1))),
      [nc],
    ),
  )
}

/** A fitted linear whitening map y = (x - mean) W. */
export class Whitener {
  constructor(
    readonly mean: Tensor,
    /** (d, k) for PCA whitening, (d, d) for ZCA; float64. */
    readonly matrix: Tensor,
    /** Its inverse map, (k, d) or (d, d). */
    readonly inverseMatrix: Tensor,
  ) {}

  transform(x: Tensor): Tensor {
    checkFeatures(x, this.mean.shape[0]!, 'whiten.transform')
    return x.to('float64').sub(this.mean).matmul(this.matrix).to(outDtype(x))
  }

  inverse(y: Tensor): Tensor {
    checkFeatures(y, this.matrix.shape[1]!, 'whiten.inverse')
    return y.to('float64').matmul(this.inverseMatrix).add(this.mean).to(outDtype(y))
  }
}

export interface WhitenOptions extends PcaOptions {
  /**
   * Added to each eigenvalue before dividing by its square root (default 1e-5, as in CS231n's
   * `Xrot / np.sqrt(S + 1e-5)`). NOTE: without it, directions of (near) zero variance would be
   * amplified without bound; with it, they are damped and the whitened covariance is
   * diag(lambda / (lambda + eps)) instead of exactly I.
   */
  eps?: number
}

function whitenParts(x: Tensor, k: number | undefined, { eps = 1e-5, method = 'eig' }: WhitenOptions) {
  if (!(eps >= 0)) throw new ArgumentError(`whitening eps must be >= 0, got ${eps}`)
  const p = pca(x, k, { method })
  const scale = p.explainedVariance.data.map((v) => 1 / Math.sqrt(v + eps))
  const unscale = p.explainedVariance.data.map((v) => Math.sqrt(v + eps))
  const s = new Tensor(Float64Array.from(scale), [scale.length])
  const us = new Tensor(Float64Array.from(unscale), [unscale.length])
  return { p, s, us }
}

/**
 * PCA whitening (CS231n): rotate onto the principal axes and divide each coordinate by its
 * standard deviation: y = (x - mean) V diag(1 / sqrt(lambda + eps)), (N, k).
 */
export function pcaWhiten(x: Tensor, opts: WhitenOptions & { k?: number } = {}): Whitener {
  const { p, s, us } = whitenParts(x, opts.k, opts)
  const v = p.components.T // (d, k)
  return new Whitener(p.mean, v.mul(s), p.components.mul(us.unsqueeze(1)))
}

/**
 * ZCA whitening (Krizhevsky 2009, appendix A, https://www.cs.toronto.edu/~kriz/learning-features-2009-TR.pdf):
 * PCA whitening rotated back into the original coordinates,
 * y = (x - mean) V diag(1 / sqrt(lambda + eps)) V^T: identity covariance, and the closest such
 * map to the data itself (images stay recognisable).
 */
export function zcaWhiten(x: Tensor, opts: WhitenOptions = {}): Whitener {
  const { p, s, us } = whitenParts(x, undefined, opts)
  const v = p.components.T // (d, d)
  return new Whitener(p.mean, v.mul(s).matmul(p.components), v.mul(us).matmul(p.components))
}

/**
 * Gradient clipping, against exploding gradients in RNNs (Pascanu, Mikolov & Bengio 2013,
 * https://arxiv.org/abs/1211.5063; https://d2l.ai/chapter_recurrent-neural-networks/rnn-scratch.html).
 * Call between `loss.backward()` and `optimizer.step()`.
 */
import { noGrad } from '../autograd.js'
import { allocate } from '../dtype.js'
import { ArgumentError } from '../errors.js'
import { Tensor } from '../tensor.js'

/**
 * Rescale all gradients together so that their global norm (over every parameter, as if the
 * gradients were one vector) is at most `maxNorm`: g <- g * maxNorm / (norm + 1e-6) when
 * norm > maxNorm. Returns the norm before clipping (useful to log). `normType` 2 (default),
 * any p >= 1, or Infinity (largest absolute value), as PyTorch's clip_grad_norm_.
 * NOTE: the 1e-6 in the denominator is PyTorch's, so the clipped norm is a hair below maxNorm.
 * Gradients are replaced by scaled copies (a gradient tensor may share storage with another's).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  if (!(maxNorm >= 0)) throw new ArgumentError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`)
  if (!(normType > 0)) throw new ArgumentError(`clipGradNorm: normType must be > 0 or Infinity, got ${normType}`)
  const withGrad = [...params].filter((p) => p.grad)
  if (withGrad.length === 0) return 0
  let total = 0
  for (const p of withGrad) {
    const g = p.grad!.data
    if (normType === Infinity) for (let i = 0; i < g.length; i++) total = Math.max(total, Math.abs(g[i]!))
    else for (let i = 0; i < g.length; i++) total += Math.abs(g[i]!) ** normType
  }
  if (normType !== Infinity) total = total ** (1 / normType)
  const coef = maxNorm / (total + 1e-6)
  if (coef < 1) scaleGrads(withGrad, (x) => x * coef)
  return total
}

/** Clamp every gradient element to [-clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new ArgumentError(`clipGradValue: clipValue must be >= 0, got ${clipValue}`)
  scaleGrads(
    [...params].filter((p) => p.grad),
    (x) => Math.min(Math.max(x, -clipValue), clipValue),
  )
}

function scaleGrads(params: Tensor[], f: (x: number) => number): void {
  noGrad(() => {
    for (const p of params) {
      const g = p.grad!
      const src = g.data
      const out = allocate(g.dtype, g.size)
      for (let i = 0; i < src.length; i++) out[i] = f(src[i]!)
      p.grad = new Tensor(out, g.shape)
    }
  })
}

/**
 * Gradient check (Ng's Deep Learning course, https://www.coursera.org/learn/deep-neural-network; CS231n,
 * https://cs231n.github.io/neural-networks-3/): compare the autograd gradient with two-sided finite differences
 * (f(x+eps) - f(x-eps)) / 2eps, by the relative error ||g - g_num|| / (||g|| + ||g_num||).
 * Below 1e-7 the backward pass is right, around 1e-5 suspicious, above 1e-3 wrong. Run in float64:
 * in float32 the differences drown in rounding. Not for use during training (it is slow).
 */
import { noGrad } from './autograd.js'
import { ArgumentError, DTypeError } from './errors.js'
import { Generator } from './random.js'
import { Tensor } from './tensor.js'

export interface GradcheckResult {
  /** The relative error over all inputs together. */
  relError: number
  /** Per checked input (in the order of `wrt`): relative error of that input's gradient. */
  perInput: number[]
  /** The indices of the checked inputs. */
  wrt: number[]
  /** Every per-input error, and the combined one, below `tol`: a small input's wrong gradient cannot hide. */
  ok: boolean
}

export interface GradcheckOptions {
  eps?: number
  /** Pass threshold on the relative error (default 1e-7, the course's "correct"). */
  tol?: number
  /** Which inputs to check (default: every float64 input; at least one is required). */
  wrt?: number[]
  seed?: number
}

/**
 * Check d f(inputs) / d inputs. A non-scalar output is reduced with fixed random weights R, so every
 * output element takes part: L = sum(f(x) * R).
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: GradcheckOptions = {},
): GradcheckResult {
  const eps = opts.eps ?? 1e-6
  const tol = opts.tol ?? 1e-7
  const wrt = opts.wrt ?? inputs.flatMap((t, i) => (t.dtype === 'float64' ? [i] : []))
  // NOTE: with nothing to perturb the errors would be 0 and the check would "pass" having checked nothing.
  if (wrt.length === 0)
    throw opts.wrt
      ? new ArgumentError('gradcheck: wrt is empty; name at least one input to check')
      : new DTypeError(
          `gradcheck needs at least one float64 input to check; got ${inputs.length === 0 ? 'no inputs' : `dtypes [${inputs.map((t) => t.dtype).join(', ')}]`}`,
        )
  for (const i of wrt) {
    if (!Number.isInteger(i) || i < 0 || i >= inputs.length)
      throw new ArgumentError(`gradcheck: wrt index ${i} is not an input (there are ${inputs.length})`)
    if (inputs[i]!.dtype !== 'float64')
      throw new DTypeError(`gradcheck needs float64 inputs; input ${i} is ${inputs[i]!.dtype}`)
  }

  // Fresh leaves, so the check neither reads nor leaves gradients on the caller's tensors.
  const xs = inputs.map((t, i) => {
    const c = new Tensor(Float64Array.from(t.data as Float64Array), t.shape)
    return wrt.includes(i) ? c.requireGrad() : t
  })
  const gen = new Generator(opts.seed ?? 1234)
  const first = noGrad(() => fn(...xs))
  const R = new Tensor(
    Float64Array.from({ length: first.size }, () => gen.normal()),
    first.shape,
  )
  const loss = (...a: Tensor[]) =>
    fn(...a)
      .to('float64')
      .mul(R)
      .sum()

  loss(...xs).backward()
  let num2 = 0
  let den = 0
  let diff2 = 0
  const perInput = wrt.map((i) => {
    const x = xs[i]!
    const data = x.storage as Float64Array
    const g = x.grad ? (x.grad.data as Float64Array) : new Float64Array(x.size)
    let d2 = 0
    let a2 = 0
    let n2 = 0
    for (let k = 0; k < data.length; k++) {
      const orig = data[k]!
      data[k] = orig + eps
      const fp = noGrad(() => loss(...xs).item())
      data[k] = orig - eps
      const fm = noGrad(() => loss(...xs).item())
      data[k] = orig
      const gn = (fp - fm) / (2 * eps)
      d2 += (g[k]! - gn) ** 2
      a2 += g[k]! ** 2
      n2 += gn ** 2
    }
    diff2 += d2
    num2 += n2
    den += a2
    const denom = Math.sqrt(a2) + Math.sqrt(n2)
    return denom === 0 ? 0 : Math.sqrt(d2) / denom
  })
  const denom = Math.sqrt(den) + Math.sqrt(num2)
  const relError = denom === 0 ? 0 : Math.sqrt(diff2) / denom
  return { relError, perInput, wrt, ok: relError < tol && perInput.every((e) => e < tol) }
}

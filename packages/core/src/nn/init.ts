/**
 * Weight initialisation (CS231n, https://cs231n.github.io/neural-networks-2/; d2l.ai,
 * https://d2l.ai/chapter_multilayer-perceptrons/numerical-stability-and-init.html): never all zeros
 * (symmetry is never broken); small random N(0, 0.01); Xavier/Glorot for tanh/sigmoid (Glorot &
 * Bengio 2010, https://proceedings.mlr.press/v9/glorot10a.html); He/Kaiming for ReLU and its leaky
 * variant (He et al. 2015, https://arxiv.org/abs/1502.01852).
 * Each fills a tensor in place from the seedable default generator and returns it.
 */
import { ArgumentError } from '../errors.js'
import { type Generator, defaultGenerator } from '../random.js'
import type { Tensor } from '../tensor.js'

/** fan_in, fan_out as PyTorch computes them: dims 1 and 0 times the receptive field (conv kernels). */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw new ArgumentError(`fan in/out need a tensor of rank >= 2, got rank ${shape.length}`)
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1)
  return [shape[1]! * receptive, shape[0]! * receptive]
}

function fill(t: Tensor, draw: () => number): Tensor {
  const d = t.storage
  for (let i = 0; i < d.length; i++) d[i] = draw()
  return t
}

export const uniform_ = (t: Tensor, a = 0, b = 1, g: Generator = defaultGenerator) => {
  g.uniformFill(t.storage, a, b)
  return t
}
export const normal_ = (t: Tensor, mean = 0, std = 1, g: Generator = defaultGenerator) => {
  g.normalFill(t.storage, mean, std)
  return t
}
export const constant_ = (t: Tensor, v: number) => fill(t, () => v)
export const zeros_ = (t: Tensor) => constant_(t, 0)
export const ones_ = (t: Tensor) => constant_(t, 1)

/** Small random init N(0, std^2), std 0.01 by default (CS231n: "W = 0.01 * np.random.randn(D, H)"). */
export const smallNormal_ = (t: Tensor, std = 0.01, g: Generator = defaultGenerator) => normal_(t, 0, std, g)

/** Glorot & Bengio 2010: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, gain = 1, g: Generator = defaultGenerator): Tensor {
  const [fi, fo] = fans(t.shape)
  const a = gain * Math.sqrt(6 / (fi + fo))
  return uniform_(t, -a, a, g)
}

/** N(0, gain^2 * 2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, gain = 1, g: Generator = defaultGenerator): Tensor {
  const [fi, fo] = fans(t.shape)
  return normal_(t, 0, gain * Math.sqrt(2 / (fi + fo)), g)
}

/**
 * He et al. 2015: std = sqrt(2 / ((1 + a^2) fan)), a = the leaky-ReLU slope (0 for ReLU), so the
 * variance is 2/fan_in for ReLU (as CS231n recommends) and 2/((1+a^2) fan_in) for leaky ReLU.
 */
export function kaimingNormal_(
  t: Tensor,
  a = 0,
  mode: 'fan_in' | 'fan_out' = 'fan_in',
  g: Generator = defaultGenerator,
): Tensor {
  const [fi, fo] = fans(t.shape)
  return normal_(t, 0, Math.sqrt(2 / ((1 + a * a) * (mode === 'fan_in' ? fi : fo))), g)
}

/** U(-b, b) with b = sqrt(6 / ((1 + a^2) fan)); with a = sqrt(5) this is PyTorch's Linear/Conv default. */
export function kaimingUniform_(
  t: Tensor,
  a = 0,
  mode: 'fan_in' | 'fan_out' = 'fan_in',
  g: Generator = defaultGenerator,
): Tensor {
  const [fi, fo] = fans(t.shape)
  const b = Math.sqrt(6 / ((1 + a * a) * (mode === 'fan_in' ? fi : fo)))
  return uniform_(t, -b, b, g)
}

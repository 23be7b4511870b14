/**
 * Positional encodings (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, section 3.5; d2l.ai
 * 11.6.3, https://d2l.ai/chapter_attention-mechanisms-and-transformers/self-attention-and-positional-encoding.html).
 * Self-attention is permutation-equivariant, so order is added to the input: either the fixed
 * sinusoids P[i, 2j] = sin(i / 10000^(2j/d)), P[i, 2j+1] = cos(i / 10000^(2j/d)) (each dimension a
 * different frequency, so relative offsets are linear maps of P), or a learned table (BERT, GPT).
 */
import { ArgumentError, Module, Parameter, ShapeError, Tensor, fmt, nn, randn } from '@refnets/core'

/** The (maxLen, d) sinusoid table P of d2l's `PositionalEncoding`. */
export function sinusoidalTable(maxLen: number, numHiddens: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const data = dtype === 'float64' ? new Float64Array(maxLen * numHiddens) : new Float32Array(maxLen * numHiddens)
  for (let i = 0; i < maxLen; i++)
    for (let j = 0; 2 * j < numHiddens; j++) {
      const angle = i / 10000 ** ((2 * j) / numHiddens)
      data[i * numHiddens + 2 * j] = Math.sin(angle)
      if (2 * j + 1 < numHiddens) data[i * numHiddens + 2 * j + 1] = Math.cos(angle)
    }
  return new Tensor(data, [maxLen, numHiddens])
}

function checkInput(x: Tensor, maxLen: number, d: number, what: string): number {
  if (x.rank !== 3 || x.shape[2] !== d)
    throw new ShapeError(`${what}: expected input (batch, steps, ${d}), got ${fmt(x.shape)}`)
  const steps = x.shape[1]!
  if (steps > maxLen)
    throw new ArgumentError(
      `${what}: the sequence has ${steps} steps but the position table has ${maxLen} (maxLen); expected ` +
        `at most ${maxLen}`,
    )
  return steps
}

/** X + P[:T] then dropout, for X of shape (B, T, d); P is fixed (not a parameter, not in the state dict). */
export class PositionalEncoding extends Module {
  readonly P: Tensor
  dropout: nn.Dropout

  constructor(
    readonly numHiddens: number,
    dropout = 0,
    readonly maxLen = 1000,
    dtype: 'float32' | 'float64' = 'float32',
  ) {
    super()
    this.P = sinusoidalTable(maxLen, numHiddens, dtype)
    this.dropout = new nn.Dropout(dropout)
  }

  forward(x: Tensor): Tensor {
    const steps = checkInput(x, this.maxLen, this.numHiddens, 'PositionalEncoding')
    // (B, T, d) + (T, d) -> (B, T, d)
    return this.dropout.call(x.add(this.P.slice(0, 0, steps)))
  }
}

/** A learned table `weight` (maxLen, d), N(0, 0.02^2) as BERT initialises it: X + W[:T], then dropout. */
export class LearnedPositionalEncoding extends Module {
  weight: Parameter
  dropout: nn.Dropout

  constructor(
    readonly numHiddens: number,
    dropout = 0,
    readonly maxLen = 512,
    dtype: 'float32' | 'float64' = 'float32',
  ) {
    super()
    this.weight = new Parameter(randn([maxLen, numHiddens], { dtype, std: 0.02 }))
    this.dropout = new nn.Dropout(dropout)
  }

  forward(x: Tensor): Tensor {
    const steps = checkInput(x, this.maxLen, this.numHiddens, 'LearnedPositionalEncoding')
    // (B, T, d) + (T, d) -> (B, T, d)
    return this.dropout.call(x.add(this.weight.slice(0, 0, steps)))
  }
}

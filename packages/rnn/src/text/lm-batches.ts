/**
 * Minibatches for language models (https://d2l.ai/chapter_recurrent-neural-networks/language-model.html):
 * X is a (batch, numSteps) block of token ids and Y the same block shifted one token to the right.
 * - random partitioning: a random offset, then subsequences in random order; adjacent minibatches
 *   are not adjacent in the text, so the hidden state is reset for each minibatch;
 * - sequential partitioning: row i of consecutive minibatches continues the text, so the hidden
 *   state can be carried over (detached: truncated backpropagation through time).
 */
import { ArgumentError, Generator as Rng, Tensor } from '@refnets/core'

export interface LmBatch {
  /** (B, T) int32 token ids. */
  X: Tensor
  /** (B, T) int32 targets: X shifted by one token. */
  Y: Tensor
}

function check(corpus: ArrayLike<number>, batchSize: number, numSteps: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError(`batchSize must be a positive integer, got ${batchSize}`)
  if (!Number.isInteger(numSteps) || numSteps < 1)
    throw new ArgumentError(`numSteps must be a positive integer, got ${numSteps}`)
  if (corpus.length < batchSize * numSteps + 1)
    throw new ArgumentError(
      `corpus of ${corpus.length} tokens is too short for one minibatch of ${batchSize} x ${numSteps} (+1)`,
    )
}

const block = (rows: number[][]): Tensor => new Tensor(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length])

/** d2l's seq_data_iter_random: random offset in [0, numSteps), subsequences shuffled. */
export function* randomLmBatches(
  corpus: ArrayLike<number>,
  batchSize: number,
  numSteps: number,
  gen = new Rng(0),
): Generator<LmBatch> {
  check(corpus, batchSize, numSteps)
  const offset = gen.int(numSteps)
  const n = corpus.length - offset
  const numSubseqs = Math.floor((n - 1) / numSteps)
  const starts = Array.from(gen.permutation(numSubseqs), (i) => offset + i * numSteps)
  const seq = (s: number) => Array.from({ length: numSteps }, (_, j) => corpus[s + j]!)
  const numBatches = Math.floor(numSubseqs / batchSize)
  for (let b = 0; b < numBatches; b++) {
    const ss = starts.slice(b * batchSize, (b + 1) * batchSize)
    yield { X: block(ss.map(seq)), Y: block(ss.map((s) => seq(s + 1))) }
  }
}

/** d2l's seq_data_iter_sequential: random offset in [0, numSteps], then the text in batchSize rows. */
export function* sequentialLmBatches(
  corpus: ArrayLike<number>,
  batchSize: number,
  numSteps: number,
  gen = new Rng(0),
): Generator<LmBatch> {
  check(corpus, batchSize, numSteps)
  const offset = gen.int(numSteps + 1)
  const rowLen = Math.floor((corpus.length - offset - 1) / batchSize)
  const numBatches = Math.floor(rowLen / numSteps)
  for (let b = 0; b < numBatches; b++) {
    const rows = (shift: number) =>
      Array.from({ length: batchSize }, (_, r) =>
        Array.from({ length: numSteps }, (_, j) => corpus[offset + shift + r * rowLen + b * numSteps + j]!),
      )
    yield { X: block(rows(0)), Y: block(rows(1)) }
  }
}

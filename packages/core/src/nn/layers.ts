/** Dropout and Embedding. */
import type { DType } from '../dtype.js'
import { ArgumentError, ShapeError } from '../errors.js'
import { randn } from '../ops/creation.js'
import { embeddingLookup } from '../ops/indexing.js'
import { dropout } from '../ops/nn.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { Module, Parameter } from './module.js'

/** Inverted dropout (notes 000, 002): zero units with probability p and scale by 1/(1-p) in training; identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super()
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout probability must be in [0, 1), got ${p}`)
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training)
  }
}

/** A lookup table of `numEmbeddings` vectors, N(0, 1) initialised as in PyTorch; ids are int32. */
export class Embedding extends Module {
  weight: Parameter
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    { paddingIdx, dtype = 'float32' }: { paddingIdx?: number; dtype?: DType } = {},
  ) {
    super()
    const w = randn([numEmbeddings, embeddingDim], { dtype })
    if (paddingIdx !== undefined) w.storage.fill(0, paddingIdx * embeddingDim, (paddingIdx + 1) * embeddingDim)
    this.weight = new Parameter(w)
  }
  forward(ids: Tensor): Tensor {
    // (...) int32 -> (..., embeddingDim)
    if (ids.dtype !== 'int32')
      throw new ShapeError(`Embedding expects int32 ids, got ${ids.dtype} of shape ${fmt(ids.shape)}`)
    return embeddingLookup(this.weight, ids)
  }
}

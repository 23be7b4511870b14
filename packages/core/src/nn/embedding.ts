/**
 * The Embedding module: a trainable lookup table indexed by int32 ids, as PyTorch's nn.Embedding
 * (https://pytorch.org/docs/stable/generated/torch.nn.Embedding.html).
 */
import type { DType } from '../dtype.js'
import { ShapeError } from '../errors.js'
import { randn } from '../ops/creation.js'
import { embeddingLookup } from '../ops/indexing.js'
import { fmt } from '../shape.js'
import type { Tensor } from '../tensor.js'
import { Module, Parameter } from './module.js'

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

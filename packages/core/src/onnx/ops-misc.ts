/** Less common ONNX ops: Einsum, GatherND, InstanceNormalization, sequences, integer matmul. */
import * as F from '../ops/index.js'
import { sizeOf, stridesOf } from '../shape.js'
import { Tensor } from '../tensor.js'
import { OnnxImportError } from './errors.js'
import { attrFloat, attrInt, attrString, input, ints, optional } from './ops-util.js'
import { type OnnxOpImpl, OnnxSequence } from './node.js'

/**
 * Einsum by direct summation: every combination of index letters is visited once, products of the
 * operands are added into the output position. Readable and general (diagonals, traces, batch
 * dims via "..."), meant for imported graphs, not for speed.
 */
export function einsum(equation: string, operands: Tensor[]): Tensor {
  const eq = equation.replace(/\s+/g, '')
  const [lhs, rhsGiven] = eq.split('->') as [string, string | undefined]
  const terms = lhs.split(',')
  if (terms.length !== operands.length)
    throw new OnnxImportError(`einsum '${equation}': ${terms.length} terms but ${operands.length} operands`)
  // Expand "..." into fresh upper-case letters, right-aligned per operand.
  const ellRank = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? operands[i]!.rank - (t.length - 3) : 0)))
  const ell = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.slice(0, ellRank)
  const labels = terms.map((t, i) =>
    t.includes('...') ? t.replace('...', ell.slice(ellRank - (operands[i]!.rank - (t.length - 3)))) : t,
  )
  let rhs: string
  if (rhsGiven !== undefined) rhs = rhsGiven.replace('...', ell)
  else {
    const counts = new Map<string, number>()
    for (const c of labels.join('')) counts.set(c, (counts.get(c) ?? 0) + 1)
    rhs =
      ell +
      [...counts.keys()]
        .filter((c) => !ell.includes(c) && counts.get(c) === 1)
        .sort()
        .join('')
  }
  const size = new Map<string, number>()
  labels.forEach((l, i) => {
    if (l.length !== operands[i]!.rank)
      throw new OnnxImportError(
        `einsum '${equation}': term ${i} has ${l.length} indices, operand has rank ${operands[i]!.rank}`,
      )
    ;[...l].forEach((c, d) => {
      const n = operands[i]!.shape[d]!
      const prev = size.get(c)
      if (prev !== undefined && prev !== n && prev !== 1 && n !== 1)
        throw new OnnxImportError(`einsum '${equation}': index ${c} is ${prev} and ${n}`)
      size.set(c, Math.max(prev ?? 1, n))
    })
  })
  const all = [...size.keys()]
  const dims = all.map((c) => size.get(c)!)
  const outShape = [...rhs].map((c) => size.get(c)!)
  const out = new Float64Array(sizeOf(outShape))
  const outStrides = stridesOf(outShape)
  const opData = operands.map((o) => o.data)
  const opStrides = operands.map((o) => stridesOf(o.shape))
  const total = sizeOf(dims)
  const idx = new Array<number>(all.length).fill(0)
  for (let n = 0; n < total; n++) {
    let rem = n
    for (let d = all.length - 1; d >= 0; d--) {
      idx[d] = rem % dims[d]!
      rem = Math.floor(rem / dims[d]!)
    }
    const at = (c: string) => idx[all.indexOf(c)]!
    let prod = 1
    for (let i = 0; i < operands.length; i++) {
      let off = 0
      ;[...labels[i]!].forEach((c, d) => {
        off += (operands[i]!.shape[d] === 1 ? 0 : at(c)) * opStrides[i]![d]!
      })
      prod *= Number(opData[i]![off])
    }
    let o = 0
    ;[...rhs].forEach((c, d) => {
      o += at(c) * outStrides[d]!
    })
    out[o]! += prod
  }
  return new Tensor(out, outShape).to(operands[0]!.dtype)
}

/** GatherND with batch_dims: index tuples along the last axis of `indices` pick slices of `data`. */
function gatherND(data: Tensor, indices: Tensor, batchDims: number): Tensor {
  const idx = indices.data as Int32Array
  const k = indices.shape[indices.rank - 1]!
  const batchShape = data.shape.slice(0, batchDims)
  const nBatch = sizeOf(batchShape)
  const sliceShape = data.shape.slice(batchDims + k)
  const sliceSize = sizeOf(sliceShape)
  const perBatch = sizeOf(indices.shape.slice(batchDims, -1))
  const ds = stridesOf(data.shape)
  const src = data.data
  const outShape = [...indices.shape.slice(0, -1), ...sliceShape]
  const out = new Tensor(new (src.constructor as Float32ArrayConstructor)(sizeOf(outShape)), outShape)
  const dst = out.storage
  for (let b = 0; b < nBatch; b++)
    for (let j = 0; j < perBatch; j++) {
      let off = b * (batchDims ? ds[batchDims - 1]! : 0)
      for (let t = 0; t < k; t++) {
        const n = data.shape[batchDims + t]!
        let v = idx[(b * perBatch + j) * k + t]!
        if (v < 0) v += n
        off += v * ds[batchDims + t]!
      }
      for (let s = 0; s < sliceSize; s++) dst[(b * perBatch + j) * sliceSize + s] = src[off + s]!
    }
  return out
}

export const miscOps: Record<string, OnnxOpImpl> = {
  Einsum: (ctx) =>
    einsum(
      attrString(ctx, 'equation', ''),
      ctx.inputs.map((_, i) => input(ctx, i)),
    ),
  GatherND: (ctx) => gatherND(input(ctx, 0), input(ctx, 1), attrInt(ctx, 'batch_dims', 0)),
  InstanceNormalization: (ctx) => {
    const x = input(ctx, 0)
    const shape = x.shape.map((d, i) => (i === 1 ? d : 1))
    const axes = x.shape.map((_, i) => i).slice(2)
    const d = x.sub(x.mean(axes, true))
    const y = d.div(
      d
        .mul(d)
        .mean(axes, true)
        .add(attrFloat(ctx, 'epsilon', 1e-5))
        .sqrt(),
    )
    return y.mul(input(ctx, 1).reshape(shape)).add(input(ctx, 2).reshape(shape))
  },
  SplitToSequence: (ctx) => {
    const x = input(ctx, 0)
    const axis = attrInt(ctx, 'axis', 0)
    const a = axis < 0 ? axis + x.rank : axis
    const split = optional(ctx, 1)
    if (!split) {
      const parts = F.split(x, 1, a)
      return new OnnxSequence(attrInt(ctx, 'keepdims', 1) ? parts : parts.map((p) => F.squeeze(p, a)))
    }
    const sizes = split.rank === 0 ? split.item() : ints(split)!
    return new OnnxSequence(F.split(x, sizes, a).map((p) => p.contiguous()))
  },
  MatMulInteger: (ctx) => {
    const a = input(ctx, 0)
      .to('float64')
      .sub(optional(ctx, 2)?.to('float64') ?? 0)
    const b = input(ctx, 1)
      .to('float64')
      .sub(optional(ctx, 3)?.to('float64') ?? 0)
    return F.matmul(a, b).to('int32')
  },
}

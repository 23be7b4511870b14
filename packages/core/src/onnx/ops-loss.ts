/** ONNX loss ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (class axis 1, extra dims allowed). */
import * as F from '../ops/index.js'
import type { Tensor } from '../tensor.js'
import { attrString, input, optional } from './ops-util.js'
import type { NodeContext, OnnxOpImpl } from './node.js'

/**
 * -x[n, t[n, ...], ...] * w[t], reduced: 'none' keeps (N, d1, ...), 'sum' adds, 'mean' divides by
 * the summed weights of the targets taken (which is the count when there are no weights). Targets
 * equal to ignore_index take no part.
 */
export function nllLoss(
  x: Tensor,
  target: Tensor,
  weight: Tensor | undefined,
  reduction: string,
  ignoreIndex: number | undefined,
): Tensor {
  const t = target.to('int32')
  const mask = ignoreIndex === undefined ? null : F.logicalNot(F.equal(t, ignoreIndex))
  const safe = mask ? F.where(mask, t, 0) : t
  const picked = F.gatherElements(x, 1, F.unsqueeze(safe, 1)).squeeze(1)
  let w: Tensor = weight ? F.gather(weight, 0, safe) : F.ones([...safe.shape], { dtype: x.dtype })
  if (mask) w = F.where(mask, w, 0)
  const loss = picked.neg().mul(w)
  if (reduction === 'none') return loss
  if (reduction === 'sum') return loss.sum()
  return loss.sum().div(w.sum())
}

const ignore = (ctx: NodeContext) => (ctx.attrs.ignore_index === undefined ? undefined : Number(ctx.attrs.ignore_index))

export const lossOps: Record<string, OnnxOpImpl> = {
  NegativeLogLikelihoodLoss: (ctx) =>
    nllLoss(input(ctx, 0), input(ctx, 1), optional(ctx, 2), attrString(ctx, 'reduction', 'mean'), ignore(ctx)),
  SoftmaxCrossEntropyLoss: (ctx) => {
    const logProb = F.logSoftmax(input(ctx, 0), 1)
    const loss = nllLoss(logProb, input(ctx, 1), optional(ctx, 2), attrString(ctx, 'reduction', 'mean'), ignore(ctx))
    return ctx.outputCount > 1 ? [loss, logProb] : loss
  },
}

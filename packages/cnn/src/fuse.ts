/**
 * Folding evaluation-mode batch norm into the convolution before it, for inference: the transform ONNX
 * Runtime applies when it builds a session and PyTorch offers as `torch.nn.utils.fuse_conv_bn_eval`.
 *
 * With running statistics a batch norm is y = x s + t per channel, s = gamma / sqrt(var + eps) and
 * t = beta - mean s. When x is a convolution's output, conv(x; W, b) s + t = conv(x; W s, b s + t): the scale goes
 * into each output channel's filter, the shift into its bias, and the batch norm's pass over the activations
 * disappears.
 */
import { ArgumentError, type Module, Parameter, type Tensor, nn, noGrad, tensor } from '@refnets/core'
import { Conv2d } from './layers/conv.js'
import { BatchNorm2d } from './layers/norm.js'

/** Replace `child` wherever `parent` holds it (a field, or an entry of an array field such as Sequential's layers). */
function replaceChild(root: Module<any, any>, child: Module<any, any>, by: Module<any, any>): void {
  for (const [, m] of root.namedModules())
    for (const [k, v] of Object.entries(m)) {
      if (v === child) (m as unknown as Record<string, unknown>)[k] = by
      else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) if (v[i] === child) v[i] = by
    }
}

/**
 * Fold every batch norm of `model` whose input is the output of a convolution into that convolution, and
 * replace the batch norm by an identity. The pairs are found by running `model` once on `input` (each
 * convolution and batch norm called once, the batch norm on the convolution's output tensor itself), and the
 * result is checked on the same input: if the folded model's output differs from the original's by more than
 * float32 rounding (a convolution output used elsewhere as well), nothing is changed and an error says so.
 * The model must be in evaluation mode (batch norm with running statistics) and stays an inference model:
 * the folded filters no longer match the state dict's names for batch norm. Returns the number of pairs folded.
 */
export function fuseConvBn(model: Module<[Tensor], Tensor>, input: Tensor): number {
  const modules = [...model.namedModules()].map(([, m]) => m)
  if (modules.some((m) => m.training))
    throw new ArgumentError('fuseConvBn: the model must be in evaluation mode (call model.eval() first)')
  // One forward pass recording which tensor each convolution produced and each batch norm read.
  const produced = new Map<Tensor, Conv2d>()
  const calls = new Map<Module<any, any>, number>()
  const read = new Map<BatchNorm2d, Tensor>()
  const originals = new Map<Module<any, any>, unknown>()
  for (const m of modules) {
    if (!(m instanceof Conv2d) && !(m instanceof BatchNorm2d)) continue
    const forward = m.forward
    originals.set(m, forward)
    ;(m as { forward: unknown }).forward = (x: Tensor) => {
      calls.set(m, (calls.get(m) ?? 0) + 1)
      const y = forward.call(m, x) as Tensor
      if (m instanceof Conv2d) produced.set(y, m)
      else read.set(m as BatchNorm2d, x)
      return y
    }
  }
  let before: Tensor
  try {
    before = noGrad(() => model.call(input))
  } finally {
    for (const m of originals.keys()) delete (m as { forward?: unknown }).forward
  }
  const pairs: [Conv2d, BatchNorm2d][] = []
  for (const [bn, x] of read) {
    const conv = produced.get(x)
    if (conv && calls.get(conv) === 1 && calls.get(bn) === 1 && bn.running_mean && bn.running_var)
      pairs.push([conv, bn])
  }
  // Fold, keeping what is needed to undo it.
  const saved = pairs.map(([conv]) => {
    const by = new nn.Identity()
    by.eval()
    return { weight: conv.weight.storage.slice(), bias: conv.bias, by }
  })
  noGrad(() => {
    pairs.forEach(([conv, bn], i) => {
      const c = conv.outChannels
      const w = conv.weight.storage
      const perChannel = w.length / c
      const mean = bn.running_mean!.data
      const variance = bn.running_var!.data
      const bias = new Float64Array(c)
      for (let o = 0; o < c; o++) {
        const s = (bn.weight ? bn.weight.data[o]! : 1) / Math.sqrt(variance[o]! + bn.eps)
        for (let j = o * perChannel; j < (o + 1) * perChannel; j++) w[j] = w[j]! * s
        bias[o] = ((conv.bias ? conv.bias.data[o]! : 0) - mean[o]!) * s + (bn.bias ? bn.bias.data[o]! : 0)
      }
      conv.bias = new Parameter(tensor(conv.weight.dtype === 'float64' ? bias : Float32Array.from(bias)))
      replaceChild(model, bn, saved[i]!.by)
    })
  })
  const after = noGrad(() => model.call(input))
  let scale = 1e-30
  let worst = 0
  for (let i = 0; i < before.size; i++) {
    scale = Math.max(scale, Math.abs(before.data[i]!))
    worst = Math.max(worst, Math.abs(after.data[i]! - before.data[i]!))
  }
  if (!(worst <= 1e-4 * scale)) {
    pairs.forEach(([conv, bn], i) => {
      conv.weight.storage.set(saved[i]!.weight)
      conv.bias = saved[i]!.bias
      replaceChild(model, saved[i]!.by, bn)
    })
    throw new ArgumentError(
      `fuseConvBn: folding changed the output by ${worst.toExponential(2)} (max |output| ${scale.toExponential(2)}); a convolution's output is used elsewhere too, so nothing was folded`,
    )
  }
  return pairs.length
}

/**
 * Reverse-mode autograd, micrograd-sized. Every op output that depends on a tensor requiring grad
 * remembers a `GradNode`: the op, its inputs, and a closure giving each input's gradient from the
 * output's gradient. `backward()` sorts the graph topologically and walks it in reverse, summing
 * gradients where a tensor feeds several consumers (the multivariate chain rule; CS231n,
 * https://cs231n.github.io/optimization-2/).
 */
import { AutogradError } from './errors.js'
import { fmt, sameShape } from './shape.js'
import type { Tensor } from './tensor.js'

export interface GradNode {
  op: string
  inputs: Tensor[]
  /** dL/d(input_i) for each input, from dL/d(output); null where an input needs no gradient. */
  backward: (dy: Tensor) => (Tensor | null)[]
}

let gradEnabled = true

export const isGradEnabled = (): boolean => gradEnabled

/** Run `fn` without recording gradients (inference, optimiser updates, gradient computations). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled
  gradEnabled = false
  try {
    return fn()
  } finally {
    gradEnabled = prev
  }
}

/** Run `fn` with gradient recording on (used by `backward({ createGraph: true })`). */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled
  gradEnabled = true
  try {
    return fn()
  } finally {
    gradEnabled = prev
  }
}

export interface BackwardOptions {
  /** Record the backward pass itself, so gradients can be differentiated again. */
  createGraph?: boolean
}

/**
 * Backpropagate from `root`. The first upstream gradient is 1 for a scalar (CS231n,
 * https://cs231n.github.io/optimization-2/); a non-scalar root needs an explicit `grad` of its shape. Gradients
 * accumulate into `.grad` of leaves that require grad (call `zeroGrad` between steps, as in PyTorch).
 */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad)
    throw new AutogradError('backward() on a tensor that does not require grad: no input of its graph has requiresGrad')
  if (!grad) {
    if (root.size !== 1)
      throw new AutogradError(`backward() without a gradient needs a scalar output, got shape ${fmt(root.shape)}`)
    grad = root.onesLike()
  } else if (!sameShape(grad.shape, root.shape)) {
    throw new AutogradError(`backward() gradient has shape ${fmt(grad.shape)}, expected ${fmt(root.shape)}`)
  }

  // Topological order: every tensor after all tensors it was computed from.
  const order: Tensor[] = []
  const seen = new Set<Tensor>()
  const stack: [Tensor, boolean][] = [[root, false]]
  while (stack.length) {
    const [t, done] = stack.pop()!
    if (done) {
      order.push(t)
      continue
    }
    if (seen.has(t)) continue
    seen.add(t)
    stack.push([t, true])
    for (const x of t.node?.inputs ?? []) if (x.requiresGrad && !seen.has(x)) stack.push([x, false])
  }

  // With createGraph the stored gradient keeps the graph that computed it, so it can be differentiated again.
  const keep = (g: Tensor) => (opts.createGraph ? g : g.detach())
  const run = () => {
    const grads = new Map<Tensor, Tensor>([[root, grad!]])
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!
      const g = grads.get(t)
      if (!g) continue
      grads.delete(t)
      if (!t.node) {
        t.grad = t.grad ? t.grad.add(g) : keep(g)
        continue
      }
      if (t.retainsGrad) t.grad = t.grad ? t.grad.add(g) : keep(g)
      const inputGrads = t.node.backward(g)
      t.node.inputs.forEach((x, j) => {
        const gx = inputGrads[j]
        if (!gx || !x.requiresGrad) return
        const prev = grads.get(x)
        grads.set(x, prev ? prev.add(gx) : gx)
      })
    }
  }
  if (opts.createGraph) enableGrad(run)
  else noGrad(run)
}

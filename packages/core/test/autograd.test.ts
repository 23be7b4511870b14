/**
 * The autograd tape (src/autograd.ts): gradients accumulate across backward calls, the graph stays
 * usable after a backward pass, `createGraph` records the backward pass so it can be differentiated
 * again, `noGrad` records nothing, requiresGrad flows from inputs to outputs, non-leaves keep a
 * gradient only when asked (`retainGrad`), and misuse raises AutogradError.
 */
import { describe, expect, it } from 'vitest'
import {
  AutogradError,
  RefnetsError,
  type Tensor,
  concat,
  enableGrad,
  isGradEnabled,
  noGrad,
  tensor,
} from '../src/index.js'

const f64 = (values: number[], requiresGrad = true) => tensor(values, { dtype: 'float64', requiresGrad })

/** The typed error `fn` throws (fails the test when it throws nothing). */
function caught(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected an error')
}

describe('accumulation and the graph', () => {
  it('the tape keeps its own copy of an op input list: a caller may reuse the array afterwards', () => {
    // A dense block appends each layer's output to the list it has just concatenated.
    const [a, b] = [f64([1, 2]), f64([3])]
    const list = [a, b]
    const y = concat(list)
    list.push(f64([5]))
    list[0] = f64([7, 8])
    y.mul(f64([1, 2, 3]))
      .sum()
      .backward()
    expect(a.grad!.toArray()).toEqual([1, 2])
    expect(b.grad!.toArray()).toEqual([3])
  })

  it('a second backward pass adds to .grad; zeroGrad clears it', () => {
    const x = f64([1, -2, 3])
    const y = x.mul(x).sum() // dy/dx = 2x
    y.backward()
    expect(x.grad!.toArray()).toEqual([2, -4, 6])
    // The graph is not freed by backward(): the same y backpropagates again, and the gradient adds up.
    y.backward()
    expect(x.grad!.toArray()).toEqual([4, -8, 12])
    x.zeroGrad()
    expect(x.grad).toBeNull()
    y.backward()
    expect(x.grad!.toArray()).toEqual([2, -4, 6])
  })

  it('a tensor used twice gets the sum of both paths (multivariate chain rule)', () => {
    const x = f64([2, 3])
    const a = x.mul(3) // da/dx = 3
    const b = x.mul(x) // db/dx = 2x
    a.add(b).sum().backward()
    expect(x.grad!.toArray()).toEqual([3 + 4, 3 + 6])
  })

  it('two separate graphs over the same leaf accumulate into one .grad', () => {
    const x = f64([1, 2])
    x.mul(5).sum().backward()
    x.exp().sum().backward()
    expect(x.grad!.toArray()).toEqual([5 + Math.exp(1), 5 + Math.exp(2)])
  })

  it('after backward the graph is still recorded: nodes and inputs are kept', () => {
    const x = f64([1, 2])
    const h = x.mul(2)
    const y = h.sum()
    y.backward()
    expect(y.node!.op).toBe('ReduceSum')
    expect(y.node!.inputs[0]).toBe(h)
    expect(h.node!.inputs[0]).toBe(x)
    expect(x.node).toBeNull() // a leaf has no node
  })

  it('an explicit gradient weights the outputs (vector-Jacobian product)', () => {
    const x = f64([1, 2, 3])
    x.mul(x).backward(tensor([1, 0, -1], { dtype: 'float64' }))
    expect(x.grad!.toArray()).toEqual([2, 0, -6])
  })
})

describe('createGraph: gradients that can be differentiated again', () => {
  it('d2/dx2 of x^3 is 6x', () => {
    const x = f64([2, -1, 0.5])
    x.pow(3).sum().backward(undefined, { createGraph: true })
    const dx = x.grad!
    expect(dx.toArray()).toEqual([12, 3, 0.75]) // 3x^2
    expect(dx.requiresGrad).toBe(true)
    expect(dx.node).not.toBeNull()
    x.zeroGrad()
    dx.sum().backward()
    expect(x.grad!.toArray()).toEqual([12, -6, 3]) // 6x
  })

  it('a third derivative too: d3/dx3 of x^3 is 6', () => {
    const x = f64([2, -1])
    x.pow(3).sum().backward(undefined, { createGraph: true })
    const d1 = x.grad!
    x.zeroGrad()
    d1.sum().backward(undefined, { createGraph: true })
    const d2 = x.grad!
    x.zeroGrad()
    d2.sum().backward()
    expect(x.grad!.toArray()).toEqual([6, 6])
  })

  it('without createGraph the gradient is a plain tensor, cut from the graph', () => {
    const x = f64([2])
    x.pow(3).sum().backward()
    expect(x.grad!.requiresGrad).toBe(false)
    expect(x.grad!.node).toBeNull()
    expect(() => x.grad!.sum().backward()).toThrow(AutogradError)
  })

  it('restores the grad mode it found: a createGraph pass inside noGrad leaves noGrad on', () => {
    const x = f64([1])
    const y = x.mul(x).sum()
    noGrad(() => {
      y.backward(undefined, { createGraph: true })
      expect(isGradEnabled()).toBe(false)
    })
    expect(isGradEnabled()).toBe(true)
    expect(x.grad!.node).not.toBeNull()
  })
})

describe('noGrad, enableGrad and requiresGrad propagation', () => {
  it('an op on a tensor that requires grad records a node and requires grad', () => {
    const x = f64([1, 2])
    const c = f64([3, 4], false)
    const y = x.mul(c)
    expect(y.requiresGrad).toBe(true)
    expect(y.node!.op).toBe('Mul')
    expect(y.node!.inputs).toEqual([x, c])
    // Only the inputs that require grad receive one.
    y.sum().backward()
    expect(x.grad!.toArray()).toEqual([3, 4])
    expect(c.grad).toBeNull()
  })

  it('ops on tensors that need no grad record nothing', () => {
    const y = f64([1, 2], false).mul(2).exp()
    expect(y.requiresGrad).toBe(false)
    expect(y.node).toBeNull()
  })

  it('noGrad records nothing, restores the mode (also when fn throws) and returns fn’s value', () => {
    const x = f64([1, 2])
    const y = noGrad(() => x.mul(2))
    expect(y.requiresGrad).toBe(false)
    expect(y.node).toBeNull()
    expect(y.toArray()).toEqual([2, 4])
    expect(isGradEnabled()).toBe(true)
    expect(() =>
      noGrad(() => {
        throw new RangeError('inside')
      }),
    ).toThrow(RangeError)
    expect(isGradEnabled()).toBe(true)
    // Nested: enableGrad inside noGrad records again, and noGrad is back on after it.
    noGrad(() => {
      expect(enableGrad(() => x.mul(2)).node!.op).toBe('Mul')
      expect(isGradEnabled()).toBe(false)
    })
  })

  it('detach() shares the values but leaves the graph', () => {
    const x = f64([1, 2])
    const y = x.mul(3)
    const d = y.detach()
    expect(d.requiresGrad).toBe(false)
    expect(d.node).toBeNull()
    expect(d.storage).toBe(y.storage)
    d.mul(x).sum().backward() // d is a constant: dx = d
    expect(x.grad!.toArray()).toEqual([3, 6])
  })

  it('requireGrad() refuses integer and bool tensors', () => {
    expect(() => tensor([1, 2], { dtype: 'int32' }).requireGrad()).toThrow(/only float tensors can require grad/)
    expect(() => tensor([true], { dtype: 'bool', requiresGrad: true })).toThrow(RefnetsError)
    expect(tensor([1], { dtype: 'float32' }).requireGrad().requiresGrad).toBe(true)
  })
})

describe('gradients of non-leaves', () => {
  it('are not kept unless retainGrad() was called', () => {
    const x = f64([1, 2])
    const h = x.mul(x) // dL/dh = 3 for L = sum(3h)
    const k = x.mul(2).retainGrad()
    h.mul(3).add(k).sum().backward()
    expect(h.grad).toBeNull()
    expect(k.grad!.toArray()).toEqual([1, 1])
    expect(x.grad!.toArray()).toEqual([3 * 2 * 1 + 2, 3 * 2 * 2 + 2])
  })

  it('a retained gradient accumulates like a leaf’s', () => {
    const x = f64([1, 2])
    const h = x.mul(2).retainGrad()
    const y = h.mul(h).sum() // dy/dh = 2h
    y.backward()
    y.backward()
    expect(h.grad!.toArray()).toEqual([8, 16])
  })
})

describe('misuse raises AutogradError', () => {
  it('backward on a non-scalar without a gradient', () => {
    const y = f64([1, 2]).mul(2)
    const err = caught(() => y.backward())
    expect(err).toBeInstanceOf(AutogradError)
    expect(err.message).toMatch(/needs a scalar output, got shape \[2\]/)
  })

  it('a gradient of the wrong shape', () => {
    const y = f64([1, 2]).mul(2)
    const err = caught(() => y.backward(tensor([1, 2, 3], { dtype: 'float64' })))
    expect(err).toBeInstanceOf(AutogradError)
    expect(err.message).toMatch(/gradient has shape \[3\], expected \[2\]/)
  })

  it('backward on a tensor that does not require grad', () => {
    const y: Tensor = f64([1, 2], false).sum()
    const err = caught(() => y.backward())
    expect(err).toBeInstanceOf(AutogradError)
    expect(err.message).toMatch(/does not require grad/)
  })

  it('a one-element tensor of any rank needs no explicit gradient', () => {
    const x = f64([4])
    x.mul(x).reshape(1, 1).backward()
    expect(x.grad!.toArray()).toEqual([8])
  })
})

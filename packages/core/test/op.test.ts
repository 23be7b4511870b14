/**
 * The op object and `apply` (src/op.ts), the one door every op goes through: it runs the forward,
 * records the autograd node (the op's name, its inputs, a backward that sees the attrs), copies the
 * caller's input list, and, while an ONNX export traces, records one graph node per op with a lowering.
 * The ops here are defined in the test, so what is checked is `apply` itself.
 */
import { describe, expect, it } from 'vitest'
import {
  Module,
  OnnxExportError,
  type OnnxLowering,
  type Tensor,
  apply,
  applyMulti,
  defineOp,
  isGradEnabled,
  noGrad,
  onnx,
  tensor,
  withTracer,
} from '../src/index.js'
import { lower } from './helpers/lower.js'

const f64 = (values: number[], requiresGrad = true) => tensor(values, { dtype: 'float64', requiresGrad })

type LeakyAttrs = { alpha: number }
/** What the forward and backward of TestLeakyRelu were called with, in call order. */
const seen: { where: 'forward' | 'backward'; attrs: LeakyAttrs; gradEnabled: boolean; inputs: Tensor[] }[] = []

/** A primitive: forward and backward written with ops; exports as ONNX LeakyRelu (attrs passed as they are). */
const LeakyRelu = defineOp<LeakyAttrs>({
  name: 'TestLeakyRelu',
  forward: (inputs, attrs) => {
    seen.push({ where: 'forward', attrs, gradEnabled: isGradEnabled(), inputs })
    const x = inputs[0]!
    return x.maximum(0).add(x.minimum(0).mul(attrs.alpha))
  },
  backward: (dy, { inputs: [x], attrs }) => {
    seen.push({ where: 'backward', attrs, gradEnabled: isGradEnabled(), inputs: [x!] })
    return [
      dy.mul(
        x!
          .gt(0)
          .to(dy.dtype)
          .mul(1 - attrs.alpha)
          .add(attrs.alpha),
      ),
    ]
  },
  onnx: 'LeakyRelu',
})

/** A two-input primitive whose input order matters. */
const Sub = defineOp({
  name: 'TestSub',
  forward: ([a, b]) => noGrad(() => a!.sub(b!)),
  backward: (dy) => [dy, dy.neg()],
  onnx: 'Sub',
})

/** A composite without a lowering: its inner ops are recorded (and exported) one by one. */
const AffineComposite = defineOp({ name: 'TestAffine', forward: ([x]) => x!.mul(2).add(1) })

/** A composite with a lowering: autograd goes through its inner ops, the export sees one node. */
const HardSigmoid = defineOp<{ alpha: number; beta: number }>({
  name: 'TestHardSigmoid',
  forward: ([x], { alpha, beta }) => x!.mul(alpha).add(beta).clamp(0, 1),
  onnx: (ctx, [x], { attrs }) => ctx.node('HardSigmoid', [x!], { alpha: attrs.alpha, beta: attrs.beta }),
})

/** A primitive with no lowering. */
const NoOnnx = defineOp({ name: 'TestNoOnnx', forward: ([x]) => x!.mul(3), backward: (dy) => [dy.mul(3)] })

describe('apply records the autograd node', () => {
  it("with the op's name, the input tensors themselves, and the output", () => {
    const x = f64([-2, 3])
    const y = apply(LeakyRelu, [x], { alpha: 0.5 })
    expect(y.toArray()).toEqual([-1, 3])
    expect(y.requiresGrad).toBe(true)
    expect(y.node!.op).toBe('TestLeakyRelu')
    expect(y.node!.inputs).toHaveLength(1)
    expect(y.node!.inputs[0]).toBe(x)
  })

  it('passes the attrs object through to the forward and to the backward', () => {
    seen.length = 0
    const attrs = { alpha: 0.25 }
    const x = f64([-4, 2])
    const y = apply(LeakyRelu, [x], attrs)
    y.sum().backward()
    expect(seen.map((s) => s.where)).toEqual(['forward', 'backward'])
    expect(seen[0]!.attrs).toBe(attrs)
    expect(seen[1]!.attrs).toBe(attrs)
    expect(seen[1]!.inputs[0]).toBe(x)
    expect(x.grad!.toArray()).toEqual([0.25, 1])
  })

  it("runs a primitive's forward without recording, so only the op itself is in the graph", () => {
    seen.length = 0
    const x = f64([-1, 1])
    const y = apply(LeakyRelu, [x], { alpha: 0.1 })
    expect(seen[0]!.gradEnabled).toBe(false) // the Max/Min/Mul/Add inside are not recorded
    expect(y.node!.inputs).toEqual([x])
    // The backward runs under noGrad too (no createGraph): the gradient is a plain tensor.
    y.sum().backward()
    expect(seen[1]!.gradEnabled).toBe(false)
    expect(x.grad!.node).toBeNull()
  })

  it('records nothing when no input requires grad, or under noGrad', () => {
    const c = f64([-1, 1], false)
    const y = apply(LeakyRelu, [c], { alpha: 0.5 })
    expect(y.node).toBeNull()
    expect(y.requiresGrad).toBe(false)
    expect(y.toArray()).toEqual([-0.5, 1])
    const x = f64([-1, 1])
    const z = noGrad(() => apply(LeakyRelu, [x], { alpha: 0.5 }))
    expect(z.node).toBeNull()
    expect(z.requiresGrad).toBe(false)
    // One input that requires grad is enough; the other gets no gradient.
    const w = apply(Sub, [x, c], {})
    expect(w.node!.inputs).toEqual([x, c])
    w.sum().backward()
    expect(x.grad!.toArray()).toEqual([1, 1])
    expect(c.grad).toBeNull()
  })

  it('records a composite through its inner ops', () => {
    const x = f64([1, 2])
    const y = apply(AffineComposite, [x], {})
    expect(y.toArray()).toEqual([3, 5])
    expect(y.node!.op).toBe('Add')
    expect(y.node!.inputs[0]!.node!.op).toBe('Mul')
    expect(y.node!.inputs[0]!.node!.inputs[0]).toBe(x)
    y.sum().backward()
    expect(x.grad!.toArray()).toEqual([2, 2])
  })

  it("copies the caller's input list: changing the array afterwards does not change the graph", () => {
    const a = f64([5])
    const b = f64([2])
    const c = f64([100])
    const list = [a, b]
    const y = apply(Sub, list, {})
    list.reverse()
    list.push(c)
    expect(y.node!.inputs).not.toBe(list)
    expect(y.node!.inputs).toHaveLength(2)
    expect(y.node!.inputs[0]).toBe(a)
    expect(y.node!.inputs[1]).toBe(b)
    y.sum().backward()
    expect([a.grad!.item(), b.grad!.item(), c.grad]).toEqual([1, -1, null])
  })
})

describe('apply records the ONNX node while an export traces', () => {
  it('a string lowering is that ONNX op, with the attrs passed through as its attributes', () => {
    const nodes = lower((x) => apply(LeakyRelu, [x], { alpha: 0.25 }), tensor([-1, 2]))
    expect(nodes).toEqual([{ op: 'LeakyRelu', inputs: 1, outputs: 1, attrs: { alpha: 0.25 } }])
  })

  it('a composite with a lowering is one node (its inner ops are not exported)', () => {
    const nodes = lower((x) => apply(HardSigmoid, [x], { alpha: 0.5, beta: 0.25 }), tensor([-1, 2]))
    expect(nodes).toEqual([{ op: 'HardSigmoid', inputs: 1, outputs: 1, attrs: { alpha: 0.5, beta: 0.25 } }])
    // Autograd still goes through the inner ops: d/dx = alpha inside (0, 1), 0 where clamped.
    const x = f64([0.5, 4])
    apply(HardSigmoid, [x], { alpha: 0.5, beta: 0.25 }).sum().backward()
    expect(x.grad!.toArray()).toEqual([0.5, 0])
  })

  it('a composite without a lowering is traced through', () => {
    expect(lower((x) => apply(AffineComposite, [x], {}), tensor([1])).map((n) => n.op)).toEqual(['Mul', 'Add'])
  })

  it('a primitive without a lowering is named in the export error, not baked in as a constant', () => {
    expect(() => lower((x) => apply(NoOnnx, [x], {}), tensor([1]))).toThrow(OnnxExportError)
    expect(() => lower((x) => apply(NoOnnx, [x], {}), tensor([1]))).toThrow(/op TestNoOnnx has no ONNX lowering/)
  })

  it('the traced node reads the inputs apply was given, whatever the caller does to its array', () => {
    class Diff extends Module<[Tensor, Tensor], Tensor> {
      forward(a: Tensor, b: Tensor) {
        const list = [a, b]
        const y = apply(Sub, list, {})
        list.reverse()
        return y
      }
    }
    const graph = onnx.exportOnnxModel(new Diff(), [tensor([5]), tensor([2])]).graph!
    expect(graph.node!.map((n) => [n.opType, n.input])).toEqual([['Sub', ['input_0', 'input_1']]])
  })

  it('applyMulti exports one node with several outputs; the ops inside are not exported', () => {
    const split: OnnxLowering<{ axis: number }> = (ctx, [x], { attrs }) =>
      ctx.node('Split', [x!, ctx.constant([1, 1], 'int64')], { axis: attrs.axis }, { outputs: 2 })
    const nodes = lower(
      (x) => {
        const [a, b] = applyMulti({ name: 'TestSplit', onnx: split }, [x], { axis: 0 }, () => [
          x.slice(0, 0, 1),
          x.slice(0, 1, 2),
        ])
        return a!.sub(b!)
      },
      tensor([7, 3]),
    )
    expect(nodes.map((n) => [n.op, n.inputs, n.outputs])).toEqual([
      ['Split', 2, 2],
      ['Sub', 2, 1],
    ])
    expect(nodes[0]!.attrs).toEqual({ axis: 0 })
  })

  it('withTracer records top-level ops only, and the previous tracer is back afterwards', () => {
    const outer: string[] = []
    const inner: [string, Tensor[], unknown][] = []
    const x = tensor([1, 2])
    const attrs = { alpha: 0.5 }
    withTracer({ record: (op) => outer.push(op.name) }, () => {
      withTracer({ record: (op, ins, a) => inner.push([op.name, ins, a]) }, () => {
        // LeakyRelu's forward calls Max, Min, Mul and Add: inside a traced op they are not recorded.
        apply(LeakyRelu, [x], attrs)
      })
      apply(NoOnnx, [x], {})
    })
    expect(inner).toHaveLength(1)
    expect(inner[0]![0]).toBe('TestLeakyRelu')
    expect(inner[0]![1]).toEqual([x])
    expect(inner[0]![2]).toBe(attrs)
    expect(outer).toEqual(['TestNoOnnx'])
    // No tracer now: nothing records.
    apply(NoOnnx, [x], {})
    expect(outer).toEqual(['TestNoOnnx'])
  })
})

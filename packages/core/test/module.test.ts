/**
 * Module (src/nn/module.ts): parameters and sub-modules are found by walking the module's own
 * fields, so names follow the module tree (`blocks.0.first.weight`) in PyTorch's order; train()/eval()
 * reach every sub-module; buffers are saved and loaded but are not parameters; loadStateDict copies
 * into the existing tensors, and a state dict that does not fit raises StateDictError and loads nothing.
 */
import { describe, expect, it } from 'vitest'
import { Module, Parameter, ShapeError, StateDictError, type Tensor, nn, tensor } from '../src/index.js'

const param = (values: number[], shape: number[]) => new Parameter(tensor(values, { shape }))

/** weight (1, 2) and bias (1), filled from `v`: weight [v, v + 1], bias [v + 2]. */
class Leaf extends Module {
  weight: Parameter
  bias: Parameter
  constructor(v = 0) {
    super()
    this.weight = param([v, v + 1], [1, 2])
    this.bias = param([v + 2], [1])
  }
  forward(x: Tensor) {
    if (x.shape[1] !== 2) throw new ShapeError(`Leaf expects 2 features, got ${x.shape[1]}`)
    return x.matmul(this.weight.transpose(0, 1)).add(this.bias)
  }
}

/** Children declared before its own parameter, an array of modules, and fields that are not modules. */
class Block extends Module {
  first: Leaf
  layers: Leaf[]
  scale: Parameter
  options = { width: 2 }
  mixed: unknown[]
  _private: Leaf
  constructor(v = 0) {
    super()
    this.first = new Leaf(v)
    this.layers = [new Leaf(v + 10), new Leaf(v + 20)]
    this.scale = param([v + 3], [1])
    this.mixed = [7, 'text', new Leaf(v + 30)]
    this._private = new Leaf(v + 40)
  }
  forward(x: Tensor) {
    return this.first.call(x).mul(this.scale)
  }
}

class Net extends Module {
  stem: Leaf
  blocks: Block[]
  head: Leaf
  constructor(v = 0) {
    super()
    this.stem = new Leaf(v)
    this.blocks = [new Block(v + 100)]
    this.head = new Leaf(v + 200)
  }
  forward(x: Tensor) {
    return this.blocks[0]!.call(this.stem.call(x).expand(x.shape[0]!, 2))
  }
}

/** Running statistics as buffers: saved and loaded, not trained. */
class WithBuffers extends Module {
  weight = param([1, 2], [2])
  count = tensor([0], { dtype: 'int32' }) // a plain tensor field: neither a parameter nor a buffer
  child = new Counter()
  declare running: Tensor
  declare unused: Tensor | null
  constructor() {
    super()
    this.registerBuffer('running', tensor([0.5, 0.25]))
    this.registerBuffer('unused', null)
  }
  forward(x: Tensor) {
    return x
  }
}
class Counter extends Module {
  declare steps: Tensor
  constructor() {
    super()
    this.registerBuffer('steps', tensor(3, { dtype: 'int32' }))
  }
  forward(x: Tensor) {
    return x
  }
}

const PARAMETER_NAMES = [
  'stem.weight',
  'stem.bias',
  // A module's own parameters come before its children's, as in PyTorch, whatever the field order.
  'blocks.0.scale',
  'blocks.0.first.weight',
  'blocks.0.first.bias',
  'blocks.0.layers.0.weight',
  'blocks.0.layers.0.bias',
  'blocks.0.layers.1.weight',
  'blocks.0.layers.1.bias',
  'blocks.0.mixed.2.weight',
  'blocks.0.mixed.2.bias',
  'head.weight',
  'head.bias',
]

/** Every parameter and buffer as plain numbers, to see that nothing changed. */
const snapshot = (m: Module<any, any>) =>
  Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, [...t.data].map(Number)]))

/** The error `fn` throws (fails the test when it throws nothing). */
function caught(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected an error')
}

describe('walking the fields', () => {
  it('names parameters by their path, own parameters first, arrays of modules by index', () => {
    const net = new Net()
    expect([...net.namedParameters()].map(([k]) => k)).toEqual(PARAMETER_NAMES)
    expect(net.parameters()).toHaveLength(PARAMETER_NAMES.length)
    const params = Object.fromEntries(net.namedParameters())
    expect(params['blocks.0.layers.1.bias']).toBe(net.blocks[0]!.layers[1]!.bias)
    expect(params['blocks.0.layers.1.weight']!.toArray()).toEqual([[120, 121]])
    expect([...net.namedParameters('model')][0]![0]).toBe('model.stem.weight')
  })

  it('lists modules depth first from the root (""); fields starting with _ and non-module values are skipped', () => {
    const net = new Net()
    expect([...net.namedModules()].map(([k]) => k)).toEqual([
      '',
      'stem',
      'blocks.0',
      'blocks.0.first',
      'blocks.0.layers.0',
      'blocks.0.layers.1',
      'blocks.0.mixed.2',
      'head',
    ])
    expect([...net.blocks[0]!.namedChildren()].map(([k]) => k)).toEqual(['first', 'layers.0', 'layers.1', 'mixed.2'])
  })

  it('a parameter shared by two modules (tied weights) is listed once, under its first name', () => {
    const net = new Net()
    net.head.weight = net.stem.weight
    const names = [...net.namedParameters()].map(([k]) => k)
    expect(names).toEqual(PARAMETER_NAMES.filter((k) => k !== 'head.weight'))
    expect(new Set(net.parameters()).size).toBe(names.length)
  })

  it('Parameter makes a dense copy of a strided tensor and requires grad', () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]).transpose(0, 1)
    const p = new Parameter(t)
    expect(p.requiresGrad).toBe(true)
    expect(p.isContiguous).toBe(true)
    expect(p.storage).not.toBe(t.storage)
    expect(p.toArray()).toEqual([
      [1, 3],
      [2, 4],
    ])
  })

  it('zeroGrad clears the gradient of every parameter', () => {
    const net = new Net()
    net
      .call(tensor([[1, 2]]))
      .sum()
      .backward()
    expect(net.parameters().filter((p) => p.grad !== null)).toHaveLength(5) // stem, blocks.0.first, scale
    net.zeroGrad()
    expect(net.parameters().every((p) => p.grad === null)).toBe(true)
  })
})

describe('train() and eval()', () => {
  it('reach every sub-module, arrays included, and return the module', () => {
    const net = new Net()
    const modes = () => [...net.namedModules()].map(([, m]) => m.training)
    expect(modes().every(Boolean)).toBe(true)
    expect(net.eval()).toBe(net)
    expect(modes().some(Boolean)).toBe(false)
    expect(net.blocks[0]!.layers[1]!.training).toBe(false)
    expect(net.train()).toBe(net)
    expect(modes().every(Boolean)).toBe(true)
    net.train(false)
    expect(modes().some(Boolean)).toBe(false)
  })

  it('switch a real layer’s behaviour: BatchNorm uses batch statistics in training, running ones in eval', () => {
    const model = new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2))
    const x = tensor([
      [1, 2],
      [3, 5],
    ])
    model.eval()
    const before = snapshot(model)
    model.call(x)
    expect(snapshot(model)).toEqual(before) // eval: running statistics untouched
    model.train()
    model.call(x)
    expect(snapshot(model)['1.running_mean']).not.toEqual(before['1.running_mean'])
  })
})

describe('buffers', () => {
  it('are in the state dict and namedBuffers, not in parameters; a null buffer and plain fields are left out', () => {
    const m = new WithBuffers()
    expect([...m.namedParameters()].map(([k]) => k)).toEqual(['weight'])
    expect([...m.namedBuffers()].map(([k]) => k)).toEqual(['running', 'child.steps'])
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'running', 'child.steps'])
    expect(m.stateDict().running).toBe(m.running)
    expect(m.running.requiresGrad).toBe(false)
  })

  it('are loaded like parameters (int32 included)', () => {
    const m = new WithBuffers()
    m.loadStateDict({
      weight: tensor([9, 8]),
      running: tensor([1.5, 2.5]),
      'child.steps': tensor(42, { dtype: 'int32' }),
    })
    expect(m.running.toArray()).toEqual([1.5, 2.5])
    expect(m.child.steps.item()).toBe(42)
    expect(m.weight.toArray()).toEqual([9, 8])
  })
})

describe('stateDict and loadStateDict', () => {
  it('the state dict holds the module’s own tensors, parameters first', () => {
    const net = new Net()
    const sd = net.stateDict()
    expect(Object.keys(sd)).toEqual(PARAMETER_NAMES)
    expect(sd['stem.weight']).toBe(net.stem.weight)
  })

  it('round-trips: values are copied into the existing tensors, which keep their identity and dtype', () => {
    const a = new Net(0)
    const b = new Net(1000)
    const weightBefore = b.stem.weight
    const storageBefore = b.stem.weight.storage
    expect(b.loadStateDict(a.stateDict())).toEqual({ missing: [], unexpected: [] })
    expect(snapshot(b)).toEqual(snapshot(a))
    expect(b.stem.weight).toBe(weightBefore)
    expect(b.stem.weight.storage).toBe(storageBefore)
    expect(b.stem.weight.storage).not.toBe(a.stem.weight.storage) // copied, not shared
    expect(b.call(tensor([[1, 2]])).toArray()).toEqual(a.call(tensor([[1, 2]])).toArray())
    // float64 values load into float32 parameters, converted.
    const sd64 = Object.fromEntries(Object.entries(a.stateDict()).map(([k, t]) => [k, t.to('float64')]))
    const c = new Net(5)
    c.loadStateDict(sd64)
    expect(c.stem.weight.dtype).toBe('float32')
    expect(snapshot(c)).toEqual(snapshot(a))
  })

  const other = () => new Net(1000).stateDict()

  it('a missing key: StateDictError naming it, and nothing loaded', () => {
    const net = new Net()
    const before = snapshot(net)
    const sd = other()
    delete sd['head.bias']
    const err = caught(() => net.loadStateDict(sd))
    expect(err).toBeInstanceOf(StateDictError)
    expect((err as StateDictError).missing).toEqual(['head.bias'])
    expect((err as StateDictError).unexpected).toEqual([])
    expect(err.message).toMatch(/state dict does not fit Net: missing keys: head\.bias/)
    expect(snapshot(net)).toEqual(before)
  })

  it('an unexpected key: StateDictError naming it, and nothing loaded', () => {
    const net = new Net()
    const before = snapshot(net)
    const err = caught(() => net.loadStateDict({ ...other(), 'head.extra': tensor([1]) }))
    expect(err).toBeInstanceOf(StateDictError)
    expect((err as StateDictError).unexpected).toEqual(['head.extra'])
    expect((err as StateDictError).missing).toEqual([])
    expect(err.message).toMatch(/unexpected keys: head\.extra/)
    expect(snapshot(net)).toEqual(before)
  })

  it('a wrong shape, even for the last key: StateDictError with both shapes, and nothing loaded', () => {
    const net = new Net()
    const before = snapshot(net)
    const sd = { ...other(), 'head.bias': tensor([1, 2]) }
    const err = caught(() => net.loadStateDict(sd))
    expect(err).toBeInstanceOf(StateDictError)
    expect((err as StateDictError).mismatched).toEqual(['head.bias: expected [1], got [2]'])
    expect(err.message).toMatch(/shape mismatch: head\.bias: expected \[1\], got \[2\]/)
    // The keys before it fit, and were not loaded either.
    expect(snapshot(net)).toEqual(before)
  })

  it('reports every problem together', () => {
    const net = new Net()
    const sd: Record<string, Tensor> = { ...other(), extra: tensor([0]), 'stem.weight': tensor([1, 2, 3]) }
    delete sd['blocks.0.scale']
    const err = caught(() => net.loadStateDict(sd)) as StateDictError
    expect([err.missing, err.unexpected, err.mismatched]).toEqual([
      ['blocks.0.scale'],
      ['extra'],
      ['stem.weight: expected [1, 2], got [3]'],
    ])
  })

  it('strict: false loads what fits and returns the missing and unexpected keys; a wrong shape still throws', () => {
    const net = new Net()
    const before = snapshot(net)
    const sd: Record<string, Tensor> = { ...other(), extra: tensor([0]) }
    delete sd['head.bias']
    expect(net.loadStateDict(sd, { strict: false })).toEqual({ missing: ['head.bias'], unexpected: ['extra'] })
    const after = snapshot(net)
    expect(after['stem.weight']).toEqual([1000, 1001])
    expect(after['head.bias']).toEqual(before['head.bias'])

    const fresh = new Net()
    const freshBefore = snapshot(fresh)
    expect(() => fresh.loadStateDict({ 'stem.weight': tensor([1]) }, { strict: false })).toThrow(StateDictError)
    expect(snapshot(fresh)).toEqual(freshBefore)
  })
})

describe('call()', () => {
  it("names the failing sub-module's path in the error, keeping its class", () => {
    const net = new Net()
    const err = caught(() => net.blocks[0]!.call(tensor([[1, 2, 3]])))
    expect(err).toBeInstanceOf(ShapeError)
    // The block has not been walked from the root yet: it is its own root, and the path is its child's.
    expect(err.message).toBe('in first: Leaf expects 2 features, got 3')
    net.call(tensor([[1, 2]])) // walking from the root names every module by its full path
    const err2 = caught(() => net.blocks[0]!.first.call(tensor([[1, 2, 3]])))
    expect(err2.message).toBe('in blocks.0.first: Leaf expects 2 features, got 3')
  })
})

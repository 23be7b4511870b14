import { ArgumentError, Module, type Tensor, crossEntropy, manualSeed, nn, optim, randn, tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { Conv2d } from '../src/layers/index.js'
import { resnet18 } from '../src/models/index.js'
import { countParameters } from '../src/shapes.js'
import {
  findHead,
  fineTuneParamGroups,
  freeze,
  getSubmodule,
  paramGroups,
  replaceHead,
  setSubmodule,
  trainableParameters,
  unfreeze,
} from '../src/transfer.js'

/** A small torchvision-shaped classifier: features.N, then classifier.N with the head last. */
class Small extends Module {
  features = new nn.Sequential(
    new Conv2d(3, 4, 3, { padding: 1 }),
    new nn.ReLU(),
    new Conv2d(4, 4, 3, { stride: 2, padding: 1 }),
    new nn.ReLU(),
  )
  flatten = new nn.Flatten()
  classifier = new nn.Sequential(new nn.Linear(4 * 4 * 4, 16), new nn.ReLU(), new nn.Linear(16, 3))
  forward(x: Tensor): Tensor {
    return this.classifier.call(this.flatten.call(this.features.call(x))) // (B, 3, 8, 8) -> (B, 3)
  }
}

function snapshot(m: Module<any, any>): Record<string, number[]> {
  return Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, Array.from(p.data)]))
}

function trainStep(model: Module, opt: { zeroGrad(): void; step(): void }, seed = 0): void {
  manualSeed(seed)
  const x = randn([4, 3, 8, 8])
  const y = tensor(Int32Array.from([0, 1, 2, 1]))
  opt.zeroGrad()
  crossEntropy(model.call(x), y).backward()
  opt.step()
}

describe('freeze / unfreeze', () => {
  it('frozen parameters get no gradient and stay unchanged through an optimiser step', () => {
    manualSeed(1)
    const m = new Small()
    const frozen = freeze(m, 'features')
    expect(frozen).toEqual(['features.0.weight', 'features.0.bias', 'features.2.weight', 'features.2.bias'])
    // Every parameter is handed to the optimiser, with momentum and weight decay: frozen ones still must not move.
    const opt = new optim.SGD(m.parameters(), { lr: 0.5, momentum: 0.9, weightDecay: 0.1 })
    const before = snapshot(m)
    trainStep(m, opt)
    trainStep(m, opt, 1)
    const after = snapshot(m)
    for (const name of Object.keys(before)) {
      if (frozen.includes(name)) {
        expect(after[name]).toEqual(before[name])
        expect(getParam(m, name).grad).toBeNull()
      } else expect(after[name]).not.toEqual(before[name])
    }
    unfreeze(m, ['features.2'])
    trainStep(m, opt, 2)
    const again = snapshot(m)
    expect(again['features.0.weight']).toEqual(before['features.0.weight'])
    expect(again['features.2.weight']).not.toEqual(before['features.2.weight'])
  })

  it('selects by prefix (whole name parts only), by predicate, or everything', () => {
    const m = new Small()
    expect(freeze(m, (name) => name.endsWith('.bias')).length).toBe(4)
    expect(trainableParameters(m).length).toBe(4)
    unfreeze(m)
    expect(trainableParameters(m).length).toBe(8)
    freeze(m)
    unfreeze(m, 'classifier.2')
    expect(countParameters(m, { trainableOnly: true })).toBe(16 * 3 + 3)
    expect(countParameters(m)).toBe(4 * 3 * 9 + 4 + 4 * 4 * 9 + 4 + 64 * 16 + 16 + 16 * 3 + 3)
    // A prefix must name whole parts: 'classifier.9' and 'feat' name nothing.
    expect(() => freeze(m, 'classifier.9')).toThrow(ArgumentError)
    expect(() => freeze(m, 'feat')).toThrow(/no parameter is named 'feat'/)
  })
})

describe('replaceHead', () => {
  it('finds and replaces ResNet fc', () => {
    manualSeed(0)
    const model = resnet18({ numClasses: 1000 })
    expect(findHead(model)).toBe('fc')
    const newHead = new nn.Linear(512, 5)
    const { path, old } = replaceHead(model, newHead)
    expect(path).toBe('fc')
    expect((old as nn.Linear).outFeatures).toBe(1000)
    expect(model.fc).toBe(newHead)
    expect(model.stateDict()['fc.weight']!.shape).toEqual([5, 512])
    model.eval()
    expect(model.call(randn([1, 3, 32, 32])).shape).toEqual([1, 5])
  })

  it('finds the last Linear of classifier (VGG/AlexNet style) and replaces it inside the Sequential', () => {
    const m = new Small()
    expect(findHead(m)).toBe('classifier.2')
    const { old } = replaceHead(m, new nn.Linear(16, 7))
    expect((old as nn.Linear).outFeatures).toBe(3)
    expect(m.call(randn([2, 3, 8, 8])).shape).toEqual([2, 7])
    expect([...m.namedParameters()].map(([n, p]) => `${n}:${p.shape.join('x')}`)).toContain('classifier.2.weight:7x16')
    expect(() => findHead(new nn.Sequential(new nn.Linear(2, 2)))).toThrow(ArgumentError)
  })

  it('setSubmodule replaces nested modules and array entries by path', () => {
    const m = new Small()
    const conv = new Conv2d(3, 4, 3, { padding: 1, bias: false })
    setSubmodule(m, 'features.0', conv)
    expect(getSubmodule(m, 'features.0')).toBe(conv)
    expect(Object.keys(m.stateDict())).not.toContain('features.0.bias')
    class WithArray extends Module {
      blocks = [new nn.Linear(2, 2), new nn.Linear(2, 2)]
      forward(x: Tensor) {
        return this.blocks[1]!.call(this.blocks[0]!.call(x))
      }
    }
    const w = new WithArray()
    const l = new nn.Linear(2, 3)
    setSubmodule(w, 'blocks.1', l)
    expect(w.blocks[1]).toBe(l)
    expect(w.stateDict()['blocks.1.weight']!.shape).toEqual([3, 2])
    expect(() => setSubmodule(m, 'features.7', conv)).toThrow(ArgumentError)
  })
})

describe('parameter groups', () => {
  it('each group steps with its own learning rate', () => {
    manualSeed(3)
    const m = new Small()
    const groups = fineTuneParamGroups(m, { headLr: 0.1, bodyLr: 0.01 })
    expect(groups.map((g) => [g.params.length, g.lr])).toEqual([
      [2, 0.1],
      [6, 0.01],
    ])
    const opt = new optim.SGD(groups, { lr: 1 })
    const before = snapshot(m)
    manualSeed(0)
    const x = randn([4, 3, 8, 8])
    opt.zeroGrad()
    crossEntropy(m.call(x), tensor(Int32Array.from([0, 1, 2, 1]))).backward()
    const grads = Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, Array.from(p.grad!.data)]))
    opt.step()
    const after = snapshot(m)
    for (const name of Object.keys(before)) {
      const lr = name.startsWith('classifier.2') ? 0.1 : 0.01
      after[name]!.forEach((v, i) => {
        expect(v).toBeCloseTo(before[name]![i]! - lr * grads[name]![i]!, 6)
      })
    }
  })

  it('paramGroups: first matching spec wins, the rest takes the defaults, frozen ones are left out', () => {
    const m = new Small()
    freeze(m, 'features.0')
    const g = paramGroups(m, [
      { params: 'classifier', lr: 0.1, weightDecay: 0 },
      { params: (n) => n.endsWith('bias'), lr: 0.2 },
    ])
    expect(g.map((x) => x.params.length)).toEqual([4, 1, 1])
    expect(g[0]).toMatchObject({ lr: 0.1, weightDecay: 0 })
    expect(g[1]).toMatchObject({ lr: 0.2 })
    expect(g[2]!.params[0]).toBe(m.features.layers[2]!.parameters()[0])
    const opt = new optim.Adam(g, { lr: 1e-3, weightDecay: 1e-4 })
    expect(opt.paramGroups.map((x) => [x.lr, x.weightDecay])).toEqual([
      [0.1, 0],
      [0.2, 1e-4],
      [1e-3, 1e-4],
    ])
    expect(() => paramGroups(m, [{ params: 'features.0', lr: 1 }])).toThrow(ArgumentError)
    expect(paramGroups(m, [{ params: 'features.0', lr: 1 }], { includeFrozen: true })[0]!.params.length).toBe(2)
  })
})

function getParam(m: Module<any, any>, name: string) {
  return [...m.namedParameters()].find(([n]) => n === name)![1]
}

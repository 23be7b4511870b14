import { afterEach, describe, expect, it } from 'vitest'
import { DataLoader } from '../src/data/dataloader.js'
import { TensorDataset } from '../src/data/dataset.js'
import { LinearSVM, LogisticRegression, MLP } from '../src/models/index.js'
import { SoftmaxRegression } from '../src/models/softmax-regression.js'
import { accuracy } from '../src/metrics/classification.js'
import { Linear } from '../src/nn/linear.js'
import { randn } from '../src/ops/index.js'
import { ReduceLROnPlateau, SGD, StepLR } from '../src/optim/index.js'
import { Generator, manualSeed } from '../src/random.js'
import { Tensor } from '../src/tensor.js'
import { EarlyStopping, LRSchedulerCallback, type TrainContext } from '../src/train/callbacks.js'
import { evaluate, fit, predict } from '../src/train/fit.js'
import { History } from '../src/train/history.js'
import { interactiveTerminal } from '../src/train/progress.js'
import { selfTraining } from '../src/train/self-training.js'

/** Two Gaussian blobs in 2-D around (-2, -2) and (2, 2): x (n, 2), labels (n). */
function blobs(n: number, seed: number): [Tensor, Tensor] {
  const g = new Generator(seed)
  const y = Int32Array.from({ length: n }, (_, i) => i % 2)
  const x = randn([n, 2], { generator: g }).add(
    new Tensor(Float32Array.from([...y].flatMap((c) => (c ? [2, 2] : [-2, -2]))), [n, 2]),
  )
  return [x, new Tensor(y, [n])]
}

const quiet = { verbose: false }

describe('fit', () => {
  it('trains with mini-batches and logs loss, metrics, validation and lr per epoch', () => {
    manualSeed(0)
    const model = new SoftmaxRegression(2, 2)
    const h = fit(model, {
      trainData: blobs(256, 1),
      valData: blobs(128, 2),
      epochs: 4,
      batchSize: 32,
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      metrics: ['accuracy', 'f1'],
      ...quiet,
    })
    expect(h).toBeInstanceOf(History)
    expect(Object.keys(h.history).sort()).toEqual(
      ['accuracy', 'f1', 'loss', 'lr', 'val_accuracy', 'val_f1', 'val_loss'].sort(),
    )
    expect(h.epochs).toBe(4)
    expect(h.get('lr')).toEqual([0.1, 0.1, 0.1, 0.1])
    const loss = h.get('loss')
    expect(loss[3]!).toBeLessThan(loss[0]!)
    expect(h.last('val_accuracy')!).toBeGreaterThan(0.95)
    // Validation numbers are what evaluate() reports for the final weights.
    expect(evaluate(model, blobs(128, 2), { metrics: ['accuracy'] })).toEqual({
      loss: expect.closeTo(h.last('val_loss')!, 6),
      accuracy: h.last('val_accuracy'),
    })
  })

  it('every classic model trains with its own default loss', () => {
    const [x, y] = blobs(200, 7)
    const [xt, yt] = blobs(200, 8)
    for (const model of [new LogisticRegression(2), new LinearSVM(2, 2), new MLP([2, 16, 2], { dropout: 0.2 })]) {
      manualSeed(0)
      const target = model instanceof LogisticRegression ? y.to('float32') : y
      fit(model, {
        trainData: [x, target],
        epochs: 10,
        batchSize: 32,
        optimizer: new SGD(model.parameters(), { lr: 0.1 }),
        ...quiet,
      })
      expect(accuracy(yt, model.predict(xt)), model.constructor.name).toBeGreaterThan(0.95)
    }
  })

  it('is reproducible from the seeds', () => {
    const run = () => {
      manualSeed(5)
      const model = new SoftmaxRegression(2, 2)
      return fit(model, {
        trainData: blobs(100, 3),
        epochs: 2,
        batchSize: 16,
        seed: 9,
        optimizer: new SGD(model.parameters(), { lr: 0.05 }),
        ...quiet,
      }).history
    }
    expect(run()).toEqual(run())
  })

  it('accepts a DataLoader and custom losses and metrics', () => {
    manualSeed(1)
    const model = new Linear(2, 1)
    const [x, y] = blobs(64, 4)
    const yf = y.to('float32').reshape([64, 1])
    const loader = new DataLoader(new TensorDataset(x, yf), { batchSize: 64 })
    const h = fit(model, {
      trainData: loader,
      epochs: 3,
      loss: (o, t) => o.sub(t).square().mean(),
      metrics: [{ name: 'mae', fn: (o, t) => o.sub(t).abs().mean().item() }],
      optimizer: new SGD(model.parameters(), { lr: 0.05 }),
      ...quiet,
    })
    expect(h.get('mae').length).toBe(3)
    expect(h.get('loss')[2]!).toBeLessThan(h.get('loss')[0]!)
  })

  it('reports a missing loss and a batch without a target', () => {
    const model = new Linear(2, 1)
    const opt = new SGD(model.parameters(), { lr: 0.1 })
    expect(() => fit(model, { trainData: blobs(8, 1), optimizer: opt, ...quiet })).toThrow(/no default loss/)
    expect(() => fit(model, { trainData: [randn([4, 2])], loss: (o) => o.sum(), optimizer: opt, ...quiet })).toThrow(
      /inputs..., target/,
    )
  })

  it('prints one plain line per epoch when not on a terminal', () => {
    const lines: string[] = []
    const model = new SoftmaxRegression(2, 2)
    fit(model, {
      trainData: blobs(32, 1),
      epochs: 2,
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      progress: { log: (l) => lines.push(l), bar: false },
    })
    expect(lines.length).toBe(2)
    expect(lines[1]).toMatch(/^epoch 2\/2 - [\d.]+s - loss \d\.\d{4} - lr 1\.00e-1$/)
  })
})

describe('callbacks', () => {
  const env = { ...process.env }
  afterEach(() => {
    process.env = { ...env }
  })

  it('there is no live progress bar in CI', () => {
    process.env.CI = 'true'
    expect(interactiveTerminal()).toBe(false)
  })

  it('early stopping waits `patience` epochs without improvement', () => {
    const es = new EarlyStopping({ monitor: 'val_loss', patience: 2 })
    const ctx = { stopTraining: false, history: new History() } as unknown as TrainContext
    es.onTrainBegin()
    const seq = [1, 0.8, 0.9, 0.85, 0.95, 0.5]
    let epoch = 0
    for (; epoch < seq.length && !ctx.stopTraining; epoch++) es.onEpochEnd(epoch, { val_loss: seq[epoch]! }, ctx)
    expect(epoch).toBe(5)
    expect(es.bestEpoch).toBe(1)
    expect(es.stoppedEpoch).toBe(4)
    expect(new EarlyStopping({ monitor: 'val_accuracy' }).mode).toBe('max')
    expect(() => es.onEpochEnd(0, { loss: 1 }, ctx)).toThrow(/not logged/)
  })

  it('early stopping ends an overfitting run and restores the best weights', () => {
    manualSeed(2)
    const model = new SoftmaxRegression(2, 2)
    const [x, y] = blobs(128, 6)
    // Validation labels are flipped: the better the fit, the worse the validation loss.
    const flipped = new Tensor(
      Int32Array.from(y.data as Int32Array, (v) => 1 - v),
      [128],
    )
    const es = new EarlyStopping({ patience: 1, restoreBestWeights: true })
    const h = fit(model, {
      trainData: [x, y],
      valData: [x, flipped],
      epochs: 20,
      optimizer: new SGD(model.parameters(), { lr: 0.5 }),
      callbacks: [es],
      ...quiet,
    })
    expect(h.epochs).toBe(3)
    expect(h.bestEpoch).toBe(0)
    expect(h.stoppedEpoch).toBe(2)
    expect(evaluate(model, [x, flipped]).loss).toBeCloseTo(h.get('val_loss')[0]!, 6)
  })

  it('LR scheduler callback steps once per epoch and the logged lr follows', () => {
    const model = new SoftmaxRegression(2, 2)
    const opt = new SGD(model.parameters(), { lr: 0.4 })
    const seen: (number | undefined)[] = []
    const halve = {
      step: (m?: number) => {
        seen.push(m)
        opt.paramGroups[0]!.lr /= 2
      },
    }
    const h = fit(model, { trainData: blobs(32, 1), epochs: 3, optimizer: opt, scheduler: halve, ...quiet })
    expect(h.get('lr')).toEqual([0.4, 0.2, 0.1])
    expect(seen).toEqual([undefined, undefined, undefined])
    const monitored = new LRSchedulerCallback({ step: (m?: number) => seen.push(m) }, { monitor: 'loss' })
    fit(model, { trainData: blobs(32, 1), epochs: 1, optimizer: opt, callbacks: [monitored], ...quiet })
    expect(typeof seen[3]).toBe('number')
  })

  it("works with optim's schedulers; ReduceLROnPlateau is given the validation loss", () => {
    const model = new SoftmaxRegression(2, 2)
    const opt = new SGD(model.parameters(), { lr: 0.1 })
    const h = fit(model, {
      trainData: blobs(32, 1),
      epochs: 4,
      optimizer: opt,
      scheduler: new StepLR(opt, { stepSize: 2, gamma: 0.5 }),
      ...quiet,
    })
    expect(h.get('lr')).toEqual([0.1, 0.1, 0.05, 0.05])
    // Flipped validation labels: the validation loss only gets worse, so from the second epoch on
    // (the first sets the best value) the plateau schedule halves the lr; `lr` is logged as used.
    const [x, y] = blobs(64, 2)
    const flipped = new Tensor(
      Int32Array.from(y.data as Int32Array, (v) => 1 - v),
      [64],
    )
    const opt2 = new SGD(model.parameters(), { lr: 0.1 })
    const h2 = fit(model, {
      trainData: [x, y],
      valData: [x, flipped],
      epochs: 3,
      optimizer: opt2,
      scheduler: new ReduceLROnPlateau(opt2, { patience: 0, factor: 0.5 }),
      ...quiet,
    })
    expect(h2.get('lr')).toEqual([0.1, 0.1, 0.05])
  })
})

describe('evaluate / predict', () => {
  it('predict concatenates batches in eval mode without gradients', () => {
    const model = new SoftmaxRegression(2, 3)
    const x = randn([300, 2])
    const out = predict(model, x, { batchSize: 128 })
    expect(out.shape).toEqual([300, 3])
    expect(out.requiresGrad).toBe(false)
    expect(model.training).toBe(true)
    expect(out.slice(0, 290).toArray()).toEqual(model.call(x).detach().slice(0, 290).toArray())
  })
})

describe('selfTraining', () => {
  it('adopts confident pseudo-labels, which are nearly all right on separable blobs', () => {
    manualSeed(4)
    const [xl, yl] = blobs(8, 10)
    const [xu, yu] = blobs(400, 11)
    const model = new SoftmaxRegression(2, 2)
    const r = selfTraining(model, [xl, yl], xu, {
      threshold: 0.95,
      epochs: 20,
      batchSize: 8,
      optimizer: new SGD(model.parameters(), { lr: 0.1 }),
      ...quiet,
    })
    expect(r.added[0]!).toBeGreaterThan(100)
    const adopted = [...r.pseudoLabels.keys()].filter((i) => r.pseudoLabels[i]! >= 0)
    const right = adopted.filter((i) => r.pseudoLabels[i] === yu.data[i]).length
    expect(right / adopted.length).toBeGreaterThan(0.98)
    expect(r.histories.length).toBe(r.added.filter((a) => a > 0).length + 1)
    const acc = [...predict(model, xu).argmax(1).data].filter((v, i) => v === yu.data[i]).length / 400
    expect(acc).toBeGreaterThan(0.97)
    expect(() =>
      selfTraining(model, [xl, yl], xu, { threshold: 1.5, optimizer: new SGD(model.parameters(), { lr: 0.1 }) }),
    ).toThrow(/threshold/)
  })
})

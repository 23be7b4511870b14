/**
 * MNIST, end to end with @refnets/core on the plain-JS backend:
 *
 * 1. softmax regression (a linear classifier,
 *    https://d2l.ai/chapter_linear-classification/softmax-regression.html): about 92% test accuracy;
 * 2. a multi-layer perceptron 784-256-10 with ReLU and dropout 0.2
 *    (https://d2l.ai/chapter_multilayer-perceptrons/dropout.html): about 98%.
 *
 * Both use Adam (batch 128) with a cosine learning-rate decay over the run.
 *
 * The 60,000 training images are split into 55,000 for training and 5,000 for validation: the
 * validation set drives early stopping and the bias/variance diagnosis; the test set (10,000) is
 * used once, at the end (CS231n, https://cs231n.github.io/classification/). Run from packages/core:
 *
 *   pnpm run example:mnist            (both models, a few minutes on two cores)
 *
 * In your own project, import from '@refnets/core' and '@refnets/core/data/node' instead of ../src.
 */
import { pathToFileURL } from 'node:url'
import { type Tensor, manualSeed } from '../src/index.js'
import { trainTestSplit } from '../src/data/index.js'
import { loadMnist } from '../src/data/node.js'
import { accuracy, biasVariance, confusionMatrix, f1Score } from '../src/metrics/index.js'
import { type Classifier, MLP, SoftmaxRegression } from '../src/models/index.js'
import { Adam, CosineAnnealingLR } from '../src/optim/index.js'
import { EarlyStopping, type History, fit } from '../src/train/index.js'

export interface MnistData {
  train: [Tensor, Tensor]
  val: [Tensor, Tensor]
  test: [Tensor, Tensor]
}

/** MNIST as (N, 784) pixels in [0, 1] and int32 labels, with a seeded train/validation split. */
export function mnistSplits({
  trainLimit,
  testLimit,
  valSize = 5000,
}: {
  trainLimit?: number
  testLimit?: number
  valSize?: number
} = {}): MnistData {
  const train = loadMnist({ split: 'train', limit: trainLimit })
  const test = loadMnist({ split: 'test', limit: testLimit })
  const s = trainTestSplit(train.images, train.labels, { testSize: valSize, seed: 0, stratify: train.labels })
  return { train: [s.xTrain, s.yTrain], val: [s.xTest, s.yTest], test: [test.images, test.labels] }
}

export interface RunOptions {
  epochs?: number
  batchSize?: number
  lr?: number
  verbose?: boolean
  seed?: number
}

export interface RunResult {
  model: Classifier
  history: History
  trainAccuracy: number
  testAccuracy: number
  seconds: number
}

/**
 * Train `model` with Adam, a cosine learning-rate decay to 0 over the epochs
 * (https://d2l.ai/chapter_optimization/lr-scheduler.html), and early stopping on validation accuracy; report train
 * and test accuracy.
 */
function run(
  model: Classifier,
  d: MnistData,
  { epochs = 10, batchSize = 128, lr = 1e-3, verbose = true, seed = 0 }: RunOptions,
): RunResult {
  const t0 = Date.now()
  const optimizer = new Adam(model.parameters(), { lr })
  const history = fit(model, {
    trainData: d.train,
    valData: d.val,
    epochs,
    batchSize,
    seed,
    optimizer,
    scheduler: new CosineAnnealingLR(optimizer, { tMax: epochs }),
    metrics: ['accuracy'],
    callbacks: [new EarlyStopping({ monitor: 'val_accuracy', patience: 3, restoreBestWeights: true })],
    verbose,
  })
  return {
    model,
    history,
    // The best epoch's training accuracy (as measured while training, with the weights moving).
    trainAccuracy: history.get('accuracy')[history.bestEpoch ?? history.epochs - 1]!,
    testAccuracy: accuracy(d.test[1], model.predict(d.test[0])),
    seconds: (Date.now() - t0) / 1000,
  }
}

/**
 * Softmax regression: scores = W x + b, cross-entropy
 * (https://d2l.ai/chapter_linear-classification/softmax-regression.html).
 */
export function trainSoftmaxRegression(d: MnistData, opts: RunOptions = {}): RunResult {
  manualSeed(opts.seed ?? 0)
  return run(new SoftmaxRegression(784, 10), d, { epochs: 10, ...opts })
}

/**
 * MLP 784-hidden-10 with ReLU and dropout 0.2 after the hidden layer, Adam lr 2e-3
 * (https://d2l.ai/chapter_multilayer-perceptrons/dropout.html).
 */
export function trainMlp(d: MnistData, opts: RunOptions & { hidden?: number; dropout?: number } = {}): RunResult {
  manualSeed(opts.seed ?? 0)
  return run(new MLP([784, opts.hidden ?? 256, 10], { dropout: opts.dropout ?? 0.2 }), d, {
    epochs: 15,
    lr: 2e-3,
    ...opts,
  })
}

function report(name: string, r: RunResult, d: MnistData): void {
  const pred = r.model.predict(d.test[0])
  const valError = 1 - r.history.get('val_accuracy')[r.history.bestEpoch ?? r.history.epochs - 1]!
  const diag = biasVariance(1 - r.trainAccuracy, valError)
  console.log(
    `${name}: test accuracy ${(100 * r.testAccuracy).toFixed(2)}% (macro F1 ${f1Score(d.test[1], pred, { average: 'macro' }).toFixed(4)}), ${r.history.epochs} epochs in ${r.seconds.toFixed(1)}s`,
  )
  console.log(
    `  train error ${(100 * (1 - r.trainAccuracy)).toFixed(2)}%, validation error ${(100 * valError).toFixed(2)}%: ${diag.diagnosis}`,
  )
}

function main(): void {
  const t0 = Date.now()
  const d = mnistSplits()
  console.log(
    `MNIST: ${d.train[0].shape[0]} train, ${d.val[0].shape[0]} validation, ${d.test[0].shape[0]} test images (loaded in ${((Date.now() - t0) / 1000).toFixed(1)}s)`,
  )

  console.log('\nSoftmax regression 784-10: Adam lr 1e-3 with cosine decay, batch 128, 10 epochs')
  const soft = trainSoftmaxRegression(d)
  report('softmax regression', soft, d)

  console.log('\nMLP 784-256-10 (ReLU, dropout 0.2): Adam lr 2e-3 with cosine decay, batch 128, up to 15 epochs')
  const mlp = trainMlp(d)
  report('MLP', mlp, d)

  console.log('\nMLP confusion matrix (rows: true digit, columns: predicted):')
  for (const [i, row] of confusionMatrix(d.test[1], mlp.model.predict(d.test[0])).entries())
    console.log(`  ${i}: ${row.map((v) => String(v).padStart(5)).join('')}`)

  const ok = soft.testAccuracy >= 0.91 && mlp.testAccuracy >= 0.975
  console.log(
    `\nsoftmax regression ${(100 * soft.testAccuracy).toFixed(2)}% (target 91%), MLP ${(100 * mlp.testAccuracy).toFixed(2)}% (target 97.5%): ${ok ? 'OK' : 'BELOW TARGET'}`,
  )
  console.log(`total time ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  if (!ok) process.exitCode = 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main()

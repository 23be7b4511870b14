/**
 * Soak test (`pnpm soak` at the repository root; not part of `pnpm test`): 1,000 ResNet-18 eval
 * forwards at a small size (1, 3, 32, 32), CIFAR-sized, then 10 epochs of LeNet-5 training (Adam,
 * batch 32, 512 seeded synthetic 28x28 images), sampling the V8 heap and the process RSS after a
 * forced garbage collection. Memory held per forward or per step must not accumulate: after a
 * warm-up (the first 100 forwards; the first epoch) the heap may grow by at most HEAP_BOUND_MB and
 * the RSS by at most RSS_BOUND_MB until the end, or the script exits with status 1.
 * The figures of a run are in docs/reliability.md.
 *
 *   pnpm soak              (FORWARDS=n and EPOCHS=n for shorter runs)
 */
import { Generator, crossEntropy, fit, manualSeed, noGrad, optim, randn, tensor } from '@refnets/core'
import { lenet5Modern, resnet18 } from '../src/models/index.js'

const FORWARDS = Number(process.env.FORWARDS ?? 1000)
const EPOCHS = Number(process.env.EPOCHS ?? 10)
/**
 * Growth allowed after warm-up: over 900 forwards, a leak of 20 KB per forward (a few of the about
 * 0.5 MB of activations of one 32x32 forward) would exceed it.
 */
const HEAP_BOUND_MB = 16
const RSS_BOUND_MB = 64

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) {
  console.error('run with node --expose-gc (pnpm soak does)')
  process.exit(2)
}

interface Sample {
  phase: string
  step: number
  heapMB: number
  rssMB: number
  seconds: number
}
const t0 = performance.now()
const samples: Sample[] = []
function sample(phase: string, step: number): Sample {
  gc!()
  const m = process.memoryUsage()
  const s = {
    phase,
    step,
    heapMB: m.heapUsed / 2 ** 20,
    rssMB: m.rss / 2 ** 20,
    seconds: (performance.now() - t0) / 1000,
  }
  samples.push(s)
  console.log(
    `${phase.padEnd(8)} ${String(step).padStart(5)}  heap ${s.heapMB.toFixed(1).padStart(7)} MB  rss ${s.rssMB.toFixed(1).padStart(7)} MB  ${s.seconds.toFixed(0)} s`,
  )
  return s
}

function growth(phase: string, from: Sample): { heap: number; rss: number } {
  const last = samples.filter((s) => s.phase === phase).at(-1)!
  const heap =
    Math.max(...samples.filter((s) => s.phase === phase && s.step >= from.step).map((s) => s.heapMB)) - from.heapMB
  const rss =
    Math.max(...samples.filter((s) => s.phase === phase && s.step >= from.step).map((s) => s.rssMB)) - from.rssMB
  console.log(
    `${phase}: after warm-up (step ${from.step}) heap grew at most ${heap.toFixed(1)} MB, rss ${rss.toFixed(1)} MB (last sample: heap ${last.heapMB.toFixed(1)} MB, rss ${last.rssMB.toFixed(1)} MB)`,
  )
  return { heap, rss }
}

// ---- 1,000 ResNet-18 forwards ----------------------------------------------------------------
manualSeed(0)
const net = resnet18().eval()
const x = randn([1, 3, 32, 32])
sample('resnet18', 0)
let warm: Sample | undefined
for (let i = 1; i <= FORWARDS; i++) {
  noGrad(() => net.call(x))
  if (i % 50 === 0 || i === FORWARDS) {
    const s = sample('resnet18', i)
    if (i === Math.min(100, FORWARDS)) warm = s
  }
}
const forward = growth('resnet18', warm ?? samples[0]!)

// ---- 10 epochs of LeNet training -------------------------------------------------------------
manualSeed(1)
const lenet = lenet5Modern()
const images = randn([512, 1, 28, 28])
const g = new Generator(2)
const labels = tensor(Int32Array.from({ length: 512 }, () => Math.floor(10 * g.random())))
const optimizer = new optim.Adam(lenet.parameters(), { lr: 1e-3 })
sample('lenet', 0)
let warmEpoch: Sample | undefined
fit(lenet, {
  trainData: [images, labels],
  epochs: EPOCHS,
  batchSize: 32,
  loss: (out, y) => crossEntropy(out, y),
  optimizer,
  verbose: false,
  callbacks: [
    {
      onEpochEnd: (epoch: number) => {
        const s = sample('lenet', epoch + 1)
        if (epoch === 0) warmEpoch = s
      },
    },
  ],
})
const training = growth('lenet', warmEpoch ?? samples.at(-1)!)

const ok =
  forward.heap <= HEAP_BOUND_MB &&
  forward.rss <= RSS_BOUND_MB &&
  training.heap <= HEAP_BOUND_MB &&
  training.rss <= RSS_BOUND_MB
console.log(
  JSON.stringify({
    forwards: FORWARDS,
    epochs: EPOCHS,
    heapBoundMB: HEAP_BOUND_MB,
    rssBoundMB: RSS_BOUND_MB,
    forward,
    training,
    ok,
  }),
)
if (!ok) {
  console.error(`memory grew beyond the bound (heap ${HEAP_BOUND_MB} MB, rss ${RSS_BOUND_MB} MB after warm-up)`)
  process.exitCode = 1
}

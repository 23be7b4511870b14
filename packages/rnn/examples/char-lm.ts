/**
 * Character-level language model on H. G. Wells' The Time Machine
 * (https://d2l.ai/chapter_recurrent-modern/lstm.html): embedding -> RNN/GRU/LSTM -> linear, trained
 * with Adam on sequential minibatches, the state carried between minibatches and detached
 * (truncated backpropagation through time), gradients clipped to global norm 1. The last 10% of
 * the book is held out; validation perplexity is measured on it with the state carried through.
 * Ends by generating text from the prefix "time traveller".
 *
 *   pnpm example:char-lm [--cell lstm|gru|rnn] [--style layer|scratch] [--hidden 128] [--layers 1] [--steps 20]
 *                        [--batch 16] [--lr 0.01] [--epochs 20] [--minutes 14]
 */
import { Generator, Tensor, crossEntropy, logSoftmax, manualSeed, noGrad, optim } from '@refnets/core'
import { type CellKind, CellLM, RnnLM, perplexity, sequentialLmBatches } from '../src/index.js'
import { loadTimeMachine } from '../src/data.js'

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def
}
const cell = arg('cell', 'lstm') as CellKind
const hidden = Number(arg('hidden', '128'))
const layers = Number(arg('layers', '1'))
const numSteps = Number(arg('steps', '20'))
const batchSize = Number(arg('batch', '16'))
const lr = Number(arg('lr', '0.01'))
const maxEpochs = Number(arg('epochs', '20'))
const minutes = Number(arg('minutes', '14'))
const style = arg('style', 'layer') as 'layer' | 'scratch'

manualSeed(0)
const { corpus, vocab } = loadTimeMachine('char')
const split = Math.floor(corpus.length * 0.9)
const train = corpus.subarray(0, split)
const val = corpus.subarray(split)
console.log(
  `time machine: ${corpus.length} characters, vocabulary ${vocab.length}; train ${train.length}, held-out ${val.length} (last 10%)`,
)
console.log(
  `model: ${style}-style ${cell} hidden ${hidden} layers ${layers}; batch ${batchSize} x ${numSteps} steps, Adam lr ${lr}`,
)

// layer-style: the RNN/GRU/LSTM layer; scratch-style: the time loop written out over a cell.
const model =
  style === 'scratch'
    ? new CellLM(vocab.length, hidden, { cell, embedDim: 32 })
    : new RnnLM(vocab.length, hidden, { cell, embedDim: 32, numLayers: layers })
const opt = new optim.Adam(model.parameters(), { lr })

/** Run the model over ids (B, T) from state `st`; returns logits and the new (detached) state. */
function run(X: Tensor, st: Tensor[]): { logits: Tensor; state: Tensor[] } {
  const [logits, ...state] = model.call(X, st[0] ?? null, st[1] ?? null)
  return { logits: logits!, state: state.map((s) => s.detach()) }
}

/** Validation perplexity: the held-out text in 8 contiguous rows, state carried across chunks. */
function validate(): number {
  return noGrad(() => {
    model.eval()
    let nll = 0
    let n = 0
    let st: Tensor[] = []
    for (const { X, Y } of sequentialLmBatches(val, 8, 50, new Generator(0))) {
      const r = run(X, st)
      st = r.state
      const [B, T, V] = r.logits.shape as [number, number, number]
      nll += crossEntropy(r.logits.reshape(B * T, V), Y.reshape(B * T)).item() * B * T
      n += B * T
    }
    model.train()
    return perplexity(nll, n)
  })
}

const idsTensor = (ids: number[]): Tensor => new Tensor(Int32Array.from(ids), [1, ids.length])

/** Greedy continuation of a prefix (d2l's predict_ch8): warm up on the prefix, then feed back the argmax. */
function generate(prefix: string, numPreds: number): string {
  return noGrad(() => {
    model.eval()
    let r = run(idsTensor(vocab.encode([...prefix])), [])
    let out = prefix
    for (let i = 0; i < numPreds; i++) {
      // logits (1, T, V): the last step's distribution
      const lp = logSoftmax(r.logits, -1).data
      const V = vocab.length
      const off = lp.length - V
      let best = 0
      for (let v = 1; v < V; v++) if (lp[off + v]! > lp[off + best]!) best = v
      out += vocab.idxToToken[best]
      r = run(idsTensor([best]), r.state)
    }
    model.train()
    return out
  })
}

const t0 = Date.now()
const cpu0 = process.cpuUsage()
/** CPU seconds of this process (equal to wall time on an otherwise idle machine: the kernels are single-threaded). */
const cpuSeconds = () => {
  const u = process.cpuUsage(cpu0)
  return (u.user + u.system) / 1e6
}
let best = Infinity
let epochs = 0
for (let epoch = 1; epoch <= maxEpochs; epoch++) {
  let st: Tensor[] = []
  let nll = 0
  let n = 0
  let b = 0
  for (const { X, Y } of sequentialLmBatches(train, batchSize, numSteps, new Generator(epoch))) {
    const r = run(X, st)
    st = r.state
    const [B, T, V] = r.logits.shape as [number, number, number]
    const loss = crossEntropy(r.logits.reshape(B * T, V), Y.reshape(B * T))
    opt.zeroGrad()
    loss.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    nll += loss.item() * B * T
    n += B * T
    if (++b % 20 === 0)
      console.log(
        `  epoch ${epoch} batch ${b}: train perplexity ${perplexity(nll, n).toFixed(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      )
    if ((Date.now() - t0) / 60_000 > minutes) break
  }
  epochs = epoch
  const ppl = validate()
  best = Math.min(best, ppl)
  console.log(
    `epoch ${epoch}: train perplexity ${perplexity(nll, n).toFixed(2)}, validation perplexity ${ppl.toFixed(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s, ${cpuSeconds().toFixed(0)} CPU s)`,
  )
  if ((Date.now() - t0) / 60_000 > minutes) break
}
const final = validate()
console.log(`generated: ${generate('time traveller', 50)}`)
console.log(
  JSON.stringify({
    cell,
    style,
    hidden,
    layers,
    epochs,
    seconds: Math.round((Date.now() - t0) / 1000),
    cpuSeconds: Math.round(cpuSeconds()),
    validationPerplexity: Number(final.toFixed(3)),
  }),
)

/**
 * English -> French translation with a GRU encoder-decoder (https://d2l.ai/chapter_recurrent-modern/seq2seq.html)
 * on ../shared/data/text/fra-eng.txt (the first 20,000 pairs of d2l's fra.txt; `--pairs` takes the first N).
 *
 * Split: the pairs are grouped by English sentence (every French translation of one English
 * sentence is a reference of that sentence); a permutation of the groups seeded with 0 puts 10%
 * of them in the test set, so no test sentence is seen in training. Training uses every
 * (English, French) pair of the training groups with teacher forcing and a masked cross-entropy;
 * the test BLEU is measured on the first `--test` test groups (default 500), with all their
 * references, by greedy decoding and by beam search (beam 4, length normalisation alpha 0.75).
 * Decoding never emits `<pad>` or `<bos>`; `--no-unk` bars `<unk>` too (the best in-vocabulary
 * guess instead).
 * Training is budgeted in epochs; the learning rate decays by `--decay` each epoch. The CPU time
 * printed is this process's (user + system), the run time on an idle machine at one thread.
 *
 *   pnpm example:seq2seq [--hidden 128] [--embed 64] [--layers 2] [--dropout 0.1] [--min-freq 2]
 *     [--pairs 20000] [--epochs 6] [--lr 0.005] [--decay 0.9] [--batch 64] [--test 500] [--no-unk]
 */
import { Generator, manualSeed, noGrad, optim } from '@refnets/core'
import { Seq2Seq, corpusBleu, idRows, translate, truncatePad } from '../src/index.js'
import { fraEngTranslationData, formatD2lScore, scoreD2lSentences } from '../src/data.js'

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def
}
const hidden = Number(arg('hidden', '128'))
const embed = Number(arg('embed', '64'))
const layers = Number(arg('layers', '2'))
const maxEpochs = Number(arg('epochs', '6'))
const lr = Number(arg('lr', '0.005'))
const decay = Number(arg('decay', '0.9'))
const dropout = Number(arg('dropout', '0.1'))
const batchSize = Number(arg('batch', '64'))
const suppress = process.argv.includes('--no-unk') ? ['<pad>', '<bos>', '<unk>'] : ['<pad>', '<bos>']
const nTest = Number(arg('test', '500'))
const minFreq = Number(arg('min-freq', '2'))
const maxPairs = Number(arg('pairs', '20000'))
const numSteps = 10

manualSeed(0)
const data = fraEngTranslationData(maxPairs, minFreq)
const { pairs, groups, train, test, trainPairs, src, tgt } = data
console.log(
  `${pairs.length} pairs, ${groups.length} distinct English sentences: ${train.length} train (${trainPairs.length} pairs), ${test.length} test`,
)
console.log(
  `vocabularies (min frequency ${minFreq}): English ${src.length}, French ${tgt.length}; GRU ${layers} layers, hidden ${hidden}, embedding ${embed}, dropout ${dropout}; Adam lr ${lr} x ${decay} per epoch, batch ${batchSize}`,
)

const model = new Seq2Seq(src.length, tgt.length, {
  embedDim: embed,
  numHiddens: hidden,
  numLayers: layers,
  dropout,
})
const opt = new optim.Adam(model.parameters(), { lr })
const sched = new optim.ExponentialLR(opt, { gamma: decay })
const S = trainPairs.map(([e]) => truncatePad(e, src, numSteps))
const Tg = trainPairs.map(([, f]) => truncatePad(f, tgt, numSteps))
const bos = tgt.indexOf('<bos>')

const t0 = Date.now()
const elapsed = () => (Date.now() - t0) / 1000
const cpu0 = process.cpuUsage()
/** CPU seconds of this process (equal to wall time on an otherwise idle machine: the kernels are single-threaded). */
const cpuSeconds = () => {
  const u = process.cpuUsage(cpu0)
  return (u.user + u.system) / 1e6
}
const losses: number[] = []
/**
 * One epoch's batches: the pairs shuffled, stably sorted by target then source length, cut into
 * batches of `batchSize` (the last one shorter), the batches shuffled. A batch is padded only to
 * its own longest sentences, about half the 10 steps of the fixed padding.
 */
function epochBatches(epoch: number): number[][] {
  const gen = new Generator(epoch)
  const perm = Array.from(gen.permutation(trainPairs.length))
  perm.sort((a, b) => Tg[a]!.validLen - Tg[b]!.validLen || S[a]!.validLen - S[b]!.validLen)
  const out: number[][] = []
  for (let s = 0; s < perm.length; s += batchSize) out.push(perm.slice(s, s + batchSize))
  return Array.from(gen.permutation(out.length), (i) => out[i]!)
}

for (let epoch = 1; epoch <= maxEpochs; epoch++) {
  let sum = 0
  let n = 0
  for (const idx of epochBatches(epoch)) {
    const ts = Math.max(...idx.map((i) => S[i]!.validLen))
    const tt = Math.max(...idx.map((i) => Tg[i]!.validLen))
    const X = idRows(idx.map((i) => S[i]!.ids.slice(0, ts)))
    const Y = idRows(idx.map((i) => Tg[i]!.ids.slice(0, tt)))
    // Teacher forcing: the decoder reads <bos> and the target shifted right.
    const decIn = idRows(idx.map((i) => [bos, ...Tg[i]!.ids.slice(0, tt - 1)]))
    // The masked cross-entropy, with only the valid target positions through the output layer.
    const loss = model.maskedLoss(
      X,
      decIn,
      Y,
      idx.map((i) => Tg[i]!.validLen),
      idx.map((i) => S[i]!.validLen),
    )
    opt.zeroGrad()
    loss.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    sum += loss.item()
    n++
    if (n % 100 === 0)
      console.log(`  epoch ${epoch} batch ${n}: loss ${(sum / n).toFixed(3)} (${cpuSeconds().toFixed(0)} CPU s)`)
  }
  sched.step()
  losses.push(sum / n)
  console.log(
    `epoch ${epoch}: loss ${(sum / n).toFixed(3)} (${elapsed().toFixed(0)} s, ${cpuSeconds().toFixed(0)} CPU s)`,
  )
}
const trainCpu = cpuSeconds()

const evalGroups = test.slice(0, nTest)
const refs = evalGroups.map((g) => g.references)
const greedy = evalGroups.map((g) => translate(model, src, tgt, g.source, { numSteps, suppress }).text)
console.log(`greedy decoding of ${evalGroups.length} test sentences done (${cpuSeconds().toFixed(0)} CPU s)`)
const beam = evalGroups.map((g) => translate(model, src, tgt, g.source, { numSteps, beamSize: 4, suppress }).text)
const bleuGreedy = corpusBleu(refs, greedy)
const bleuBeam = corpusBleu(refs, beam)
console.log(`beam search done (${cpuSeconds().toFixed(0)} CPU s)`)
console.log(
  `test BLEU-4 (corpus, ${evalGroups.length} sentences, all references): greedy ${bleuGreedy.toFixed(4)}, beam 4 ${bleuBeam.toFixed(4)}`,
)
for (let i = 0; i < 5; i++)
  console.log(`  ${evalGroups[i]!.source} => ${beam[i]} (references: ${evalGroups[i]!.references.join(' | ')})`)

for (const r of scoreD2lSentences(data, (e) =>
  noGrad(() => translate(model, src, tgt, e, { numSteps, beamSize: 4, suppress }).text),
))
  console.log(formatD2lScore(r))
console.log(
  JSON.stringify({
    pairs: maxPairs,
    hidden,
    embed,
    layers,
    minFreq,
    lr,
    decay,
    batchSize,
    suppress,
    epochs: maxEpochs,
    losses: losses.map((l) => Number(l.toFixed(3))),
    trainCpuSeconds: Math.round(trainCpu),
    seconds: Math.round(elapsed()),
    cpuSeconds: Math.round(cpuSeconds()),
    bleuGreedy: Number(bleuGreedy.toFixed(4)),
    bleuBeam: Number(bleuBeam.toFixed(4)),
  }),
)

/**
 * English -> French translation with an encoder-decoder Transformer
 * (https://d2l.ai/chapter_attention-mechanisms-and-transformers/transformer.html) on
 * ../shared/data/text/fra-eng.txt, with the data, split, vocabularies, decoding and BLEU of the GRU
 * seq2seq example (packages/rnn/examples/seq2seq.ts), so the two test BLEU scores compare directly.
 *
 * Split: the first `--pairs` pairs are grouped by English sentence (every French translation of one
 * English sentence is a reference of it); a permutation of the groups seeded with 0 puts 10% of
 * them in the test set, so no test sentence is seen in training. Sentences are cut to 10 tokens
 * (<eos> included). Training: every (English, French) pair of the training groups, teacher forcing,
 * cross-entropy with label smoothing over the non-padding target positions only, Adam with a
 * linear warm-up then linear decay. Test: corpus BLEU-4 over the first `--test` test groups with
 * all their references, greedy and beam search (beam 4, length normalisation alpha 0.75); the
 * decoder runs incrementally with a key/value cache per layer.
 *
 *   pnpm example:transformer-nmt [--pairs 4000] [--epochs 30] [--d-model 64] [--heads 4] [--layers 2]
 *     [--ffn 256] [--dropout 0.1] [--batch 64] [--lr 0.001] [--warmup 200] [--smoothing 0.1]
 *     [--min-freq 2] [--test 500]
 */
import { ArgumentError, Generator, Tensor, crossEntropy, manualSeed, optim } from '@refnets/core'
import { corpusBleu, idRows, truncatePad } from '@refnets/rnn'
import { fraEngTranslationData, formatD2lScore, scoreD2lSentences } from '@refnets/rnn/data'
import { TransformerSeq2Seq, translateTransformer } from '../src/index.js'

const arg = (name: string, def: string): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = Number(i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def)
  if (!Number.isFinite(v)) throw new ArgumentError(`--${name}: expected a number, got '${process.argv[i + 1]}'`)
  return v
}
const maxPairs = arg('pairs', '4000')
const maxEpochs = arg('epochs', '30')
const dModel = arg('d-model', '64')
const nhead = arg('heads', '4')
const layers = arg('layers', '2')
const ffn = arg('ffn', '256')
const dropout = arg('dropout', '0.1')
const batchSize = arg('batch', '64')
const lr = arg('lr', '0.001')
const warmup = arg('warmup', '200')
const smoothing = arg('smoothing', '0.1')
const minFreq = arg('min-freq', '2')
const nTest = arg('test', '500')
const numSteps = 10

manualSeed(0)
const data = fraEngTranslationData(maxPairs, minFreq)
const { pairs, groups, train, test, trainPairs, src, tgt } = data
const model = new TransformerSeq2Seq(src.length, tgt.length, {
  dModel,
  nhead,
  numEncoderLayers: layers,
  numDecoderLayers: layers,
  dimFeedforward: ffn,
  dropout,
  maxLen: numSteps,
})
const nParams = model.parameters().reduce((s, p) => s + p.size, 0)
console.log(
  `${pairs.length} pairs, ${groups.length} distinct English sentences: ${train.length} train (${trainPairs.length} pairs), ${test.length} test`,
)
console.log(
  `vocabularies (min frequency ${minFreq}): English ${src.length}, French ${tgt.length}; Transformer ${layers}+${layers} layers, ` +
    `d_model ${dModel}, ${nhead} heads, FFN ${ffn}, dropout ${dropout}: ${nParams} parameters`,
)

const S = trainPairs.map(([e]) => truncatePad(e, src, numSteps))
const Tg = trainPairs.map(([, f]) => truncatePad(f, tgt, numSteps))
const bos = tgt.indexOf('<bos>')
const batchesPerEpoch = Math.floor(trainPairs.length / batchSize)
const totalSteps = maxEpochs * batchesPerEpoch
/** Linear warm-up to `lr` over `warmup` steps, then linear decay to lr / 10 at the last step. */
const lrAt = (step: number) =>
  step < warmup ? (lr * (step + 1)) / warmup : lr * (1 - (0.9 * (step - warmup)) / Math.max(1, totalSteps - warmup))
const opt = new optim.Adam(model.parameters(), { lr, beta2: 0.98 })

const t0 = Date.now()
const elapsed = () => (Date.now() - t0) / 1000
const cpu0 = process.cpuUsage()
/** CPU seconds of this process: the run time on an otherwise idle machine with REFNETS_THREADS=1. */
const cpuSeconds = () => {
  const u = process.cpuUsage(cpu0)
  return (u.user + u.system) / 1e6
}
const losses: number[] = []
let step = 0
for (let epoch = 1; epoch <= maxEpochs; epoch++) {
  model.train()
  const order = new Generator(epoch).permutation(trainPairs.length)
  let sum = 0
  let n = 0
  for (let s = 0; s + batchSize <= order.length; s += batchSize) {
    const idx = Array.from(order.subarray(s, s + batchSize))
    const X = idRows(idx.map((i) => S[i]!.ids))
    // Teacher forcing: the decoder reads <bos> and the target shifted right.
    const decIn = idRows(idx.map((i) => [bos, ...Tg[i]!.ids.slice(0, -1)]))
    // The loss covers the non-padding target positions (row b * numSteps + t, t < valid length).
    const rows: number[] = []
    const labels: number[] = []
    idx.forEach((i, b) => {
      for (let t = 0; t < Tg[i]!.validLen; t++) {
        rows.push(b * numSteps + t)
        labels.push(Tg[i]!.ids[t]!)
      }
    })
    const logits = model.logitsAt(
      X,
      decIn,
      idx.map((i) => S[i]!.validLen),
      rows,
    )
    const loss = crossEntropy(logits, new Tensor(Int32Array.from(labels), [labels.length]), {
      labelSmoothing: smoothing,
    })
    opt.paramGroups[0]!.lr = lrAt(step++)
    opt.zeroGrad()
    loss.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    sum += loss.item()
    n++
    if (n % 100 === 0)
      console.log(
        `  epoch ${epoch} batch ${n}/${batchesPerEpoch}: loss ${(sum / n).toFixed(3)} (${cpuSeconds().toFixed(0)} CPU s)`,
      )
  }
  losses.push(sum / n)
  console.log(
    `epoch ${epoch}: loss ${(sum / n).toFixed(3)} (${elapsed().toFixed(0)} s wall, ${cpuSeconds().toFixed(0)} CPU s)`,
  )
}
const trainCpu = cpuSeconds()

const evalGroups = test.slice(0, nTest)
const refs = evalGroups.map((g) => g.references)
const greedy = evalGroups.map((g) => translateTransformer(model, src, tgt, g.source, { numSteps }).text)
const beam = evalGroups.map((g) => translateTransformer(model, src, tgt, g.source, { numSteps, beamSize: 4 }).text)
const bleuGreedy = corpusBleu(refs, greedy)
const bleuBeam = corpusBleu(refs, beam)
console.log(
  `test BLEU-4 (corpus, ${evalGroups.length} sentences, all references): greedy ${bleuGreedy.toFixed(4)}, beam 4 ${bleuBeam.toFixed(4)}`,
)
for (let i = 0; i < 5; i++)
  console.log(`  ${evalGroups[i]!.source} => ${beam[i]} (references: ${evalGroups[i]!.references.join(' | ')})`)

for (const r of scoreD2lSentences(
  data,
  (e) => translateTransformer(model, src, tgt, e, { numSteps, beamSize: 4 }).text,
))
  console.log(formatD2lScore(r))
console.log(
  JSON.stringify({
    pairs: maxPairs,
    testGroups: evalGroups.length,
    srcVocab: src.length,
    tgtVocab: tgt.length,
    dModel,
    layers,
    parameters: nParams,
    epochs: maxEpochs,
    losses: losses.map((l) => Number(l.toFixed(3))),
    seconds: Math.round(elapsed()),
    trainCpuSeconds: Math.round(trainCpu),
    cpuSeconds: Math.round(cpuSeconds()),
    bleuGreedy: Number(bleuGreedy.toFixed(4)),
    bleuBeam: Number(bleuBeam.toFixed(4)),
  }),
)

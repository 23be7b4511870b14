/**
 * Pretraining a small BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805; d2l.ai 15.10,
 * https://d2l.ai/chapter_natural-language-processing-pretraining/bert-pretraining.html) on
 * H. G. Wells' The Time Machine (public domain, shared/data/text/timemachine.txt) with masked
 * language modelling and next sentence prediction, on the plain-JS backend.
 *
 * Data as d2l builds it (src/bert/pretraining-data.ts): adjacent sentence pairs of each paragraph,
 * half with a random second sentence, 15% of the tokens predicted (80% [MASK], 10% random, 10%
 * unchanged), max length 64; tokens are bert-base-uncased WordPiece pieces renumbered to the ones
 * the book uses (VocabSubset). 10% of the pairs are held out for evaluation. Model: d2l's small
 * BERT (2 layers, hidden 128, 2 heads, feed-forward 256, dropout 0.1); AdamW with linear warm-up
 * and decay; batch 16 (BATCH=n), each padded only to its longest pair; it stops after MINUTES of training (default 12) or STEPS steps.
 *
 *   pnpm run example:bert-pretrain          (MINUTES=n, STEPS=n, OUT=path for the weights)
 *
 * It prints the held-out MLM accuracy (over the predicted positions) and NSP accuracy, and saves
 * the weights and the vocabulary subset for examples/bert-finetune-spam.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Generator, type Tensor, manualSeed, noGrad, optim } from '@refnets/core'
import { saveWeights } from '@refnets/core/io/node'
import {
  BERT_SMALL,
  type BertConfig,
  BertForPreTraining,
  type PretrainingExample,
  VocabSubset,
  WordPieceTokenizer,
  bertPretrainingLoss,
  collatePretraining,
  makePretrainingExamples,
  splitParagraphs,
} from '../src/index.js'

const shared = (rel: string) => fileURLToPath(new URL(`../../../../shared/data/${rel}`, import.meta.url))
const MINUTES = Number(process.env.MINUTES ?? 12)
const MAX_STEPS = Number(process.env.STEPS ?? 100_000)
const OUT = process.env.OUT ?? fileURLToPath(new URL('./out/bert-small-timemachine', import.meta.url))
const BATCH = Number(process.env.BATCH ?? 16)
const MAX_LEN = 64
const LR = 1e-3
const WARMUP = 20

/** Held-out MLM accuracy over real predictions and NSP accuracy, in evaluation mode. */
function evaluate(
  model: BertForPreTraining,
  examples: PretrainingExample[],
): { mlm: number; nsp: number; mlmLoss: number } {
  model.eval()
  let mlmRight = 0
  let mlmTotal = 0
  let nspRight = 0
  let lossSum = 0
  noGrad(() => {
    for (let i = 0; i < examples.length; i += 64) {
      const b = collatePretraining(examples.slice(i, i + 64), { trim: true })
      const [mlm, nsp] = model.call(b.inputIds, b.tokenTypeIds, b.attentionMask, b.predPositions) as [Tensor, Tensor]
      lossSum += bertPretrainingLoss(mlm, nsp, b.mlmLabels, b.mlmWeights, b.nspLabels).mlm.item() * b.nspLabels.size
      const pred = mlm.argmax(-1).data
      const w = b.mlmWeights.data
      const y = b.mlmLabels.data
      for (let k = 0; k < pred.length; k++)
        if (w[k] === 1) {
          mlmTotal++
          if (pred[k] === y[k]) mlmRight++
        }
      const np = nsp.argmax(-1).data
      for (let k = 0; k < np.length; k++) if (np[k] === b.nspLabels.data[k]) nspRight++
    }
  })
  model.train()
  return { mlm: mlmRight / mlmTotal, nsp: nspRight / examples.length, mlmLoss: lossSum / examples.length }
}

function main(): void {
  const t0 = Date.now()
  manualSeed(0)
  const tokenizer = WordPieceTokenizer.fromVocabText(readFileSync(shared('text/bert-base-uncased-vocab.txt'), 'utf8'))
  const paragraphs = splitParagraphs(readFileSync(shared('text/timemachine.txt'), 'utf8'))
  const all = makePretrainingExamples(paragraphs, tokenizer, { maxLen: MAX_LEN, seed: 0 })
  const vocab = new VocabSubset(
    tokenizer,
    all.flatMap((e) => [...e.tokenIds, ...e.mlmLabels]),
  )
  const examples = all.map((e) => ({
    ...e,
    tokenIds: vocab.compact(e.tokenIds),
    mlmLabels: vocab.compact(e.mlmLabels).map((v, k) => (e.mlmWeights[k] ? v : 0)),
  }))
  const g = new Generator(1)
  for (let i = examples.length - 1; i > 0; i--) {
    const j = g.int(i + 1)
    ;[examples[i], examples[j]] = [examples[j]!, examples[i]!]
  }
  const nTest = Math.round(examples.length * 0.1)
  const test = examples.slice(0, nTest)
  const train = examples.slice(nTest)
  const config: BertConfig = {
    ...BERT_SMALL,
    vocabSize: vocab.size,
    maxPositionEmbeddings: MAX_LEN,
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
  }
  const model = new BertForPreTraining(config)
  const nParams = model.parameters().reduce((a, p) => a + p.size, 0)
  console.log(
    `${paragraphs.length} paragraphs, ${train.length} training and ${test.length} held-out pairs, vocabulary ${vocab.size} pieces, ${nParams.toLocaleString()} parameters`,
  )

  const opt = new optim.AdamW(model.parameters(), { lr: LR, weightDecay: 0.01 })
  const budget = MINUTES * 60_000
  const start = Date.now()
  let step = 0
  let order: number[] = []
  let sums = { mlm: 0, nsp: 0, n: 0 }
  // Estimated steps for the decay: refined after the first 10 steps from the measured step time.
  let plannedSteps = MAX_STEPS
  while (step < MAX_STEPS && Date.now() - start < budget) {
    if (order.length < BATCH) order = [...train.keys()].sort(() => g.random() - 0.5)
    const batch = collatePretraining(
      order.splice(0, BATCH).map((i) => train[i]!),
      { trim: true },
    )
    if (step === 10) plannedSteps = Math.min(MAX_STEPS, Math.floor((budget / (Date.now() - start)) * 10))
    const frac =
      step < WARMUP ? (step + 1) / WARMUP : Math.max(0.05, 1 - (step - WARMUP) / Math.max(1, plannedSteps - WARMUP))
    opt.paramGroups[0]!.lr = LR * frac
    const [mlm, nsp] = model.call(batch.inputIds, batch.tokenTypeIds, batch.attentionMask, batch.predPositions) as [
      Tensor,
      Tensor,
    ]
    const loss = bertPretrainingLoss(mlm, nsp, batch.mlmLabels, batch.mlmWeights, batch.nspLabels)
    opt.zeroGrad()
    loss.total.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    sums = { mlm: sums.mlm + loss.mlm.item(), nsp: sums.nsp + loss.nsp.item(), n: sums.n + 1 }
    step++
    if (step % 25 === 0) {
      console.log(
        `step ${step}: MLM loss ${(sums.mlm / sums.n).toFixed(3)}, NSP loss ${(sums.nsp / sums.n).toFixed(3)}, ${((Date.now() - start) / 1000).toFixed(0)}s`,
      )
      sums = { mlm: 0, nsp: 0, n: 0 }
    }
  }
  const trainSeconds = (Date.now() - start) / 1000
  const res = evaluate(model, test)
  console.log(
    `trained ${step} steps (${((step * BATCH) / train.length).toFixed(1)} epochs) in ${trainSeconds.toFixed(0)}s`,
  )
  console.log(
    `held-out: MLM accuracy ${res.mlm.toFixed(3)} (loss ${res.mlmLoss.toFixed(3)}), NSP accuracy ${res.nsp.toFixed(3)} (chance 0.5)`,
  )
  mkdirSync(dirname(OUT), { recursive: true })
  saveWeights(model, `${OUT}.safetensors`)
  writeFileSync(`${OUT}.vocab.json`, JSON.stringify({ config, fullIds: vocab.fullIds }))
  console.log(`saved ${OUT}.safetensors and .vocab.json; total ${((Date.now() - t0) / 1000).toFixed(0)}s`)
}

main()

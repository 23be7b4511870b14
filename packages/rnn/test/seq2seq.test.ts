/**
 * Seq2seq: the masked cross-entropy ignores padding (value and gradient), the loss that projects only
 * the valid positions equals the full masked loss (value and every gradient), teacher forcing trains
 * an encoder-decoder GRU that then translates its training pairs with greedy and beam search, and
 * the fra-eng grouping keeps every translation of a source sentence on one side of the split.
 */
import {
  ArgumentError,
  DTypeError,
  Generator,
  ShapeError,
  crossEntropy,
  fromValues,
  gradcheck,
  manualSeed,
  optim,
  randn,
  tensor,
} from '@refnets/core'
import type { Tensor } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  Seq2Seq,
  Vocab,
  groupBySource,
  idRows,
  maskedCrossEntropy,
  splitGroups,
  tokens,
  translate,
  truncatePad,
} from '../src/index.js'

describe('masked cross-entropy', () => {
  it('averages over valid tokens only; padded positions get no gradient', () => {
    const logits = randn([2, 3, 5], { dtype: 'float64', generator: new Generator(1) }).requireGrad()
    const targets = tensor(
      [
        [1, 2, 0],
        [3, 0, 0],
      ],
      { dtype: 'int32' },
    )
    const loss = maskedCrossEntropy(logits, targets, [3, 1])
    const rows = [0, 1, 2, 3]
    const manual = crossEntropy(
      logits.reshape(6, 5).gather(0, tensor(rows, { dtype: 'int32' })),
      tensor([1, 2, 0, 3], { dtype: 'int32' }),
    )
    expect(loss.item()).toBeCloseTo(manual.item(), 12)
    loss.backward()
    const g = logits.grad!.data
    for (const pos of [4, 5]) for (let v = 0; v < 5; v++) expect(g[pos * 5 + v]).toBe(0)
  })
})

/** The full masked loss: every position's cross-entropy, times a 0/1 mask, over the valid count. */
function fullMaskedLoss(logits: Tensor, targets: Tensor, validLens: number[]): Tensor {
  const [B, T, V] = logits.shape as [number, number, number]
  const w = new Float64Array(B * T)
  let n = 0
  for (let b = 0; b < B; b++)
    for (let t = 0; t < Math.min(T, validLens[b]!); t++) {
      w[b * T + t] = 1
      n++
    }
  return crossEntropy(logits.reshape(B * T, V), targets.reshape(B * T), { reduction: 'none' })
    .mul(fromValues('float64', [B * T], w))
    .sum()
    .div(n)
}

describe('masked loss over the valid positions only', () => {
  const targets = tensor(
    [
      [4, 2, 0, 0],
      [5, 6, 3, 2],
      [2, 0, 0, 0],
    ],
    { dtype: 'int32' },
  )
  const tgtLens = [2, 4, 1]

  it('maskedCrossEntropy equals the full masked loss and its gradient (float64)', () => {
    const logits = randn([3, 4, 7], { dtype: 'float64', generator: new Generator(3) })
    const a = logits.detach().requireGrad()
    const b = logits.detach().requireGrad()
    const la = maskedCrossEntropy(a, targets, tgtLens)
    const lb = fullMaskedLoss(b, targets, tgtLens)
    expect(Math.abs(la.item() - lb.item())).toBeLessThan(1e-14)
    la.backward()
    lb.backward()
    const ga = a.grad!.data
    const gb = b.grad!.data
    for (let i = 0; i < ga.length; i++) expect(Math.abs(ga[i]! - gb[i]!)).toBeLessThan(1e-15)
    expect(gradcheck((x) => maskedCrossEntropy(x, targets, tgtLens), [logits]).relError).toBeLessThan(1e-7)
  })

  it('Seq2Seq.maskedLoss equals maskedCrossEntropy of the full logits, value and every parameter gradient', () => {
    manualSeed(2)
    const mk = () => new Seq2Seq(6, 7, { embedDim: 3, numHiddens: 4, numLayers: 2, dtype: 'float64' })
    const m1 = mk()
    const m2 = mk()
    m2.loadStateDict(m1.stateDict())
    const src = tensor(
      [
        [3, 4, 5, 2],
        [4, 2, 0, 0],
        [5, 5, 2, 0],
      ],
      { dtype: 'int32' },
    )
    const srcLens = [4, 2, 3]
    const decIn = tensor(
      [
        [1, 4, 2, 0],
        [1, 5, 6, 3],
        [1, 2, 0, 0],
      ],
      { dtype: 'int32' },
    )
    const l1 = m1.maskedLoss(src, decIn, targets, tgtLens, srcLens)
    const l2 = fullMaskedLoss(m2.call(src, decIn, srcLens), targets, tgtLens)
    expect(Math.abs(l1.item() - l2.item())).toBeLessThan(1e-14)
    l1.backward()
    l2.backward()
    const p1 = m1.parameters()
    const p2 = m2.parameters()
    expect(p1.length).toBe(p2.length)
    p1.forEach((p, i) => {
      const g1 = p.grad!.data
      const g2 = p2[i]!.grad!.data
      let maxAbs = 0
      for (let j = 0; j < g1.length; j++) maxAbs = Math.max(maxAbs, Math.abs(g1[j]! - g2[j]!))
      expect(maxAbs).toBeLessThan(1e-14)
    })
  })

  it('rejects targets or lengths that do not match the batch', () => {
    const logits = randn([3, 4, 7], { dtype: 'float64' })
    expect(() => maskedCrossEntropy(logits, targets, [2, 4])).toThrow(ArgumentError)
    expect(() => maskedCrossEntropy(logits, targets, [2, -1, 1])).toThrow(ArgumentError)
    expect(() => maskedCrossEntropy(logits, targets.reshape(4, 3), tgtLens)).toThrow(ShapeError)
    expect(() => maskedCrossEntropy(logits, targets.to('float64'), tgtLens)).toThrow(DTypeError)
    expect(() => maskedCrossEntropy(logits.reshape(12, 7), targets, tgtLens)).toThrow(ShapeError)
    expect(maskedCrossEntropy(logits, targets, [0, 0, 0]).item()).toBe(0)
  })
})

describe('encoder-decoder with teacher forcing', () => {
  it('learns a few pairs and translates them back (greedy and beam)', () => {
    manualSeed(0)
    const pairs: [string, string][] = [
      ['go .', 'va !'],
      ['i lost .', "j'ai perdu ."],
      ['he is calm .', 'il est calme .'],
      ['i am home .', 'je suis chez moi .'],
    ]
    const special = { reservedTokens: ['<pad>', '<bos>', '<eos>'] }
    const src = new Vocab(
      pairs.map(([s]) => tokens(s)),
      special,
    )
    const tgt = new Vocab(
      pairs.map(([, t]) => tokens(t)),
      special,
    )
    const numSteps = 6
    const model = new Seq2Seq(src.length, tgt.length, { embedDim: 16, numHiddens: 32, numLayers: 1 })
    const S = pairs.map(([s]) => truncatePad(s, src, numSteps))
    const Tg = pairs.map(([, t]) => truncatePad(t, tgt, numSteps))
    const bos = tgt.indexOf('<bos>')
    const decIn = idRows(Tg.map((t) => [bos, ...t.ids.slice(0, -1)]))
    const opt = new optim.Adam(model.parameters(), { lr: 0.02 })
    let loss = Infinity
    for (let it = 0; it < 120; it++) {
      opt.zeroGrad()
      const l = model.maskedLoss(
        idRows(S.map((s) => s.ids)),
        decIn,
        idRows(Tg.map((t) => t.ids)),
        Tg.map((t) => t.validLen),
        S.map((s) => s.validLen),
      )
      l.backward()
      opt.step()
      loss = l.item()
    }
    expect(loss).toBeLessThan(0.05)
    for (const [s, t] of pairs) {
      expect(translate(model, src, tgt, s, { numSteps }).text).toBe(t)
      expect(translate(model, src, tgt, s, { numSteps, beamSize: 3 }).text).toBe(t)
    }
    // A suppressed token is never emitted: the decoder picks another one in its place.
    for (const beamSize of [1, 3]) {
      const out = tokens(translate(model, src, tgt, 'i lost .', { numSteps, beamSize, suppress: ['perdu'] }).text)
      expect(out).not.toContain('perdu')
      // Greedy: the steps before the suppressed token are unchanged.
      if (beamSize === 1) expect(out[0]).toBe("j'ai")
      const hyp = translate(model, src, tgt, 'i lost .', { numSteps, beamSize, suppress: ['perdu'] }).hypothesis
      expect(Number.isFinite(hyp.logProb)).toBe(true)
    }
    expect(() => translate(model, src, tgt, 'go .', { numSteps, suppress: ['nope'] })).toThrow(ArgumentError)
    expect(() => translate(model, src, tgt, 'go .', { numSteps, suppress: ['<eos>'] })).toThrow(ArgumentError)
  })
})

describe('translate never emits <pad> or <bos> unless asked to', () => {
  it('suppresses them by default, even when the model prefers them', () => {
    manualSeed(4)
    const special = { reservedTokens: ['<pad>', '<bos>', '<eos>'] }
    const src = new Vocab([['a', 'b']], special)
    const tgt = new Vocab([['x', 'y']], special)
    const model = new Seq2Seq(src.length, tgt.length, { embedDim: 4, numHiddens: 4, numLayers: 1 })
    const bias = model.decoder.dense.bias!.data
    bias[tgt.indexOf('<pad>')] = 50
    bias[tgt.indexOf('<bos>')] = 40
    for (const beamSize of [1, 2]) {
      const out = tokens(translate(model, src, tgt, 'a b', { numSteps: 4, beamSize }).text)
      expect(out.length).toBeGreaterThan(0)
      for (const t of out) expect(['<pad>', '<bos>']).not.toContain(t)
      expect(translate(model, src, tgt, 'a b', { numSteps: 4, beamSize, suppress: [] }).text).toBe(
        '<pad> <pad> <pad> <pad>',
      )
    }
  })
})

describe('fra-eng split by source sentence', () => {
  it('groups every translation of a source and splits groups, not pairs', () => {
    const pairs: [string, string][] = [
      ['go .', 'va !'],
      ['go .', 'marche .'],
      ['hi .', 'salut !'],
      ['run !', 'cours !'],
      ['run !', 'courez !'],
      ['wow !', 'ça alors !'],
    ]
    const groups = groupBySource(pairs)
    expect(groups.map((g) => g.source)).toEqual(['go .', 'hi .', 'run !', 'wow !'])
    expect(groups[0]!.references).toEqual(['va !', 'marche .'])
    const { train, test } = splitGroups(groups, 0.5, 1)
    expect(train.length + test.length).toBe(4)
    const trainSrc = new Set(train.map((g) => g.source))
    for (const g of test) expect(trainSrc.has(g.source)).toBe(false)
    expect(splitGroups(groups, 0.5, 1)).toEqual({ train, test })
  })
})

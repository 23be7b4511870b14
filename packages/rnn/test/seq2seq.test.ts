/**
 * Seq2seq: the masked cross-entropy ignores padding (value and gradient), teacher forcing trains
 * an encoder-decoder GRU that then translates its training pairs with greedy and beam search, and
 * the fra-eng grouping keeps every translation of a source sentence on one side of the split.
 */
import { Generator, crossEntropy, manualSeed, optim, randn, tensor } from '@refnets/core'
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
      const l = maskedCrossEntropy(
        model.call(
          idRows(S.map((s) => s.ids)),
          decIn,
          S.map((s) => s.validLen),
        ),
        idRows(Tg.map((t) => t.ids)),
        Tg.map((t) => t.validLen),
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

/**
 * TransformerSeq2Seq and the decoder's incremental path: the key/value-cache decode equals the full
 * causal decode (float64), a step leaves its input state reusable (beam search branches from it),
 * the source padding mask hides the padding, `logitsAt` picks the forward's rows, the model learns
 * a handful of pairs that greedy and beam decoding then reproduce, and typed errors.
 */
import {
  ArgumentError,
  Generator,
  ShapeError,
  Tensor,
  crossEntropy,
  manualSeed,
  noGrad,
  optim,
  randn,
} from '@refnets/core'
import { Vocab, idRows, tokens, truncatePad } from '@refnets/rnn'
import { describe, expect, it } from 'vitest'
import {
  KVCache,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerSeq2Seq,
  causalMask,
  keyPaddingMaskFromLengths,
  translateTransformer,
} from '../src/index.js'

const flat = (t: Tensor) => Array.from(t.contiguous().data as Float64Array)
const ids = (rows: number[][]) => idRows(rows)
const tok = (v: number[]) => new Tensor(Int32Array.from(v), [v.length])

/** Random ids in [lo, hi) as rows. */
function randomIds(b: number, t: number, lo: number, hi: number, seed: number): number[][] {
  const g = new Generator(seed)
  return Array.from({ length: b }, () => Array.from({ length: t }, () => lo + g.int(hi - lo)))
}

function expectClose(a: number[], b: number[], tol: number): void {
  expect(a.length).toBe(b.length)
  let worst = 0
  a.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - b[i]!))
  })
  expect(worst).toBeLessThan(tol)
}

describe('TransformerDecoder.forwardIncremental', () => {
  it('equals the full causal forward, one step and several steps at a time (pre- and post-norm)', () => {
    for (const normFirst of [false, true]) {
      manualSeed(3)
      const dec = new TransformerDecoder(
        () => new TransformerDecoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true, normFirst, dtype: 'float64' }),
        2,
      ).eval()
      const x = randn([2, 5, 8], { dtype: 'float64', generator: new Generator(1) })
      const mem = randn([2, 3, 8], { dtype: 'float64', generator: new Generator(2) })
      const mpm = keyPaddingMaskFromLengths([3, 2], 3)
      const full = noGrad(() => dec.call(x, mem, { tgtMask: causalMask(5), memoryKeyPaddingMask: mpm }))
      const caches = [new KVCache(), new KVCache()]
      const parts = [
        [0, 1],
        [1, 2],
        [2, 5],
      ].map(([a, b]) =>
        noGrad(() => dec.forwardIncremental(x.slice(1, a!, b!), mem, caches, { memoryKeyPaddingMask: mpm })),
      )
      expect(caches.map((c) => c.length)).toEqual([5, 5])
      parts.forEach((p, i) => {
        const [a, b] = [
          [0, 1],
          [1, 2],
          [2, 5],
        ][i]!
        expectClose(flat(p), flat(full.slice(1, a!, b!)), 1e-12)
      })
    }
  })

  it('wants one cache per layer', () => {
    const dec = new TransformerDecoder(() => new TransformerDecoderLayer(4, 2, { batchFirst: true }), 2)
    expect(() => dec.forwardIncremental(randn([1, 1, 4]), randn([1, 2, 4]), [new KVCache()])).toThrow(
      /expected one cache per layer \(2\), got 1/,
    )
  })
})

describe('TransformerSeq2Seq', () => {
  const opts = { dModel: 16, nhead: 4, dimFeedforward: 32, dtype: 'float64' as const }

  it('decodes incrementally with the key/value cache exactly as the full causal decode', () => {
    for (const normFirst of [true, false]) {
      manualSeed(5)
      const m = new TransformerSeq2Seq(11, 13, { ...opts, normFirst }).eval()
      const src = ids(randomIds(3, 6, 1, 11, 7))
      const tgt = ids(randomIds(3, 7, 1, 13, 8))
      const lens = [6, 2, 4]
      const full = noGrad(() => m.call(src, tgt, lens)) // (3, 7, 13)
      let state = noGrad(() => m.initState(m.encode(src, lens)))
      for (let t = 0; t < 7; t++) {
        const tok = tgt
          .slice(1, t, t + 1)
          .contiguous()
          .reshape(3)
        const r = noGrad(() => m.decodeStep(tok, state))
        state = r.state
        expect(r.logits.shape).toEqual([3, 13])
        expectClose(
          flat(r.logits),
          flat(
            full
              .slice(1, t, t + 1)
              .contiguous()
              .reshape(3, 13),
          ),
          1e-10,
        )
      }
      expect(state.caches.map((c) => c.length)).toEqual([7, 7])
    }
  })

  it('leaves the state it steps from unchanged, so two branches from one state agree with fresh decodes', () => {
    manualSeed(6)
    const m = new TransformerSeq2Seq(9, 9, opts).eval()
    const enc = noGrad(() => m.encode(ids([[3, 4, 5, 2]]), [4]))
    const s1 = noGrad(() => m.decodeStep(tok([1]), m.initState(enc))).state
    const a = noGrad(() => m.decodeStep(tok([5]), s1))
    const b = noGrad(() => m.decodeStep(tok([6]), s1))
    expect(s1.caches[0]!.length).toBe(1)
    const full = noGrad(() =>
      m.call(
        ids([
          [3, 4, 5, 2],
          [3, 4, 5, 2],
        ]),
        ids([
          [1, 5],
          [1, 6],
        ]),
        [4, 4],
      ),
    )
    expectClose(flat(a.logits), flat(full.slice(0, 0, 1).slice(1, 1, 2).contiguous().reshape(1, 9)), 1e-10)
    expectClose(flat(b.logits), flat(full.slice(0, 1, 2).slice(1, 1, 2).contiguous().reshape(1, 9)), 1e-10)
  })

  it('ignores the source tokens past each valid length (the key padding mask)', () => {
    manualSeed(7)
    const m = new TransformerSeq2Seq(10, 10, opts).eval()
    const tgt = ids([
      [1, 4, 5],
      [1, 6, 7],
    ])
    const a = noGrad(() =>
      m.call(
        ids([
          [3, 4, 0, 0],
          [5, 6, 7, 0],
        ]),
        tgt,
        [2, 3],
      ),
    )
    const b = noGrad(() =>
      m.call(
        ids([
          [3, 4, 8, 9],
          [5, 6, 7, 2],
        ]),
        tgt,
        [2, 3],
      ),
    )
    expectClose(flat(a), flat(b), 1e-12)
    // Without the mask the padding would count: the same rows with a longer valid length differ.
    const c = noGrad(() =>
      m.call(
        ids([
          [3, 4, 8, 9],
          [5, 6, 7, 2],
        ]),
        tgt,
        [4, 4],
      ),
    )
    expect(Math.max(...flat(a).map((v, i) => Math.abs(v - flat(c)[i]!)))).toBeGreaterThan(1e-3)
  })

  it('logitsAt gives the rows of the full forward', () => {
    manualSeed(8)
    const m = new TransformerSeq2Seq(7, 8, opts).eval()
    const src = ids(randomIds(2, 4, 1, 7, 1))
    const tgt = ids(randomIds(2, 3, 1, 8, 2))
    const full = noGrad(() => m.call(src, tgt, [4, 3])).reshape(6, 8)
    const rows = [0, 4, 5, 2]
    const picked = noGrad(() => m.logitsAt(src, tgt, [4, 3], rows))
    expect(picked.shape).toEqual([4, 8])
    rows.forEach((r, i) => {
      expectClose(flat(picked.slice(0, i, i + 1)), flat(full.slice(0, r, r + 1)), 1e-12)
    })
  })

  it('learns a handful of pairs, which greedy and beam search then translate exactly', async () => {
    manualSeed(0)
    const pairs: [string, string][] = [
      ['go .', 'va !'],
      ['i lost .', "j'ai perdu ."],
      ["he's calm .", 'il est calme .'],
      ["i'm home .", 'je suis chez moi .'],
      ['we won .', 'nous avons gagné .'],
      ['who ran ?', 'qui a couru ?'],
    ]
    const special = { reservedTokens: ['<pad>', '<bos>', '<eos>'] }
    const src = new Vocab(
      pairs.map(([e]) => tokens(e)),
      special,
    )
    const tgt = new Vocab(
      pairs.map(([, f]) => tokens(f)),
      special,
    )
    const n = 8
    const m = new TransformerSeq2Seq(src.length, tgt.length, { dModel: 32, nhead: 4, dimFeedforward: 64, dropout: 0 })
    const S = pairs.map(([e]) => truncatePad(e, src, n))
    const T = pairs.map(([, f]) => truncatePad(f, tgt, n))
    const bos = tgt.indexOf('<bos>')
    const rows: number[] = []
    const labels: number[] = []
    T.forEach((t, b) => {
      for (let i = 0; i < t.validLen; i++) {
        rows.push(b * n + i)
        labels.push(t.ids[i]!)
      }
    })
    const X = idRows(S.map((s) => s.ids))
    const decIn = idRows(T.map((t) => [bos, ...t.ids.slice(0, -1)]))
    const y = new Tensor(Int32Array.from(labels), [labels.length])
    const opt = new optim.Adam(m.parameters(), { lr: 0.003 })
    let loss = Infinity
    for (let step = 0; step < 150; step++) {
      const l = crossEntropy(
        m.logitsAt(
          X,
          decIn,
          S.map((s) => s.validLen),
          rows,
        ),
        y,
      )
      opt.zeroGrad()
      l.backward()
      opt.step()
      loss = l.item()
      // Let vitest's worker answer its runner between the optimiser steps.
      if (step % 25 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    expect(loss).toBeLessThan(0.05)
    for (const [e, f] of pairs) {
      expect(translateTransformer(m, src, tgt, e, { numSteps: n }).text).toBe(f)
      const beam = translateTransformer(m, src, tgt, e, { numSteps: n, beamSize: 4 })
      expect(beam.text).toBe(f)
      expect(beam.hypothesis.finished).toBe(true)
    }
    expect(m.training).toBe(true)
  })

  it('rejects bad ids, lengths and sizes with typed errors', () => {
    const m = new TransformerSeq2Seq(5, 6, { dModel: 8, nhead: 2 })
    expect(() => m.encode(new Tensor(Float32Array.of(1, 2), [1, 2]), [2])).toThrow(ShapeError)
    expect(() => m.encode(ids([[1, 5]]), [2])).toThrow(/source id 5 is outside the vocabulary \[0, 5\)/)
    expect(() => m.encode(ids([[1, 2]]), [2, 1])).toThrow(/expected 1 valid lengths \(one per row\), got 2/)
    expect(() => m.encode(ids([[1, 2]]), [3])).toThrow(/valid lengths must be integers in \[1, 2\], got 3/)
    expect(() => new TransformerSeq2Seq(0, 6)).toThrow(ArgumentError)
    const state = m.initState(m.encode(ids([[1, 2]]), [2]))
    expect(() => m.decodeStep(tok([1, 2]), state)).toThrow(/expected tokens \[1\], got \[2\]/)
    expect(() => keyPaddingMaskFromLengths([0], 3)).toThrow(ArgumentError)
    const short = new TransformerSeq2Seq(5, 6, { dModel: 8, nhead: 2, maxLen: 2 })
    let s = short.initState(short.encode(ids([[1, 2]]), [2]))
    for (let t = 0; t < 2; t++) s = noGrad(() => short.decodeStep(tok([1]), s)).state
    expect(() => short.decodeStep(tok([1]), s)).toThrow(/past the position table; expected at most 2/)
  })
})

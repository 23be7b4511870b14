/**
 * WordPiece on bert-base-uncased's vocabulary: ids and token type ids equal an independent BERT
 * tokenizer's (fixtures/wordpiece.json, from scripts/gen_wordpiece_fixtures.cjs) on 289 texts and
 * pairs; truncation (longest first), padding, attention masks and offsets; typed errors.
 */
import { readFileSync } from 'node:fs'
import { ArgumentError, ShapeError } from '@refnets/core'
import { describe, expect, it } from 'vitest'
import { WordPieceTokenizer } from '../src/index.js'
import { bertVocabText } from './helpers/data-paths.js'

interface Case {
  text: string
  pair?: string
  maxLength?: number
  padding?: boolean
  ids: number[]
  tokenTypeIds: number[]
  attentionMask?: number[]
}
const { cases } = JSON.parse(readFileSync(new URL('./fixtures/wordpiece.json', import.meta.url), 'utf8')) as {
  cases: Case[]
}
const tok = WordPieceTokenizer.fromVocabText(bertVocabText())

describe('WordPiece against the reference tokenizer', () => {
  it('has the bert-base-uncased vocabulary', () => {
    expect(tok.size).toBe(30522)
    expect([
      tok.id('[PAD]'),
      tok.id('[UNK]'),
      tok.id('[CLS]'),
      tok.id('[SEP]'),
      tok.id('[MASK]'),
      tok.id('the'),
    ]).toEqual([0, 100, 101, 102, 103, 1996])
  })

  it(`matches ids and token type ids on all ${cases.length} cases`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(200)
    const wrong: string[] = []
    for (const c of cases) {
      const enc = tok.encode(c.text, c.pair, c.maxLength ? { maxLength: c.maxLength, padding: c.padding } : {})
      const same =
        enc.ids.join() === c.ids.join() &&
        enc.tokenTypeIds.join() === c.tokenTypeIds.join() &&
        (!c.attentionMask || enc.attentionMask.join() === c.attentionMask.join())
      if (!same) wrong.push(`${JSON.stringify(c.text)}: got ${enc.ids.join(' ')}, expected ${c.ids.join(' ')}`)
    }
    expect(wrong).toEqual([])
  })
})

describe('WordPiece behaviour', () => {
  it('splits greedily longest-first with ## continuations and [UNK] for uncoverable or over-long words', () => {
    expect(tok.tokenize('unaffable')).toEqual(['una', '##ffa', '##ble'])
    expect(tok.tokenize('Héllo, WORLD!')).toEqual(['hello', ',', 'world', '!'])
    expect(tok.tokenize('中国人')).toEqual(['中', '国', '人'])
    expect(tok.tokenize('a'.repeat(101))).toEqual(['[UNK]'])
    expect(tok.tokenize('hap😀py')).toEqual(['[UNK]'])
  })

  it('maps offsets back to the text, through accents, CJK and astral characters', () => {
    const text = 'Café 😀 日本, unaffable!'
    const enc = tok.encode(text)
    const spans = enc.offsets.map(([s, e]) => text.slice(s, e))
    expect(enc.tokens).toEqual(['[CLS]', 'cafe', '[UNK]', '日', '本', ',', 'una', '##ffa', '##ble', '!', '[SEP]'])
    expect(spans).toEqual(['', 'Café', '😀', '日', '本', ',', 'una', 'ffa', 'ble', '!', ''])
    expect(enc.sequenceIds).toEqual([null, 0, 0, 0, 0, 0, 0, 0, 0, 0, null])
  })

  it('truncates the longer sequence first, then pads with attention mask 0', () => {
    const a = 'one two three four five six seven'
    const b = 'alpha beta'
    const enc = tok.encode(a, b, { maxLength: 9 })
    // 9 = 3 specials + 6 tokens: b keeps its 2, a is cut to 4.
    expect(enc.tokens).toEqual(['[CLS]', 'one', 'two', 'three', 'four', '[SEP]', 'alpha', 'beta', '[SEP]'])
    expect(enc.tokenTypeIds).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1])
    const both = tok.encode('one two three four five', 'a b c d e f g', { maxLength: 8 })
    expect(both.tokens).toEqual(['[CLS]', 'one', 'two', '[SEP]', 'a', 'b', 'c', '[SEP]'])
    const padded = tok.encode('hello there', null, { maxLength: 6, padding: true })
    expect(padded.ids).toEqual([101, 7592, 2045, 102, 0, 0])
    expect(padded.attentionMask).toEqual([1, 1, 1, 1, 0, 0])
    expect(tok.decode(padded.ids)).toBe('hello there')
    expect(tok.decode(tok.encode('unaffable jokes').ids)).toBe('unaffable jokes')
  })

  it('raises typed errors for impossible lengths and bad ids', () => {
    expect(() => tok.encode('a b', 'c', { maxLength: 4 })).toThrow(ArgumentError)
    expect(() => tok.encode('a b c d', null, { maxLength: 4, truncation: false })).toThrow(ShapeError)
    expect(() => tok.decode([30522])).toThrow(/\[0, 30522\), got 30522/)
    expect(() => new WordPieceTokenizer(['a', 'b'])).toThrow(/must contain \[UNK\]/)
  })
})

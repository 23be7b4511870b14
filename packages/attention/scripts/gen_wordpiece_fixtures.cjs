#!/usr/bin/env node
/**
 * Golden token ids for test/wordpiece.test.ts from an independent BERT tokenizer: Hugging Face
 * transformers.js (npm @huggingface/transformers 3.8.1, a port of the Rust `tokenizers` library),
 * configured as bert-base-uncased's tokenizer.json (BertNormalizer with lowercase, clean_text and
 * handle_chinese_chars; BertPreTokenizer; WordPiece with "##" and max_input_chars_per_word 100;
 * the [CLS] A [SEP] B [SEP] template with type ids 0/1) on shared/data/text/bert-base-uncased-vocab.txt.
 *
 * Sentences: 80 lines of The Time Machine, 60 English and 40 French sentences of fra-eng.txt
 * (accents), and hand-written cases (punctuation, numbers, CJK, kana, Hangul, emoji, very long
 * words, whitespace and control characters, Greek/Cyrillic/Arabic), plus 30 sentence pairs and
 * 10 padded encodings.
 * NOTE: transformers.js differs from BERT's reference tokenizer on characters the cases avoid:
 * U+2028/U+2029 (it treats them as whitespace; BERT keeps them as word characters), CJK outside the
 * Basic Multilingual Plane (it scans UTF-16 units), and it truncates by cutting the end of the whole
 * encoding; so truncation is tested against the longest-first rule by hand in the test instead.
 *
 * Run (the reference library is not a dependency of the project; install it anywhere offline-capable):
 *   npm install --prefix /tmp/tokref @huggingface/transformers@3.8.1
 *   TRANSFORMERS_DIR=/tmp/tokref node packages/attention/scripts/gen_wordpiece_fixtures.cjs
 */
const fs = require('node:fs')
const path = require('node:path')
const { createRequire } = require('node:module')

const dir = process.env.TRANSFORMERS_DIR ?? '/tmp/tokref'
const { BertTokenizer } = createRequire(path.join(dir, 'package.json'))('@huggingface/transformers')

const repo = path.join(__dirname, '..', '..', '..')
const data = path.join(repo, '..', 'shared', 'data', 'text')
const vocabLines = fs.readFileSync(path.join(data, 'bert-base-uncased-vocab.txt'), 'utf8').split('\n')
vocabLines.pop()
const vocab = Object.fromEntries(vocabLines.map((t, i) => [t, i]))
const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']

const tokenizerJSON = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: special.map((t) => ({
    id: vocab[t],
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: {
    type: 'BertNormalizer',
    clean_text: true,
    handle_chinese_chars: true,
    strip_accents: null,
    lowercase: true,
  },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [
      { SpecialToken: { id: '[CLS]', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '[SEP]', type_id: 0 } },
    ],
    pair: [
      { SpecialToken: { id: '[CLS]', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '[SEP]', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } },
      { SpecialToken: { id: '[SEP]', type_id: 1 } },
    ],
    special_tokens: {
      '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
      '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
    },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab,
  },
}
const tokenizer = new BertTokenizer(tokenizerJSON, {
  do_lower_case: true,
  model_max_length: 512,
  tokenizer_class: 'BertTokenizer',
  cls_token: '[CLS]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  unk_token: '[UNK]',
  mask_token: '[MASK]',
})

const machine = fs
  .readFileSync(path.join(data, 'timemachine.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.length > 20)
const pairs = fs
  .readFileSync(path.join(data, 'fra-eng.txt'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => l.split('\t'))
const every = (xs, n) => Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)])

const handWritten = [
  'Hello, world!',
  "Don't stop-believing... (it's 3:45 p.m.)",
  'e.g. U.S.A. vs. U.K.; a/b\\c',
  'Price: $1,234.56 — 50% off!!!',
  'The year 1984, the number 3.14159 and 2^10 = 1024.',
  'naïve café résumé façade jalapeño Zürich',
  'Ångström, Øresund, Łódź, Ñandú',
  'ÉCOLE ÉLÉMENTAIRE',
  'straße STRASSE',
  'İstanbul and ΣΊΣΥΦΟΣ',
  'Ελληνικά κείμενα εδώ',
  'Привет, как дела?',
  'مرحبا بالعالم',
  '你好，世界！',
  '我爱北京天安门。',
  '日本語のテキストとカタカナ',
  '한국어 문장입니다',
  '混合 mixed 文本 text',
  '東京タワーは333メートル',
  'I ❤️ NY 🗽',
  '😀😃😄 smile',
  'thumbs 👍🏽 up',
  'flags 🇫🇷🇬🇧',
  'emoji in a word: hap😀py',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'pneumonoultramicroscopicsilicovolcanoconiosis',
  'a'.repeat(100),
  'b'.repeat(101),
  `${'x'.repeat(150)} short`,
  'unaffable unbelievably transformers tokenization',
  '   leading and trailing spaces   ',
  'tabs\tand\nnew\r\nlines',
  'multiple     spaces\u00a0nbsp\u3000ideographic space',
  'zero\u200bwidth space and soft\u00adhyphen',
  'control\u0001chars\u0007here\u001b',
  'bell\u0000null',
  'replacement \ufffd char',
  'combining: e\u0301 a\u0308 n\u0303',
  'fullwidth ＡＢＣ １２３',
  'ligature ﬁne ﬂow',
  'math ∑ ∫ √ ≤ ≥ ≠ ∞',
  'currency € £ ¥ ₹ ₿',
  'quotes “double” ‘single’ «guillemets» „low“',
  'dashes – — ‒ and ellipsis …',
  'brackets [x] {y} <z> (w)',
  '#hashtag @mention http://example.com/a?b=c&d=e',
  'email: someone@example.org',
  'C++ and C# and F#',
  'snake_case and camelCase and kebab-case',
  "O'Neil's rock'n'roll",
  'Mr. and Mrs. Smith went to Washington, D.C.',
  '3rd 21st 100th 1st',
  '10:30am 2024-01-15 15/01/2024',
  '+1 (555) 123-4567',
  '¿Qué? ¡Sí!',
  'Ça va? Oui, ça va très bien.',
  "Noël à l'hôtel",
  'über Größe Ärger',
  'Þórr Ægir',
  'ǅemal ǈ ǋ',
  '',
  ' ',
  'a',
  'A.',
  '...',
  '!!!',
  '12345678901234567890',
  'MiXeD CaSe WoRdS',
  'hyphen-ated well-known state-of-the-art',
]

const singles = [
  ...every(machine, 80),
  ...every(
    pairs.map((p) => p[0]),
    60,
  ),
  ...every(
    pairs.map((p) => p[1]),
    40,
  ),
  ...handWritten,
]
const pairCases = every(pairs, 30).map(([en, fr]) => [en, fr])
const cases = []
for (const text of singles) {
  const enc = tokenizer._encode_plus(text, { add_special_tokens: true, return_token_type_ids: true })
  cases.push({ text, ids: enc.input_ids, tokenTypeIds: enc.token_type_ids })
}
for (const [text, pair] of pairCases) {
  const enc = tokenizer._encode_plus(text, { text_pair: pair, add_special_tokens: true, return_token_type_ids: true })
  cases.push({ text, pair, ids: enc.input_ids, tokenTypeIds: enc.token_type_ids })
}
for (const text of every(
  singles.filter((s) => s.length > 0 && s.length < 60),
  10,
)) {
  const r = tokenizer(text, {
    padding: 'max_length',
    max_length: 32,
    truncation: true,
    return_tensor: false,
    return_token_type_ids: true,
  })
  cases.push({
    text,
    maxLength: 32,
    padding: true,
    ids: r.input_ids,
    tokenTypeIds: r.token_type_ids,
    attentionMask: r.attention_mask,
  })
}
const out = path.join(__dirname, '..', 'test', 'fixtures', 'wordpiece.json')
fs.writeFileSync(
  out,
  JSON.stringify({
    reference: '@huggingface/transformers 3.8.1 BertTokenizer (bert-base-uncased configuration)',
    cases,
  }),
)
console.log(`wrote ${cases.length} cases to ${out}`)

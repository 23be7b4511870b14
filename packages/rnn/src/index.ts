/**
 * @refnets/rnn: recurrent layers (RNN, GRU, LSTM and their cells) with PyTorch's parameter names,
 * the text pipeline (tokenizers, Vocab, language-model minibatches, n-gram statistics,
 * perplexity), language models, word2vec, seq2seq with greedy and beam search, and BLEU.
 * `specs` registers every layer and model with the tests and the benchmark harness.
 * Node file loaders (the time machine, English-French pairs) are in `@refnets/rnn/data`.
 */
export * from './layers/index.js'
export * from './text/index.js'
export * from './models/index.js'
export { specs } from './specs.js'
export * from './bleu.js'
export * from './decode.js'
export * from './nmt.js'
export * from './word2vec.js'
export * from './plot.js'

export * from './rnn-lm.js'
export * from './seq2seq.js'

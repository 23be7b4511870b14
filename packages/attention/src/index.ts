/**
 * @refnets/attention: attention pooling (Nadaraya-Watson), scoring functions (masked softmax,
 * additive and scaled dot-product attention), positional encodings, and SVG figures for attention
 * weights. `specs` registers the layers and models with the tests and the benchmark harness.
 */
export * from './layers/index.js'
export * from './pooling/nadaraya-watson.js'
export * from './plot-svg.js'
export { specs } from './specs.js'
export * from './bert/wordpiece.js'
export * from './bert/model.js'
export * from './bert/heads.js'
export * from './bert/pretraining-data.js'
export * from './bert/vocab-subset.js'
export * from './nmt/transformer-seq2seq.js'
export * from './nmt/translate.js'

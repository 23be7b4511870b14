export * from './masked-softmax.js'
export * from './additive-attention.js'
export * from './dot-product-attention.js'
export * from './positional-encoding.js'

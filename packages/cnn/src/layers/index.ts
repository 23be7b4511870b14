export * from './conv.js'
export * from './pool.js'
export * from './norm.js'
export * from './dropout.js'

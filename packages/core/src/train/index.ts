/** Training: fit / evaluate / predict, callbacks, History, self-training. */
export * from './fit.js'
export * from './callbacks.js'
export * from './history.js'
export * from './progress.js'
export * from './metric-specs.js'
export * from './self-training.js'
export * from './types.js'

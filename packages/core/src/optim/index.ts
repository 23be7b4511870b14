/** Optimisers, learning-rate schedules and gradient clipping (PyTorch semantics). */
export * from './optimizer.js'
export * from './sgd.js'
export * from './adagrad.js'
export * from './rmsprop.js'
export * from './adam.js'
export * from './scheduler.js'
export * from './plateau.js'
export * from './clip.js'

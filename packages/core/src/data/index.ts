/** Data: datasets, loaders, splits, preprocessing and PCA. Browser-safe; file loaders are in `./node.js`. */
export * from './dataset.js'
export * from './dataloader.js'
export * from './split.js'
export * from './preprocess.js'
export * from './pca.js'
export * from './idx.js'
export { symmetricEig, svd, eigh, svdTensor, type Eigh, type Svd } from './linalg.js'

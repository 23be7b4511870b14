/** Metrics: classification scores, ROC/AUC and the bias/variance diagnosis. */
export * from './classification.js'
export * from './roc.js'
export * from './diagnosis.js'

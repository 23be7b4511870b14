/** Classic models: logistic and softmax regression, linear SVM, MLP, k-nearest neighbours. */
export * from './classifier.js'
export * from './losses.js'
export * from './logistic-regression.js'
export * from './softmax-regression.js'
export * from './linear-svm.js'
export * from './mlp.js'
export * from './knn.js'

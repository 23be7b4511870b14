/**
 * @refnets/cnn: convolutional layers (Conv2d, pooling, BatchNorm2d, LRN, Dropout2d, DropBlock),
 * shape/parameter/FLOP helpers, and LeNet, AlexNet, VGG, NiN, GoogLeNet, ResNet and FCN with
 * torchvision's parameter names. `specs` registers every layer and architecture with the tests and
 * the benchmark harness; `imageSpec` builds such an entry for an image model. Image files
 * (PNG/JPEG, Node only) are in `@refnets/cnn/image`.
 */
export * from './layers/index.js'
export * from './models/index.js'
export * from './shapes.js'
export * from './segmentation-metrics.js'
export { specs } from './specs.js'
export { imageSpec } from './spec-helpers.js'
export * from './augment/index.js'
export * from './transfer.js'
export * from './style.js'
export { fuseConvBn } from './fuse.js'

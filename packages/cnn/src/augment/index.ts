/**
 * Data augmentation for images: CHW images or NCHW batches of float32/float64 pixels, usually in
 * [0, 1]. Every random transform takes a `Generator` (core's seedable PRNG; the default generator
 * when left out), so the same seed gives the same images. Random choices are drawn per image of a
 * batch, except where the method's reference code shares them (cutmix shares one box).
 *
 * Augmentation enlarges the training set with label-preserving changes the model should not care
 * about (https://d2l.ai/chapter_computer-vision/image-augmentation.html), one file per kind:
 * - geometric.ts: horizontal flip (mirroring), random crop with padding (ResNet on CIFAR), random
 *   resized crop (GoogLeNet/Inception, torchvision's RandomResizedCrop), bilinear resize;
 * - photometric.ts: normalisation, brightness/contrast/saturation/hue jitter, AlexNet's PCA
 *   lighting ("fancy PCA"), which moves colours along the principal axes of the RGB distribution;
 * - mixing.ts: cutout (DeVries & Taylor 2017), mixup (Zhang et al. 2018), cutmix (Yun et al. 2019)
 *   with mixed soft labels, and YOLOv4's mosaic of four images with their boxes;
 * - shared.ts: the image view and checks they share, and `compose`.
 *
 * Transforms work on the pixel arrays directly and return new tensors (outside autograd: they are
 * preprocessing, not part of the model). Deterministic building blocks (`hflip`, `resize`,
 * `adjustHue`, ...) are exported too.
 */
export { type RandomOptions, type Size2, compose } from './shared.js'
export * from './geometric.js'
export * from './photometric.js'
export * from './mixing.js'

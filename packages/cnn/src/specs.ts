/**
 * The registry of @refnets/cnn: every layer and architecture as a ModelSpec. The registry-driven
 * test (test/specs.test.ts) and the benchmark harness iterate over `specs`. A model file may export
 * its own `<family>Specs` array (see src/models/densenet.ts and CONTRIBUTING.md); this file collects
 * every such export, so a new architecture needs no edit here to get its shape, gradient and ONNX
 * parity checks and its benchmark.
 *
 * Sizes: `small` keeps unit tests quick (batch 1-2, about the smallest input an architecture
 * accepts: 28x28 for LeNet, 32x32 for VGG, 64x64 for AlexNet, GoogLeNet (batch 2), ResNet and FCN,
 * 96x96 for NiN; the whole registry test runs in about 2.5 minutes on two cores);
 * `bench` is the size the papers use (224x224, batch 1; LeNet 28x28 batch 64; FCN 320x480 as d2l).
 * `build` returns the module in training mode (as PyTorch does); call `.eval()` for inference.
 */
import type { ModelSpec } from '@refnets/core'
import { Conv2d, ConvTranspose2d } from './layers/conv.js'
import { DropBlock, Dropout2d } from './layers/dropout.js'
import { BatchNorm2d, LocalResponseNorm } from './layers/norm.js'
import { AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d } from './layers/pool.js'
import { alexnet } from './models/alexnet.js'
import { fcnResnet18 } from './models/fcn.js'
import { googlenet } from './models/googlenet.js'
import { lenet5, lenet5Modern } from './models/lenet.js'
import { nin } from './models/nin.js'
import { resnet18, resnet34, resnet50, resnet101, resnet152 } from './models/resnet.js'
import * as models from './models/index.js'
import { vgg11, vgg11Bn, vgg13, vgg13Bn, vgg16, vgg16Bn, vgg19, vgg19Bn } from './models/vgg.js'
import { type Shapes, imageSpec as spec, imagenet, img, logits, measured } from './spec-helpers.js'

// ---- single layers: (B, 16, H, W) inputs -------------------------------------------------------

const LAYER = 'layer'
const lin = (c: number, h: number, w = h, b = 2): number[] => [b, c, h, w]
/** small: (2, 16, 12, 12); bench: (8, 16, 112, 112). */
const layerIn: Shapes = { small: lin(16, 12), bench: lin(16, 112, 112, 8) }
/** The output shape for the small and bench inputs from the per-size spatial map `f`. */
const layerOut = (c: number, f: (n: number) => number): Shapes => ({
  small: lin(c, f(12)),
  bench: lin(c, f(112), f(112), 8),
})
const same: Shapes = layerIn

const layerSpecs: ModelSpec[] = [
  spec(
    'conv2d',
    LAYER,
    'LeCun et al. 1989',
    () => new Conv2d(16, 32, 3, { padding: 1 }),
    layerIn,
    layerOut(32, (n) => n),
    { tolerance: measured(3.3e-7) },
  ),
  spec(
    'conv2d-valid-stride2',
    LAYER,
    'valid: floor((n - f) / s) + 1, https://d2l.ai/chapter_convolutional-neural-networks/padding-and-strides.html',
    () => new Conv2d(16, 32, 3, { stride: 2, padding: 'valid' }),
    layerIn,
    layerOut(32, (n) => Math.floor((n - 3) / 2) + 1),
    { tolerance: measured(3.3e-7) },
  ),
  spec(
    'conv2d-same-stride2',
    LAYER,
    'same: ceil(n / s), ONNX Conv auto_pad SAME_UPPER',
    () => new Conv2d(16, 32, 4, { stride: 2, padding: 'same' }),
    layerIn,
    layerOut(32, (n) => Math.ceil(n / 2)),
    { tolerance: measured(3.79e-7) },
  ),
  spec(
    'conv2d-pads-per-side',
    LAYER,
    'explicit [top, left, bottom, right] padding',
    () => new Conv2d(16, 8, 3, { padding: [1, 2, 0, 1] }),
    layerIn,
    { small: [2, 8, 11, 13], bench: [8, 8, 111, 113] },
    { tolerance: measured(3.79e-7) },
  ),
  spec(
    'conv2d-dilated',
    LAYER,
    'Yu & Koltun 2016',
    () => new Conv2d(16, 16, 3, { padding: 2, dilation: 2 }),
    layerIn,
    same,
    { tolerance: measured(3.23e-7) },
  ),
  spec(
    'conv2d-grouped',
    LAYER,
    'Krizhevsky et al. 2012 (two GPU groups)',
    () => new Conv2d(16, 32, 3, { padding: 1, groups: 4 }),
    layerIn,
    layerOut(32, (n) => n),
    { tolerance: measured(1.83e-7) },
  ),
  spec(
    'conv2d-depthwise',
    LAYER,
    'Howard et al. 2017 (MobileNet)',
    () => new Conv2d(16, 16, 3, { padding: 1, groups: 16, bias: false }),
    layerIn,
    same,
    { tolerance: measured(0.0) },
  ),
  spec(
    'conv2d-1x1',
    LAYER,
    'Lin et al. 2013 (NiN)',
    () => new Conv2d(16, 4, 1),
    layerIn,
    layerOut(4, (n) => n),
    { tolerance: measured(1.17e-7) },
  ),
  spec(
    'conv-transpose2d',
    LAYER,
    'Zeiler et al. 2010; Long et al. 2015',
    () => new ConvTranspose2d(16, 8, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    layerIn,
    layerOut(8, (n) => 2 * n),
    { tolerance: measured(9.97e-8) },
  ),
  spec(
    'max-pool2d',
    LAYER,
    'https://d2l.ai/chapter_convolutional-neural-networks/pooling.html',
    () => new MaxPool2d(3, { stride: 2, padding: 1 }),
    layerIn,
    layerOut(16, (n) => Math.floor((n - 1) / 2) + 1),
    { tolerance: measured(0.0) },
  ),
  spec(
    'max-pool2d-ceil',
    LAYER,
    'Szegedy et al. 2015 (GoogLeNet pools)',
    () => new MaxPool2d(3, { stride: 2, ceilMode: true }),
    { small: lin(16, 12), bench: lin(16, 112, 112, 8) },
    layerOut(16, (n) => Math.ceil((n - 3) / 2) + 1),
    { tolerance: measured(0.0) },
  ),
  spec(
    'avg-pool2d',
    LAYER,
    'LeCun et al. 1998',
    () => new AvgPool2d(2),
    layerIn,
    layerOut(16, (n) => n / 2),
    { tolerance: measured(6.74e-8) },
  ),
  spec(
    'avg-pool2d-ceil-exclude-pad',
    LAYER,
    'PyTorch count_include_pad=False',
    () => new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    layerIn,
    layerOut(16, (n) => Math.ceil((n - 1) / 2) + 1),
    { tolerance: measured(4.5e-8) },
  ),
  spec(
    'adaptive-avg-pool2d',
    LAYER,
    'He et al. 2014 (SPP)',
    () => new AdaptiveAvgPool2d([6, 4]),
    layerIn,
    { small: [2, 16, 6, 4], bench: [8, 16, 6, 4] },
    { tolerance: measured(7.62e-8) },
  ),
  spec(
    'global-avg-pool2d',
    LAYER,
    'Lin et al. 2013 (NiN)',
    () => new GlobalAvgPool2d(),
    layerIn,
    layerOut(16, () => 1),
    // NOTE: 0 at the small size; at the bench size (planes of 112 x 112) the means of zero-mean planes are about
    // a hundredth of the inputs, so float32 rounding of the sums is 2.2e-6 of the largest output (pnpm bench).
    { tolerance: measured(2.24e-6) },
  ),
  spec('batch-norm2d', LAYER, 'Ioffe & Szegedy 2015', () => new BatchNorm2d(16), layerIn, same, {
    tolerance: measured(1.33e-7),
  }),
  spec(
    'local-response-norm',
    LAYER,
    'Krizhevsky et al. 2012',
    () => new LocalResponseNorm(5, { alpha: 5e-4, beta: 0.75, k: 2 }),
    layerIn,
    same,
    { tolerance: measured(2.31e-7) },
  ),
  spec('dropout2d', LAYER, 'Tompson et al. 2015', () => new Dropout2d(0.2), layerIn, same, {
    tolerance: measured(0.0),
  }),
  spec(
    'drop-block',
    LAYER,
    'Ghiasi, Lin & Le 2018',
    () => new DropBlock({ blockSize: 3, dropRate: 0.1 }),
    layerIn,
    same,
    { tolerance: measured(0.0) },
  ),
]

// ---- architectures --------------------------------------------------------------------------

const LENET = 'LeCun et al. 1998, Gradient-based learning applied to document recognition'
const VGG = 'Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition'
const RESNET = 'He et al. 2016, Deep residual learning for image recognition'
const vggIn: Shapes = { small: img(3, 32), bench: img(3, 224) }

const modelSpecs: ModelSpec[] = [
  spec(
    'lenet5',
    'lenet',
    LENET,
    () => lenet5(),
    { small: img(1, 28, 28, 2), bench: img(1, 28, 28, 64) },
    logits(10, 2, 64),
    { tolerance: measured(1.28e-7) },
  ),
  spec(
    'lenet5-modern',
    'lenet',
    LENET,
    () => lenet5Modern(),
    { small: img(1, 28, 28, 2), bench: img(1, 28, 28, 64) },
    logits(10, 2, 64),
    { tolerance: measured(1.57e-7) },
  ),
  spec(
    'alexnet',
    'alexnet',
    'Krizhevsky et al. 2012, ImageNet classification with deep convolutional neural networks',
    () => alexnet(),
    imagenet,
    logits(1000),
    { tolerance: measured(3.7e-7) },
  ),
  spec(
    'alexnet-lrn',
    'alexnet',
    'Krizhevsky et al. 2012 (with local response normalisation)',
    () => alexnet({ lrn: true }),
    imagenet,
    logits(1000),
    { tolerance: measured(2.97e-7) },
  ),
  // NOTE: every VGG carries the same 120M-parameter classifier (~10 s to initialise and ~10 s to
  // export and load in ONNX Runtime on two cores), so the eight VGG entries are the slowest of the
  // registry test; they stay, since each is a different graph.
  // [name, builder, measured max abs error / max |reference|]
  ...(
    [
      ['vgg11', vgg11, 1.03e-6],
      ['vgg13', vgg13, 1.09e-6],
      ['vgg16', vgg16, 1.24e-6],
      ['vgg19', vgg19, 1.63e-6],
      ['vgg11-bn', vgg11Bn, 2.08e-6],
      ['vgg13-bn', vgg13Bn, 2.67e-6],
      ['vgg16-bn', vgg16Bn, 6.14e-6],
      ['vgg19-bn', vgg19Bn, 7.42e-6],
    ] as const
  ).map(([name, make, err]) => spec(name, 'vgg', VGG, () => make(), vggIn, logits(1000), { tolerance: measured(err) })),
  spec(
    'nin',
    'nin',
    'Lin, Chen & Yan 2013, Network in network',
    () => nin(),
    { small: img(1, 96), bench: img(1, 224) },
    logits(10),
    { tolerance: measured(2.17e-8) },
  ),
  // NOTE: batch 2 at 64x64: inception5's maps are 2x2 there, its 3x3 max-pool branch makes each
  // plane constant, and batch norm over one constant plane per channel passes no gradient back.
  spec(
    'googlenet',
    'googlenet',
    'Szegedy et al. 2015, Going deeper with convolutions',
    () => googlenet(),
    { small: img(3, 64, 64, 2), bench: img(3, 224) },
    logits(1000, 2),
    { tolerance: measured(1.75e-5) },
  ),
  spec('resnet18', 'resnet', RESNET, () => resnet18(), imagenet, logits(1000), { tolerance: measured(2.55e-6) }),
  spec('resnet34', 'resnet', RESNET, () => resnet34(), imagenet, logits(1000), { tolerance: measured(5.39e-6) }),
  spec('resnet50', 'resnet', RESNET, () => resnet50(), imagenet, logits(1000), { tolerance: measured(3.42e-5) }),
  spec('resnet101', 'resnet', RESNET, () => resnet101(), imagenet, logits(1000), { tolerance: measured(1.49e-4) }),
  spec('resnet152', 'resnet', RESNET, () => resnet152(), imagenet, logits(1000), { tolerance: measured(3.48e-4) }),
  spec(
    'fcn-resnet18',
    'fcn',
    'Long, Shelhamer & Darrell 2015, Fully convolutional networks for semantic segmentation',
    () => fcnResnet18(),
    { small: img(3, 64), bench: img(3, 320, 480) },
    { small: img(21, 64), bench: img(21, 320, 480) },
    { tolerance: measured(2.88e-6) },
  ),
]

/**
 * Every `<family>Specs` array a model file exports (src/models/*.ts, re-exported by
 * src/models/index.ts): a new architecture registers itself by exporting one, with no edit here.
 */
const modelFileSpecs: ModelSpec[] = Object.entries(models)
  .filter(([name]) => name.endsWith('Specs'))
  .flatMap(([, list]) => list as ModelSpec[])

export const specs: ModelSpec[] = [...layerSpecs, ...modelSpecs, ...modelFileSpecs]

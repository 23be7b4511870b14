/**
 * The registry of @refnets/cnn: every layer and architecture as a ModelSpec. The registry-driven
 * test (test/specs.test.ts) and the benchmark harness iterate over `specs`; adding an entry here is
 * all a new model needs to get its shape, gradient and ONNX parity checks and its benchmark.
 *
 * Sizes: `small` keeps unit tests quick (batch 1-2, about the smallest input an architecture
 * accepts: 28x28 for LeNet, 32x32 for VGG, 64x64 for AlexNet, GoogLeNet (batch 2), ResNet and FCN,
 * 96x96 for NiN; the whole registry test runs in about 2.5 minutes on two cores);
 * `bench` is the size the papers use (224x224, batch 1; LeNet 28x28 batch 64; FCN 320x480 as d2l).
 * `build` returns the module in training mode (as PyTorch does); call `.eval()` for inference.
 */
import { Generator, type Module, type ModelSpec, type SpecSize, type Tensor, manualSeed, nn, randn } from '@refnets/core'
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
import { vgg11, vgg11Bn, vgg13, vgg13Bn, vgg16, vgg16Bn, vgg19, vgg19Bn } from './models/vgg.js'

type Shapes = Record<SpecSize, number[]>

/** A spec with one seeded N(0, 1) image input; `output` gives the expected output shape per size. */
function spec(
  name: string, family: string, paper: string, make: () => Module<any, any>, input: Shapes, output: Shapes,
  extra: Partial<Pick<ModelSpec, 'tolerance' | 'trainable'>> = {},
): ModelSpec {
  return {
    name, family, paper,
    build: (seed) => {
      manualSeed(seed)
      const m = make()
      // Batch norm with realistic statistics: a fresh model's running mean 0 / variance 1 let the
      // activations of a deep ResNet grow to 1e4 in eval mode, where a float32 parity check says
      // little. Estimate them from four N(0, 1) images at the small size, as after training.
      if ([...m.namedModules()].some(([, x]) => x instanceof nn.BatchNorm))
        nn.updateBatchNorm(m, [[randn([4, ...input.small.slice(1)], { generator: new Generator(seed + 1000) })]])
      return m
    },
    inputs: (size, seed): Tensor[] => [randn(input[size], { generator: new Generator(seed) })],
    outputShape: (size) => output[size],
    ...extra,
  }
}

// ---- single layers: (B, 16, H, W) inputs -------------------------------------------------------

const LAYER = 'layer'
const layerTol = { atol: 1e-5, rtol: 1e-4 }
const lin = (c: number, h: number, w = h, b = 2): number[] => [b, c, h, w]
/** small: (2, 16, 12, 12); bench: (8, 16, 112, 112). */
const layerIn: Shapes = { small: lin(16, 12), bench: lin(16, 112, 112, 8) }
/** The output shape for the small and bench inputs from the per-size spatial map `f`. */
const layerOut = (c: number, f: (n: number) => number): Shapes => ({ small: lin(c, f(12)), bench: lin(c, f(112), f(112), 8) })
const same: Shapes = layerIn

const layerSpecs: ModelSpec[] = [
  spec('conv2d', LAYER, 'LeCun et al. 1989', () => new Conv2d(16, 32, 3, { padding: 1 }), layerIn, layerOut(32, (n) => n), { tolerance: layerTol }),
  spec('conv2d-valid-stride2', LAYER, 'notes 001: valid, floor((n - f) / s) + 1', () => new Conv2d(16, 32, 3, { stride: 2, padding: 'valid' }), layerIn, layerOut(32, (n) => Math.floor((n - 3) / 2) + 1), { tolerance: layerTol }),
  spec('conv2d-same-stride2', LAYER, 'notes 001: same, ceil(n / s)', () => new Conv2d(16, 32, 4, { stride: 2, padding: 'same' }), layerIn, layerOut(32, (n) => Math.ceil(n / 2)), { tolerance: layerTol }),
  spec('conv2d-pads-per-side', LAYER, 'explicit [top, left, bottom, right] padding', () => new Conv2d(16, 8, 3, { padding: [1, 2, 0, 1] }), layerIn, { small: [2, 8, 11, 13], bench: [8, 8, 111, 113] }, { tolerance: layerTol }),
  spec('conv2d-dilated', LAYER, 'Yu & Koltun 2016', () => new Conv2d(16, 16, 3, { padding: 2, dilation: 2 }), layerIn, same, { tolerance: layerTol }),
  spec('conv2d-grouped', LAYER, 'Krizhevsky et al. 2012 (two GPU groups)', () => new Conv2d(16, 32, 3, { padding: 1, groups: 4 }), layerIn, layerOut(32, (n) => n), { tolerance: layerTol }),
  spec('conv2d-depthwise', LAYER, 'Howard et al. 2017 (MobileNet)', () => new Conv2d(16, 16, 3, { padding: 1, groups: 16, bias: false }), layerIn, same, { tolerance: layerTol }),
  spec('conv2d-1x1', LAYER, 'Lin et al. 2013 (NiN)', () => new Conv2d(16, 4, 1), layerIn, layerOut(4, (n) => n), { tolerance: layerTol }),
  spec('conv-transpose2d', LAYER, 'Zeiler et al. 2010; Long et al. 2015', () => new ConvTranspose2d(16, 8, 3, { stride: 2, padding: 1, outputPadding: 1 }), layerIn, layerOut(8, (n) => 2 * n), { tolerance: layerTol }),
  spec('max-pool2d', LAYER, 'notes 004', () => new MaxPool2d(3, { stride: 2, padding: 1 }), layerIn, layerOut(16, (n) => Math.floor((n - 1) / 2) + 1), { tolerance: layerTol }),
  spec('max-pool2d-ceil', LAYER, 'Szegedy et al. 2015 (GoogLeNet pools)', () => new MaxPool2d(3, { stride: 2, ceilMode: true }), { small: lin(16, 12), bench: lin(16, 112, 112, 8) }, layerOut(16, (n) => Math.ceil((n - 3) / 2) + 1), { tolerance: layerTol }),
  spec('avg-pool2d', LAYER, 'LeCun et al. 1998', () => new AvgPool2d(2), layerIn, layerOut(16, (n) => n / 2), { tolerance: layerTol }),
  spec('avg-pool2d-ceil-exclude-pad', LAYER, 'PyTorch count_include_pad=False', () => new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), layerIn, layerOut(16, (n) => Math.ceil((n - 1) / 2) + 1), { tolerance: layerTol }),
  spec('adaptive-avg-pool2d', LAYER, 'He et al. 2014 (SPP)', () => new AdaptiveAvgPool2d([6, 4]), layerIn, { small: [2, 16, 6, 4], bench: [8, 16, 6, 4] }, { tolerance: layerTol }),
  spec('global-avg-pool2d', LAYER, 'Lin et al. 2013 (NiN)', () => new GlobalAvgPool2d(), layerIn, layerOut(16, () => 1), { tolerance: layerTol }),
  spec('batch-norm2d', LAYER, 'Ioffe & Szegedy 2015', () => new BatchNorm2d(16), layerIn, same, { tolerance: layerTol }),
  spec('local-response-norm', LAYER, 'Krizhevsky et al. 2012', () => new LocalResponseNorm(5, { alpha: 5e-4, beta: 0.75, k: 2 }), layerIn, same, { tolerance: layerTol }),
  spec('dropout2d', LAYER, 'Tompson et al. 2015', () => new Dropout2d(0.2), layerIn, same, { tolerance: layerTol }),
  spec('drop-block', LAYER, 'Ghiasi, Lin & Le 2018', () => new DropBlock({ blockSize: 3, dropRate: 0.1 }), layerIn, same, { tolerance: layerTol }),
]

// ---- architectures --------------------------------------------------------------------------

const img = (c: number, h: number, w = h, b = 1): number[] => [b, c, h, w]
const modelTol = { atol: 1e-4, rtol: 1e-3 }
/**
 * Deep batch-normalised networks (GoogLeNet's 57 convolutions, ResNet-18 to -152, FCN) with random
 * weights: float32 rounding, summed in a different order by each engine, grows through 20 to 150
 * layers, and each batch norm divides by a variance estimated from a few images, so outputs of
 * magnitude 1-10 differ by up to a few 1e-3 between any two correct float32 implementations. A
 * wrong layer differs by O(1). (Against PyTorch at 224x224 with deterministic weights, ResNet-50's
 * logits agree to 2e-6: test/torchvision.test.ts.)
 */
const deepTol = { atol: 5e-3, rtol: 5e-3 }
const logits = (classes: number, smallBatch = 1, benchBatch = 1): Shapes => ({ small: [smallBatch, classes], bench: [benchBatch, classes] })
const imagenet: Shapes = { small: img(3, 64), bench: img(3, 224) }

const LENET = 'LeCun et al. 1998, Gradient-based learning applied to document recognition'
const VGG = 'Simonyan & Zisserman 2014, Very deep convolutional networks for large-scale image recognition'
const RESNET = 'He et al. 2016, Deep residual learning for image recognition'
const vggIn: Shapes = { small: img(3, 32), bench: img(3, 224) }

const modelSpecs: ModelSpec[] = [
  spec('lenet5', 'lenet', LENET, () => lenet5(), { small: img(1, 28, 28, 2), bench: img(1, 28, 28, 64) }, logits(10, 2, 64), { tolerance: modelTol }),
  spec('lenet5-modern', 'lenet', LENET, () => lenet5Modern(), { small: img(1, 28, 28, 2), bench: img(1, 28, 28, 64) }, logits(10, 2, 64), { tolerance: modelTol }),
  spec('alexnet', 'alexnet', 'Krizhevsky et al. 2012, ImageNet classification with deep convolutional neural networks', () => alexnet(), imagenet, logits(1000), { tolerance: modelTol }),
  spec('alexnet-lrn', 'alexnet', 'Krizhevsky et al. 2012 (with local response normalisation)', () => alexnet({ lrn: true }), imagenet, logits(1000), { tolerance: modelTol }),
  // NOTE: every VGG carries the same 120M-parameter classifier (~10 s to initialise and ~10 s to
  // export and load in ONNX Runtime on two cores), so the eight VGG entries are the slowest of the
  // registry test; they stay, since each is a different graph.
  ...([['vgg11', vgg11], ['vgg13', vgg13], ['vgg16', vgg16], ['vgg19', vgg19], ['vgg11-bn', vgg11Bn], ['vgg13-bn', vgg13Bn], ['vgg16-bn', vgg16Bn], ['vgg19-bn', vgg19Bn]] as const).map(([name, make]) =>
    spec(name, 'vgg', VGG, () => make(), vggIn, logits(1000), { tolerance: modelTol })),
  spec('nin', 'nin', 'Lin, Chen & Yan 2013, Network in network', () => nin(), { small: img(1, 96), bench: img(1, 224) }, logits(10), { tolerance: modelTol }),
  // NOTE: batch 2 at 64x64: inception5's maps are 2x2 there, its 3x3 max-pool branch makes each
  // plane constant, and batch norm over one constant plane per channel passes no gradient back.
  spec('googlenet', 'googlenet', 'Szegedy et al. 2015, Going deeper with convolutions', () => googlenet(),
    { small: img(3, 64, 64, 2), bench: img(3, 224) }, logits(1000, 2), { tolerance: deepTol }),
  spec('resnet18', 'resnet', RESNET, () => resnet18(), imagenet, logits(1000), { tolerance: deepTol }),
  spec('resnet34', 'resnet', RESNET, () => resnet34(), imagenet, logits(1000), { tolerance: deepTol }),
  spec('resnet50', 'resnet', RESNET, () => resnet50(), imagenet, logits(1000), { tolerance: deepTol }),
  spec('resnet101', 'resnet', RESNET, () => resnet101(), imagenet, logits(1000), { tolerance: deepTol }),
  spec('resnet152', 'resnet', RESNET, () => resnet152(), imagenet, logits(1000), { tolerance: deepTol }),
  spec('fcn-resnet18', 'fcn', 'Long, Shelhamer & Darrell 2015, Fully convolutional networks for semantic segmentation', () => fcnResnet18(),
    { small: img(3, 64), bench: img(3, 320, 480) }, { small: img(21, 64), bench: img(21, 320, 480) }, { tolerance: deepTol }),
]

export const specs: ModelSpec[] = [...layerSpecs, ...modelSpecs]

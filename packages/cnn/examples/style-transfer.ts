/**
 * Neural style transfer (Gatys et al. 2016; d2l 14.12) at 64x64 on the plain-JS backend: the pixels
 * of the image are what Adam optimises; VGG-19's convolutional layers, frozen, measure content
 * (conv4_2 activations) and style (Gram matrices at conv1_1 ... conv5_1).
 *
 * Run from packages/cnn:
 *
 *   pnpm run example:style                                   (synthetic content and style images)
 *   pnpm run example:style -- --content photo.jpg --style painting.png --out result.png
 *
 * Options (flags or environment): --steps / STEPS (default 40), --size / SIZE (default 64), --lr
 * (default 0.02), --style-weight and --tv-weight (loss weights; the content weight is 1),
 * --weights / VGG_WEIGHTS: a safetensors file with torchvision's VGG-19 `features.*` weights. Without
 * weights the VGG is randomly initialised: random convolutional features still carry texture
 * statistics, so the result takes on the style's colours and stripes, but pretrained weights give
 * the real effect. To make the file (on a machine with torchvision and its weights):
 *
 *   python3 -c "import torchvision, safetensors.torch as st; m = torchvision.models.vgg19(weights='DEFAULT');
 *     st.save_file({k: v.contiguous() for k, v in m.state_dict().items() if k.startswith('features.')}, 'vgg19-features.safetensors')"
 *
 * Writes content | style | result side by side as a PNG (default: style-transfer.png in the system
 * temporary folder).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Tensor, concat, manualSeed, tensor } from '@refnets/core'
import { loadSafetensorsFile } from '@refnets/core/io/node'
import { resize } from '../src/augment/index.js'
import { decodeImage, encodePng } from '../src/image.js'
import { VGG19_CONTENT_LAYERS, VGG19_STYLE_LAYERS, styleTransfer, vggFeatures } from '../src/style.js'

const { values: args } = parseArgs({
  options: {
    content: { type: 'string' },
    style: { type: 'string' },
    out: { type: 'string' },
    steps: { type: 'string' },
    size: { type: 'string' },
    weights: { type: 'string' },
    'style-weight': { type: 'string' },
    'tv-weight': { type: 'string' },
    lr: { type: 'string' },
  },
})
const STEPS = Number(args.steps ?? process.env.STEPS ?? 40)
const SIZE = Number(args.size ?? process.env.SIZE ?? 64)
const WEIGHTS = args.weights ?? process.env.VGG_WEIGHTS
const OUT = args.out ?? join(tmpdir(), 'style-transfer.png')

/** An image (1, 3, S, S) from `fn(channel, y, x)` in [0, 1], with y and x in [0, 1). */
function paint(fn: (c: number, y: number, x: number) => number): Tensor {
  const px = new Float32Array(3 * SIZE * SIZE)
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < SIZE; i++)
      for (let j = 0; j < SIZE; j++) px[(c * SIZE + i) * SIZE + j] = fn(c, i / SIZE, j / SIZE)
  return tensor(px, { shape: [1, 3, SIZE, SIZE] })
}

/** A little landscape: sky gradient, a sun, green hills. */
const syntheticContent = () =>
  paint((c, y, x) => {
    const hill = 0.62 + 0.08 * Math.sin(6 * x)
    if ((x - 0.72) ** 2 + (y - 0.25) ** 2 < 0.012) return [1, 0.85, 0.2][c]!
    if (y > hill) return [0.15, 0.55 - 0.3 * (y - hill), 0.2][c]!
    return [0.35 + 0.4 * y, 0.6 + 0.3 * y, 0.95][c]!
  })

/** A bold "painting": diagonal bands of orange, deep blue and cream with a wavy distortion. */
const syntheticStyle = () =>
  paint((c, y, x) => {
    const band = Math.floor(8 * (x + y + 0.06 * Math.sin(25 * y))) % 3
    return [
      [0.95, 0.5, 0.1],
      [0.1, 0.15, 0.55],
      [0.97, 0.93, 0.8],
    ][band]![c]!
  })

function loadImage(path: string): Tensor {
  const t = decodeImage(readFileSync(path)) // (3, H, W)
  return resize(t, [SIZE, SIZE]).reshape(1, 3, SIZE, SIZE)
}

function main(): void {
  const t0 = Date.now()
  manualSeed(0)
  const content = args.content ? loadImage(args.content) : syntheticContent()
  const style = args.style ? loadImage(args.style) : syntheticStyle()
  const net = vggFeatures() // VGG-19: 16 convs, torchvision's features.0 ... features.36
  if (WEIGHTS) {
    const sd = Object.fromEntries(
      Object.entries(loadSafetensorsFile(WEIGHTS))
        .filter(([k]) => k.startsWith('features.'))
        .map(([k, v]) => [k.slice('features.'.length), v]),
    )
    net.loadStateDict(sd)
    console.log(`loaded VGG-19 features from ${WEIGHTS}`)
  } else console.log('VGG-19 features randomly initialised (pass --weights for pretrained ones)')
  console.log(
    `style transfer at ${SIZE}x${SIZE}: ${STEPS} Adam steps, content layer ${VGG19_CONTENT_LAYERS.join(', ')}, style layers ${VGG19_STYLE_LAYERS.join(', ')}`,
  )

  const { image, history } = styleTransfer({
    net,
    content,
    style,
    steps: STEPS,
    lr: Number(args.lr ?? 0.02),
    // Gram matrices of random features are much smaller than of pretrained ones (about 1e-6 here),
    // so the style weight is raised to let style dominate; d2l's 1e4 and 10 suit pretrained VGG.
    styleWeight: Number(args['style-weight'] ?? (WEIGHTS ? 1e4 : 1e6)),
    tvWeight: Number(args['tv-weight'] ?? (WEIGHTS ? 10 : 1)),
    onStep: (k, l) => {
      if (k === 1 || k % 5 === 0 || k === STEPS)
        console.log(
          `  step ${String(k).padStart(3)}: total ${l.total.toExponential(3)}  content ${l.content.toExponential(3)}  style ${l.style.toExponential(3)}  tv ${l.tv.toFixed(4)}  (${((Date.now() - t0) / 1000).toFixed(0)}s)`,
        )
    },
  })
  const first = history[0]!
  const last = history[history.length - 1]!
  console.log(
    `total loss ${first.total.toExponential(3)} -> ${last.total.toExponential(3)}; style ${first.style.toExponential(3)} -> ${last.style.toExponential(3)}`,
  )

  // content | style | result, side by side: (3, S, 3S)
  const strip = concat([content, style, image], 3).reshape(3, SIZE, 3 * SIZE)
  writeFileSync(OUT, encodePng(strip))
  console.log(`wrote ${OUT} (content | style | result), ${((Date.now() - t0) / 1000).toFixed(1)}s in all`)
  if (!(last.total < first.total)) process.exitCode = 1
}

main()

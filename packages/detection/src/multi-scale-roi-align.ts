/**
 * RoI align over a feature pyramid (Lin et al. 2017, "Feature Pyramid Networks",
 * https://arxiv.org/abs/1612.03144, eq. 1; torchvision.ops.MultiScaleRoIAlign): a box of size
 * sqrt(wh) is pooled from level k = floor(k0 + log2(sqrt(wh) / 224)), clamped to the pyramid, so
 * small boxes read fine maps and large boxes coarse ones. The results come back in box order.
 */
import { ArgumentError, type Tensor, concat, gather, tensor, zeros } from '@refnets/core'
import { type RoiAlignOptions, roiAlign } from './roi.js'

export interface MultiScaleRoiAlignOptions extends Omit<RoiAlignOptions, 'spatialScale'> {
  /** Canonical box size and its level (FPN: 224 at level 4). */
  canonicalSize?: number
  canonicalLevel?: number
}

/**
 * The pyramid level (index into `scales`) of each (K, 5) box; scales are the feature maps' scales
 * relative to the image (1/4, 1/8, ...), finest first, each a power of two.
 */
export function assignLevels(rois: Tensor, scales: number[], canonicalSize = 224, canonicalLevel = 4): number[] {
  const lv = scales.map((s) => -Math.log2(s))
  if (lv.some((l) => !Number.isInteger(l)))
    throw new ArgumentError(`multiScaleRoiAlign: scales must be powers of two (1/4, 1/8, ...), got ${scales}`)
  const [kMin, kMax] = [lv[0]!, lv[lv.length - 1]!]
  const d = rois.data
  return Array.from({ length: rois.shape[0]! }, (_, r) => {
    const size = Math.sqrt((d[5 * r + 3]! - d[5 * r + 1]!) * (d[5 * r + 4]! - d[5 * r + 2]!))
    // NOTE: +1e-6 before the floor, as torchvision's LevelMapper, so a box of exactly 224 * 2^j maps to level 4 + j.
    const k = Math.floor(canonicalLevel + Math.log2(size / canonicalSize) + 1e-6)
    return Math.min(Math.max(k, kMin), kMax) - kMin
  })
}

/** RoI align from a pyramid of (N, C, H_l, W_l) maps with the given scales -> (K, C, outH, outW). */
export function multiScaleRoiAlign(
  features: Tensor[],
  scales: number[],
  rois: Tensor,
  opts: MultiScaleRoiAlignOptions,
): Tensor {
  if (features.length === 0 || features.length !== scales.length)
    throw new ArgumentError(
      `multiScaleRoiAlign: expected one scale per feature map, got ${features.length} maps and ${scales.length} scales`,
    )
  const { canonicalSize, canonicalLevel, ...align } = opts
  const levels = assignLevels(rois, scales, canonicalSize, canonicalLevel)
  const parts: Tensor[] = []
  const order: number[] = []
  features.forEach((f, l) => {
    const idx = levels.flatMap((v, i) => (v === l ? [i] : []))
    if (!idx.length) return
    parts.push(roiAlign(f, gather(rois, 0, tensor(idx, { dtype: 'int32' })), { ...align, spatialScale: scales[l]! }))
    order.push(...idx)
  })
  if (!parts.length) {
    const [oh, ow] = typeof opts.outputSize === 'number' ? [opts.outputSize, opts.outputSize] : opts.outputSize
    return zeros([0, features[0]!.shape[1]!, oh, ow], { dtype: features[0]!.dtype })
  }
  // (K, C, oh, ow) in level order -> box order
  const inverse = new Array<number>(order.length)
  order.forEach((box, pos) => {
    inverse[box] = pos
  })
  return gather(concat(parts, 0), 0, tensor(inverse, { dtype: 'int32' }))
}

/**
 * Bounding boxes as (..., 4) float tensors in one of three formats (d2l.ai, "Object Detection and
 * Bounding Boxes", https://d2l.ai/chapter_computer-vision/bounding-box.html; torchvision.ops.box_convert):
 * - `xyxy`: corners (x1, y1, x2, y2), the format every other function here takes;
 * - `xywh`: top-left corner plus width and height (COCO annotations);
 * - `cxcywh`: centre plus width and height (YOLO, SSD offsets).
 * Everything is written with core ops, so gradients flow through conversions, areas and clipping.
 */
import { ArgumentError, DTypeError, ShapeError, type Tensor, concat, select } from '@refnets/core'

export type BoxFormat = 'xyxy' | 'xywh' | 'cxcywh'
const FORMATS: readonly BoxFormat[] = ['xyxy', 'xywh', 'cxcywh']

/** Boxes are malformed: a corner box with x2 < x1 or y2 < y1, or a coordinate that is NaN. */
export class BoxError extends ArgumentError {
  override name = 'BoxError'
}

/** Check a (..., 4) float box tensor; `what` names the argument in the error. */
export function checkBoxShape(boxes: Tensor, what = 'boxes'): void {
  if (boxes.rank < 1 || boxes.shape[boxes.rank - 1] !== 4)
    throw new ShapeError(`${what}: expected a (..., 4) box tensor, got shape [${boxes.shape.join(', ')}]`)
  if (boxes.dtype !== 'float32' && boxes.dtype !== 'float64')
    throw new DTypeError(`${what}: expected float32 or float64 boxes, got ${boxes.dtype}`)
}

/**
 * Check (..., 4) corner boxes: x2 >= x1, y2 >= y1 and no NaN. Degenerate boxes (x2 = x1) are
 * allowed: they have area 0 and IoU 0 with everything (or NaN = 0 / 0 with an identical one).
 */
export function checkXyxy(boxes: Tensor, what = 'boxes'): void {
  checkBoxShape(boxes, what)
  const d = boxes.data
  for (let i = 0; i < d.length; i += 4) {
    const [x1, y1, x2, y2] = [d[i]!, d[i + 1]!, d[i + 2]!, d[i + 3]!]
    if (Number.isNaN(x1) || Number.isNaN(y1) || Number.isNaN(x2) || Number.isNaN(y2))
      throw new BoxError(`${what}: box ${i / 4} has a NaN coordinate: [${x1}, ${y1}, ${x2}, ${y2}]`)
    if (x2 < x1 || y2 < y1)
      throw new BoxError(
        `${what}: box ${i / 4} = [${x1}, ${y1}, ${x2}, ${y2}] is not (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1`,
      )
  }
}

/** The four coordinate columns of (..., 4) boxes, each of shape (...). */
export function unbindBoxes(boxes: Tensor): [Tensor, Tensor, Tensor, Tensor] {
  const a = boxes.rank - 1
  return [select(boxes, a, 0), select(boxes, a, 1), select(boxes, a, 2), select(boxes, a, 3)]
}

/** Stack four (...) columns into (..., 4) boxes. */
export function stackBoxes(c0: Tensor, c1: Tensor, c2: Tensor, c3: Tensor): Tensor {
  const a = c0.rank
  return concat([c0.unsqueeze(a), c1.unsqueeze(a), c2.unsqueeze(a), c3.unsqueeze(a)], a)
}

function toXyxy(boxes: Tensor, from: BoxFormat): Tensor {
  if (from === 'xyxy') return boxes
  const [a, b, c, d] = unbindBoxes(boxes)
  // xywh: (x, y, w, h) -> (x, y, x + w, y + h); cxcywh: (cx, cy, w, h) -> (cx - w/2, cy - h/2, cx + w/2, cy + h/2)
  if (from === 'xywh') return stackBoxes(a, b, a.add(c), b.add(d))
  return stackBoxes(a.sub(c.mul(0.5)), b.sub(d.mul(0.5)), a.add(c.mul(0.5)), b.add(d.mul(0.5)))
}

function fromXyxy(boxes: Tensor, to: BoxFormat): Tensor {
  if (to === 'xyxy') return boxes
  const [x1, y1, x2, y2] = unbindBoxes(boxes)
  if (to === 'xywh') return stackBoxes(x1, y1, x2.sub(x1), y2.sub(y1))
  return stackBoxes(x1.add(x2).div(2), y1.add(y2).div(2), x2.sub(x1), y2.sub(y1))
}

/**
 * Convert (..., 4) boxes between formats. Like torchvision, a conversion between two non-corner
 * formats goes through xyxy, so results agree bit for bit.
 */
export function boxConvert(boxes: Tensor, from: BoxFormat, to: BoxFormat): Tensor {
  for (const f of [from, to])
    if (!FORMATS.includes(f))
      throw new ArgumentError(`boxConvert: format must be one of ${FORMATS.join(', ')}, got '${f}'`)
  checkBoxShape(boxes)
  if (from === to) return boxes
  return fromXyxy(toXyxy(boxes, from), to)
}

/** Area (x2 - x1)(y2 - y1) of (..., 4) corner boxes, shape (...). */
export function boxArea(boxes: Tensor): Tensor {
  checkBoxShape(boxes)
  const [x1, y1, x2, y2] = unbindBoxes(boxes)
  return x2.sub(x1).mul(y2.sub(y1))
}

/** Clip corner boxes to an image of size (height, width): x into [0, width], y into [0, height]. */
export function clipBoxesToImage(boxes: Tensor, size: readonly [number, number]): Tensor {
  checkBoxShape(boxes)
  const [h, w] = size
  if (!(h >= 0 && w >= 0))
    throw new ArgumentError(`clipBoxesToImage: size must be [height, width] >= 0, got [${h}, ${w}]`)
  const [x1, y1, x2, y2] = unbindBoxes(boxes)
  return stackBoxes(x1.clamp(0, w), y1.clamp(0, h), x2.clamp(0, w), y2.clamp(0, h))
}

/** Indices of the (N, 4) corner boxes whose width and height are both >= minSize. */
export function removeSmallBoxes(boxes: Tensor, minSize: number): number[] {
  checkBoxShape(boxes)
  const d = boxes.data
  const keep: number[] = []
  for (let i = 0; i < d.length / 4; i++)
    if (d[4 * i + 2]! - d[4 * i]! >= minSize && d[4 * i + 3]! - d[4 * i + 1]! >= minSize) keep.push(i)
  return keep
}

/**
 * @refnets/detection: bounding boxes, the IoU family and its losses, non-maximum suppression,
 * anchors, RoI pooling and align, SSD and YOLO detectors, a two-stage detector, and VOC / COCO
 * evaluation. `specs` registers the detection ops and models with the tests and the benchmark
 * harness. Drawing boxes onto PNG images (Node only) is in `@refnets/detection/draw`.
 */
export * from './boxes.js'
export * from './iou.js'
export * from './losses.js'
export * from './nms.js'
export { specs } from './specs.js'
export * from './roi.js'
export * from './multi-scale-roi-align.js'
export * from './anchors.js'
export * from './voc-ap.js'
export * from './coco-eval.js'
export * from './coco-json.js'
export * from './models/ssd-head.js'
export * from './models/ssd300.js'
export * from './models/tiny-ssd.js'
export * from './ssd-loss.js'
export * from './postprocess.js'
export * from './models/yolo-blocks.js'
export * from './models/yolov4.js'
export * from './yolo-loss.js'
export * from './models/two-stage.js'
export * from './synthetic-data.js'

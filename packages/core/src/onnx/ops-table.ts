/**
 * The ONNX operator table of loadOnnx: op type -> implementation on refnets ops. Each entry reads
 * its inputs and attributes as the ONNX spec defines them for the model's opset, and returns its
 * outputs. Families live in ops-*.ts files; this file merges them.
 */
import type { OnnxOpImpl } from './node.js'
import { basicOps } from './ops-basic.js'
import { lossOps } from './ops-loss.js'
import { miscOps } from './ops-misc.js'
import { castOps } from './ops-cast.js'
import { attentionOps } from './ops-attention.js'
import { resizeOps } from './ops-resize.js'
import { convOps } from './ops-conv.js'
import { rnnOps } from './ops-rnn.js'
import { detectionOps } from './ops-detection.js'

export { OnnxSequence, type OnnxValue, type NodeOutput, type NodeContext, type OnnxOpImpl } from './node.js'

export const onnxOps: Record<string, OnnxOpImpl> = {
  ...basicOps,
  ...lossOps,
  ...miscOps,
  ...castOps,
  ...attentionOps,
  ...resizeOps,
  ...convOps,
  ...rnnOps,
  ...detectionOps,
}

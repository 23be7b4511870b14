export * from './tensor.js'
export * from './dtype.js'
export * from './errors.js'
export * from './shape.js'
export * from './random.js'
export * from './autograd.js'
export * from './op.js'
export * from './backend.js'
export { createWasmBackend, hasRelaxedSimd, type WasmBackend, type WasmBackendOptions } from './backends/wasm/index.js'
export { countMacs } from './flops.js'
export type * from './kernel-table.js'
export * as ops from './ops/index.js'
export * from './ops/index.js'
export * from './gradcheck.js'
export * as nn from './nn/index.js'
export { Module, Parameter } from './nn/module.js'
export * as data from './data/index.js'
export * as metrics from './metrics/index.js'
export * as models from './models/index.js'
export * as train from './train/index.js'
export {
  fit,
  evaluate,
  predict,
  selfTraining,
  EarlyStopping,
  LRSchedulerCallback,
  History,
  type FitOptions,
  type Callback,
} from './train/index.js'
export * as optim from './optim/index.js'
export * from './io/index.js'
export * from './spec.js'
export * as onnx from './onnx/index.js'
export {
  exportOnnx,
  loadOnnx,
  OnnxModule,
  OnnxExportError,
  OnnxFormatError,
  OnnxImportError,
  type ExportOptions,
} from './onnx/index.js'
export { specs } from './specs.js'

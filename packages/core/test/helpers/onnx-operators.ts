/**
 * The operator types of ONNX's default domain (ai.onnx), as listed in docs/Operators.md of ONNX 1.23.0
 * (opset 28; the ONNX version of the node tests under conformance/), for the tests that check op keys.
 * Source: https://github.com/onnx/onnx/blob/f7546912001bc31e92a238b17068a21b373d882e/docs/Operators.md
 * (rendered at https://onnx.ai/onnx/operators/).
 */
export const ONNX_OPERATOR_TYPES: ReadonlySet<string> = new Set(
  `
Abs Acos Acosh Add AffineGrid And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization
Bernoulli BitCast BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor BlackmanWindow Cast CastLike
CausalConvWithState Ceil Celu CenterCropPad Clip Col2Im Compress Concat ConcatFromSequence Constant
ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumProd CumSum DFT DeformConv DepthToSpace
DequantizeLinear Det Div Dropout DynamicQuantizeLinear Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor
GRU Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater
GreaterOrEqual GridSample GroupNormalization HammingWindow HannWindow HardSigmoid HardSwish Hardmax Identity If
ImageDecoder InstanceNormalization IsInf IsNaN LRN LSTM LayerNormalization LeakyRelu Less LessOrEqual
LinearAttention Log LogSoftmax Loop LpNormalization LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool
MaxUnpool Mean MeanVarianceNormalization MelWeightMatrix Min Mish Mod Mul Multinomial Neg
NegativeLogLikelihoodLoss NonMaxSuppression NonZero Not OneHot Optional OptionalGetElement OptionalHasElement
Or PRelu Pad Pow QLinearConv QLinearMatMul QuantizeLinear RMSNormalization RNN RandomNormal RandomNormalLike
RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare RegexFullMatch Relu Reshape Resize ReverseSequence
RoiAlign RotaryEmbedding Round STFT Scan Scatter ScatterElements ScatterND Selu SequenceAt SequenceConstruct
SequenceEmpty SequenceErase SequenceInsert SequenceLength SequenceMap Shape Shrink Sigmoid Sign Sin Sinh Size
Slice Softmax SoftmaxCrossEntropyLoss Softplus Softsign SpaceToDepth Split SplitToSequence Sqrt Squeeze
StringConcat StringNormalizer StringSplit Sub Sum SwiGLU Swish Tan Tanh TensorScatter TfIdfVectorizer
ThresholdedRelu Tile TopK Transpose Trilu Unique Unsqueeze Upsample Where Xor
`
    .trim()
    .split(/\s+/),
)

/**
 * The keys among `ops` that are not ONNX op types and not accepted otherwise. A key is accepted when
 * it is in `allowed` (key -> why it has no ONNX op), or when it names a gradient of an accepted key:
 * that key + 'Grad' (MaxPoolGrad), or + 'WeightGrad' for the gradient of a weight (ConvWeightGrad).
 * A test expects [].
 */
export function keysOffOnnx(ops: readonly { name: string }[], allowed: Readonly<Record<string, string>>): string[] {
  const ok = (key: string): boolean =>
    ONNX_OPERATOR_TYPES.has(key) ||
    Object.hasOwn(allowed, key) ||
    (/Grad$/.test(key) && ok(key.replace(/(Weight)?Grad$/, '')))
  return [...new Set(ops.map((op) => op.name))].filter((key) => !ok(key))
}

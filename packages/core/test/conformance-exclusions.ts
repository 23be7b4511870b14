/**
 * ONNX node-test cases that do not pass yet, each with what actually happens and why. Every entry
 * is a real gap that fails loudly (a typed error), never a wrong value. The conformance test fails when
 * a listed case passes (remove it here) or an unlisted one fails.
 */
export const exclusions: Record<string, string> = {
  test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True:
    'AveragePool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
  test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False:
    'AveragePool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
  test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True:
    'AveragePool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
  test_equal_string_broadcast: 'string tensors raise OnnxImportError (refnets tensors are numeric)',
  test_maxpool_3d_default: 'MaxPool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
  test_maxpool_3d_dilations: 'MaxPool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
  test_maxpool_3d_dilations_use_ref_impl_large:
    'MaxPool: 3-D inputs raise OnnxImportError (refnets pools 1-D and 2-D inputs only)',
}

import { describe, expect, it } from 'vitest'
import { type Tensor, nn, randn } from '../src/index.js'
import { exportOnnx, exportOnnxModel, loadOnnx } from '../src/onnx/index.js'
import { decodeModel, encodeModel } from '../src/onnx/proto.js'

describe('encodeModel', () => {
  it('writes the initializers once into an exact buffer and decodes to the same model', () => {
    // Initializers of 1-, 2- and 3-byte length prefixes (raw_data of 16, 4,096 and 65,536 bytes).
    const model = new nn.Sequential(new nn.Linear(128, 128), new nn.ReLU(), new nn.Linear(128, 4))
    const x = randn([2, 128])
    const m = exportOnnxModel(model, [x])
    const bytes = encodeModel(m)
    const back = decodeModel(bytes)
    const asBytes = (b: Uint8Array | undefined) => [...(b ?? [])]
    expect(back.graph!.initializer!.map((t) => [t.name, t.dims, t.dataType, asBytes(t.rawData)])).toEqual(
      m.graph!.initializer!.map((t) => [t.name, t.dims, t.dataType, asBytes(t.rawData)]),
    )
    // Everything else as protobufjs encodes it (encodeModel takes protobufjs' own path without initializers).
    const plain = decodeModel(encodeModel({ ...m, graph: { ...m.graph!, initializer: [] } }))
    expect({ ...back, graph: { ...back.graph!, initializer: [] } }).toEqual(plain)
    const [y] = loadOnnx(bytes).run([x]) as Tensor[]
    expect(y!.toArray()).toEqual(model.call(x).toArray())
    // exportOnnx serializes views of the weights (no copy): the same bytes.
    expect(exportOnnx(model, [x])).toEqual(bytes)
    // exportOnnxModel's initializers own their data: training the model afterwards does not change them.
    const before = [...m.graph!.initializer![0]!.rawData!]
    model.parameters()[0]!.storage.fill(7)
    expect([...m.graph!.initializer![0]!.rawData!]).toEqual(before)
  })
})

/**
 * Weight files end to end: a PyTorch MLP's state dict written by scripts/gen_fixtures.py loads into
 * the same refnets model and gives PyTorch's output; saveWeights/loadWeights round-trip through
 * real files; a load that fails leaves the weights unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import {
  SafetensorsError,
  StateDictError,
  loadSafetensors,
  nn,
  parseSafetensors,
  saveSafetensors,
  tensor,
} from '../src/index.js'
import { loadSafetensorsFile, loadWeights, saveSafetensorsFile, saveWeights } from '../src/io/node.js'

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')
const work = mkdtempSync(join(tmpdir(), 'refnets-safetensors-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const mlp = () => new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 3))
const snapshot = (m: nn.Module) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, [...t.data]]))

describe('PyTorch MLP fixture (mlp.safetensors)', () => {
  const bytes = new Uint8Array(readFileSync(join(fixtures, 'mlp.safetensors')))
  const expected = JSON.parse(readFileSync(join(fixtures, 'mlp-safetensors.json'), 'utf8')) as Record<
    string,
    { shape: number[]; data: number[] }
  >

  it('holds the state dict of Sequential(Linear(4, 8), ReLU, Linear(8, 3)) in float32', () => {
    const { tensors } = parseSafetensors(bytes)
    expect(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, [t.dtype, t.shape]]))).toEqual({
      '0.weight': ['float32', [8, 4]],
      '0.bias': ['float32', [8]],
      '2.weight': ['float32', [3, 8]],
      '2.bias': ['float32', [3]],
    })
  })

  it("loads into the refnets model and reproduces PyTorch's output", () => {
    const model = mlp()
    const file = join(work, 'mlp.safetensors')
    writeFileSync(file, bytes)
    expect(loadWeights(model, file)).toEqual({ missing: [], unexpected: [] })
    const x = expected.x!
    const out = model.eval().call(tensor(x.data, { dtype: 'float32', shape: x.shape }))
    const want = expected.output ?? expected.y!
    expect(out.shape).toEqual(want.shape)
    const err = Math.max(...[...out.data].map((v, i) => Math.abs(v - want.data[i]!)))
    expect(err).toBeLessThan(1e-6)
  })
})

describe('saveWeights / loadWeights', () => {
  it('round-trips a model through a file exactly, and other tools can read the layout', () => {
    const a = mlp()
    const file = join(work, 'a.safetensors')
    saveWeights(a, file, { metadata: { arch: 'mlp' } })
    const b = mlp()
    expect(snapshot(b)).not.toEqual(snapshot(a))
    loadWeights(b, file)
    expect(snapshot(b)).toEqual(snapshot(a))

    // By hand: u64 LE header length, JSON header, data 8-byte aligned, offsets tiling the data.
    const raw = new Uint8Array(readFileSync(file))
    const n = Number(new DataView(raw.buffer, raw.byteOffset).getBigUint64(0, true))
    expect((8 + n) % 8).toBe(0)
    const header = JSON.parse(new TextDecoder().decode(raw.subarray(8, 8 + n)))
    expect(header.__metadata__).toEqual({ arch: 'mlp' })
    const spans = Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([, e]) => (e as { data_offsets: [number, number] }).data_offsets)
      .sort((p, q) => p[0] - q[0])
    let end = 0
    for (const [s, e] of spans) {
      expect(s).toBe(end)
      expect(s % 4).toBe(0)
      end = e
    }
    expect(8 + n + end).toBe(raw.length)
    expect(header['0.weight']).toEqual({ dtype: 'F32', shape: [8, 4], data_offsets: expect.any(Array) })
  })

  it('a mis-shaped or incomplete file raises StateDictError and changes nothing', () => {
    const model = mlp()
    const before = snapshot(model)
    const wrong = join(work, 'wrong.safetensors')
    saveWeights(new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 5)), wrong)
    expect(() => loadWeights(model, wrong)).toThrow(StateDictError)
    expect(() => loadWeights(model, wrong)).toThrow(/2\.weight: expected \[3, 8\], got \[5, 8\]/)
    expect(snapshot(model)).toEqual(before)

    const partial = join(work, 'partial.safetensors')
    const sd = mlp().stateDict()
    delete sd['2.bias']
    saveSafetensorsFile(partial, sd)
    expect(() => loadWeights(model, partial)).toThrow(/missing keys: 2\.bias/)
    expect(snapshot(model)).toEqual(before)
    // Not strict: the tensors present are loaded, the missing one is reported.
    expect(loadWeights(model, partial, { strict: false })).toEqual({ missing: ['2.bias'], unexpected: [] })
    expect(snapshot(model)['0.weight']).toEqual([...sd['0.weight']!.data])
    expect(snapshot(model)['2.bias']).toEqual(before['2.bias'])
  })

  it('a malformed file raises SafetensorsError and changes nothing', () => {
    const model = mlp()
    const before = snapshot(model)
    const bytes = saveSafetensors(model.stateDict())
    const truncated = join(work, 'truncated.safetensors')
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 4))
    expect(() => loadWeights(mlp(), truncated)).toThrow(SafetensorsError)
    expect(() => loadWeights(model, truncated)).toThrow(/run past the data section/)
    expect(snapshot(model)).toEqual(before)
  })

  it('saveSafetensorsFile / loadSafetensorsFile keep float64 and int32 tensors', () => {
    const file = join(work, 'plain.safetensors')
    saveSafetensorsFile(file, { w: tensor([[0.1, -0]], { dtype: 'float64' }), idx: tensor([3, 1], { dtype: 'int32' }) })
    const back = loadSafetensorsFile(file)
    expect(back.w!.dtype).toBe('float64')
    expect(Object.is(back.w!.data[1], -0)).toBe(true)
    expect(back.idx!.toArray()).toEqual([3, 1])
    expect(loadSafetensors(new Uint8Array(readFileSync(file)))).toEqual(back)
  })
})

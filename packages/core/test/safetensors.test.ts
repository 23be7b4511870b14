/**
 * Safetensors, in memory and on disk. In memory: the round trip is bitwise exact, the layout is the
 * format's (https://github.com/huggingface/safetensors#format), other dtypes are widened or narrowed,
 * and malformed files raise SafetensorsError. On disk: a PyTorch MLP's state dict written by
 * scripts/gen_fixtures.py loads into the same refnets model and gives PyTorch's output;
 * saveWeights/loadWeights round-trip through real files; a load that fails leaves the weights unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import {
  ArgumentError,
  RefnetsError,
  SafetensorsError,
  StateDictError,
  Tensor,
  halfToFloat,
  loadSafetensors,
  nn,
  parseSafetensors,
  saveSafetensors,
  tensor,
} from '../src/index.js'
import { loadSafetensorsFile, loadWeights, saveSafetensorsFile, saveWeights } from '../src/io/node.js'

/** A file from a header (object or raw JSON text) and a data section, with an optional length field override. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header))
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true)
  out.set(json, 8)
  out.set(data, 8 + json.length)
  return out
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
const bits32 = (t: Tensor) => [...new Uint32Array((t.data as Float32Array).slice().buffer)]
const bits64 = (t: Tensor) => [...new BigUint64Array((t.data as Float64Array).slice().buffer)]

describe('safetensors round trip', () => {
  it('is bitwise exact for float32 and float64, including -0, NaN payloads, Infinity and subnormals', () => {
    const f32 = new Float32Array([0, -0, NaN, Infinity, -Infinity, 1e-45, -1.1754942e-38, 3.4028235e38, Math.PI])
    new Uint32Array(f32.buffer)[2] = 0x7fc00123 // a NaN with a payload
    const f64 = new Float64Array([
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      5e-324,
      -2.2250738585072e-308,
      Number.MAX_VALUE,
      Math.E,
    ])
    const sd = { a: new Tensor(f32, [3, 3]), b: new Tensor(f64, [9]) }
    const back = loadSafetensors(saveSafetensors(sd))
    expect(back.a!.dtype).toBe('float32')
    expect(back.b!.dtype).toBe('float64')
    expect(back.a!.shape).toEqual([3, 3])
    expect(bits32(back.a!)).toEqual(bits32(sd.a))
    expect(bits64(back.b!)).toEqual(bits64(sd.b))
    expect(Object.is(back.b!.data[1], -0)).toBe(true)
  })

  it('keeps int32 and bool tensors, scalars, empty tensors and views (saved as their dense values)', () => {
    const m = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: 'float32' },
    )
    const sd = {
      i: tensor([-2147483648, 0, 2147483647], { dtype: 'int32' }),
      mask: tensor([true, false, true], { dtype: 'bool' }),
      s: tensor(7.5, { dtype: 'float64' }),
      empty: new Tensor(new Float32Array(0), [0, 3]),
      t: m.transpose(0, 1),
    }
    const back = loadSafetensors(saveSafetensors(sd))
    expect(back.i!.toArray()).toEqual([-2147483648, 0, 2147483647])
    expect(back.mask!.dtype).toBe('bool')
    expect(back.mask!.toArray()).toEqual([true, false, true])
    expect(back.s!.shape).toEqual([])
    expect(back.s!.item()).toBe(7.5)
    expect(back.empty!.shape).toEqual([0, 3])
    expect(back.t!.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ])
  })

  it('stores string metadata under __metadata__ and rejects what it cannot write', () => {
    const file = parseSafetensors(saveSafetensors({ w: tensor([1]) }, { metadata: { format: 'pt', epoch: '3' } }))
    expect(file.metadata).toEqual({ format: 'pt', epoch: '3' })
    expect(Object.keys(file.tensors)).toEqual(['w'])
    expect(() => saveSafetensors({ __metadata__: tensor([1]) })).toThrow(ArgumentError)
    expect(() => saveSafetensors({ w: tensor([1]) }, { metadata: { n: 3 as unknown as string } })).toThrow(
      /must be strings/,
    )
  })

  it('a tensor named __proto__ is an ordinary key', () => {
    const sd: Record<string, Tensor> = {}
    Object.defineProperty(sd, '__proto__', { value: tensor([1, 2]), enumerable: true })
    const back = loadSafetensors(saveSafetensors(sd))
    expect(Object.keys(back)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
  })

  it('lays the file out as the format says: u64 LE length, JSON padded to 8 bytes, aligned tiling offsets', () => {
    const bytes = saveSafetensors(
      {
        c: tensor([1, 0], { dtype: 'bool' }),
        b: tensor([1, 2, 3], { dtype: 'float32' }),
        a: tensor([4], { dtype: 'float64' }),
        d: tensor([5], { dtype: 'int32' }),
      },
      { metadata: { k: 'v' } },
    )
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
    expect((8 + n) % 8).toBe(0)
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n))
    expect(text.trimEnd().length).toBeGreaterThan(0)
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true)
    const header = JSON.parse(text)
    expect(header).toEqual({
      __metadata__: { k: 'v' },
      a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [3], data_offsets: [8, 20] },
      d: { dtype: 'I32', shape: [1], data_offsets: [20, 24] },
      c: { dtype: 'BOOL', shape: [2], data_offsets: [24, 26] },
    })
    expect(bytes.length).toBe(8 + n + 26)
    const data = bytes.slice(8 + n)
    expect(new DataView(data.buffer).getFloat64(0, true)).toBe(4)
    expect(new DataView(data.buffer).getFloat32(12, true)).toBe(2)
    expect(new DataView(data.buffer).getInt32(20, true)).toBe(5)
    expect([...data.subarray(24)]).toEqual([1, 0])
  })
})

describe('reading other dtypes', () => {
  it('widens F16 and BF16 to float32', () => {
    const half = new Uint16Array([0x3c00, 0xc000, 0x7c00, 0xfc00, 0x0001, 0x8000, 0x7bff, 0x3555])
    const bf = new Uint16Array([0x3f80, 0xc040, 0x7f80, 0x0001])
    const file = build(
      {
        h: { dtype: 'F16', shape: [8], data_offsets: [0, 16] },
        bf: { dtype: 'BF16', shape: [2, 2], data_offsets: [16, 24] },
      },
      new Uint8Array([...bytesOf(half), ...bytesOf(bf)]),
    )
    const t = loadSafetensors(file)
    expect(t.h!.dtype).toBe('float32')
    expect([...t.h!.data]).toEqual([1, -2, Infinity, -Infinity, 2 ** -24, -0, 65504, Math.fround(halfToFloat(0x3555))])
    expect(halfToFloat(0x3555)).toBeCloseTo(1 / 3, 3)
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true)
    expect([...t.bf!.data]).toEqual([1, -3, Infinity, 2 ** -133])
    expect(t.bf!.shape).toEqual([2, 2])
  })

  it('narrows I64 (and widens I8/U8/I16/U16) to int32, refusing values out of range', () => {
    const i64 = new BigInt64Array([-5n, 2147483647n, -2147483648n])
    const small = new Int8Array([-128, 127])
    const file = build(
      {
        idx: { dtype: 'I64', shape: [3], data_offsets: [0, 24] },
        b: { dtype: 'I8', shape: [2], data_offsets: [24, 26] },
        u: { dtype: 'U8', shape: [2], data_offsets: [26, 28] },
      },
      new Uint8Array([...bytesOf(i64), ...bytesOf(small), 200, 255]),
    )
    const t = loadSafetensors(file)
    expect(t.idx!.dtype).toBe('int32')
    expect([...t.idx!.data]).toEqual([-5, 2147483647, -2147483648])
    expect([...t.b!.data]).toEqual([-128, 127])
    expect([...t.u!.data]).toEqual([200, 255])
    const big = build(
      { idx: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
      bytesOf(new BigInt64Array([2147483648n])),
    )
    expect(() => loadSafetensors(big)).toThrow(/I64 value 2147483648 at index 0 does not fit int32/)
  })
})

describe('malformed files raise SafetensorsError', () => {
  const entry = { dtype: 'F32', shape: [2], data_offsets: [0, 8] }
  const eight = new Uint8Array(8)
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than the length field', new Uint8Array(5), /at least 8 bytes.*got 5/],
    ['header length beyond the file', build({ w: entry }, eight, 1000n), /header length 1000 runs past the end/],
    ['invalid JSON', build('{"w": {', new Uint8Array(0)), /not valid UTF-8 JSON/],
    ['a JSON array', build([1, 2]), /must be a JSON object, got an array/],
    ['an unknown dtype', build({ w: { ...entry, dtype: 'F8_E4M3' } }, eight), /unknown or unsupported dtype "F8_E4M3"/],
    [
      'a missing dtype',
      build({ w: { shape: [2], data_offsets: [0, 8] } }, eight),
      /unknown or unsupported dtype undefined/,
    ],
    ['a bad shape', build({ w: { ...entry, shape: [-2] } }, eight), /shape must be a list of non-negative integers/],
    ['bad offsets', build({ w: { ...entry, data_offsets: [8, 0] } }, eight), /data_offsets must be \[begin, end\]/],
    [
      'offsets not matching dtype * shape',
      build({ w: { ...entry, shape: [3] } }, eight),
      /F32 of shape \[3\] needs 12 bytes, but data_offsets \[0, 8\] hold 8/,
    ],
    [
      'offsets out of range',
      build({ w: { ...entry, data_offsets: [4, 12] } }, eight),
      /run past the data section of 8 bytes/,
    ],
    [
      'overlapping tensors',
      build({ w: entry, v: { ...entry, data_offsets: [4, 12] } }, new Uint8Array(12)),
      /tensor 'v'.*overlap the previous tensor, which ends at 8/,
    ],
    [
      'a hole in the data',
      build({ w: { ...entry, data_offsets: [4, 12] } }, new Uint8Array(12)),
      /start at 4, expected 0/,
    ],
    ['trailing bytes', build({ w: entry }, new Uint8Array(12)), /cover 8 bytes of data but the data section has 12/],
    [
      'non-string metadata',
      build({ __metadata__: { epoch: 3 }, w: entry }, eight),
      /__metadata__\['epoch'\] must be a string/,
    ],
  ]
  it.each(cases)('%s', (_, bytes, message) => {
    let err: unknown
    try {
      loadSafetensors(bytes)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SafetensorsError)
    expect(err).toBeInstanceOf(RefnetsError)
    expect((err as Error).message).toMatch(message)
  })

  it('invalid UTF-8 in the header', () => {
    const file = build('{"a":1}')
    file[10] = 0xff
    expect(() => loadSafetensors(file)).toThrow(/not valid UTF-8 JSON/)
  })
})

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

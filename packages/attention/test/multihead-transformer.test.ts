/**
 * MultiheadAttention and the Transformer layers beyond the golden fixtures: gradcheck (float64,
 * < 1e-7) with each mask kind and for the encoder and decoder layers, the KV-cache incremental
 * decoding path against a full causal forward, the causal mask helpers and typed errors.
 */
import {
  ArgumentError,
  DTypeError,
  Generator,
  ShapeError,
  Tensor,
  gradcheck,
  manualSeed,
  noGrad,
  randn,
} from '@refnets/core'
import { describe, expect, it } from 'vitest'
import {
  KVCache,
  MultiheadAttention,
  TransformerDecoderLayer,
  TransformerEncoderLayer,
  causalMask,
  generateSquareSubsequentMask,
} from '../src/index.js'

const r64 = (shape: number[], seed: number) => randn(shape, { dtype: 'float64', generator: new Generator(seed) })
const bool = (v: number[], shape: number[]) => new Tensor(Uint8Array.from(v), shape)

/** Set a field by its dotted state-dict path (`layers.0.self_attn.in_proj_weight`). */
function setPath(root: object, path: string, value: Tensor): void {
  const keys = path.split('.')
  let o = root as Record<string, any>
  for (const k of keys.slice(0, -1)) o = o[k]
  o[keys.at(-1)!] = value
}

/**
 * gradcheck of f with respect to its inputs and every parameter of `m`: the checker's perturbed
 * copies of the parameters are put in the module's fields for the call, then the originals go back.
 */
function gradcheckModule(
  m: { namedParameters(): Iterable<[string, Tensor]> },
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
): number {
  const named = [...m.namedParameters()]
  try {
    return gradcheck(
      (...all: Tensor[]) => {
        named.forEach(([name], i) => {
          setPath(m, name, all[inputs.length + i]!)
        })
        return f(...all.slice(0, inputs.length))
      },
      [...inputs, ...named.map(([, p]) => p.detach().clone())],
    ).relError
  } finally {
    for (const [name, p] of named) setPath(m, name, p)
  }
}

describe('MultiheadAttention gradcheck', () => {
  manualSeed(0)
  const E = 6
  const m = new MultiheadAttention(E, 2, { batchFirst: true, dtype: 'float64' })
  const q = r64([2, 3, E], 1)
  const kv = r64([2, 4, E], 2)
  const cases: [string, Record<string, Tensor>][] = [
    ['no mask', {}],
    ['bool attnMask (L, S)', { attnMask: bool([0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1], [3, 4]) }],
    ['float attnMask (B*H, L, S)', { attnMask: r64([4, 3, 4], 3) }],
    ['bool keyPaddingMask', { keyPaddingMask: bool([0, 0, 0, 1, 0, 0, 1, 1], [2, 4]) }],
    ['float keyPaddingMask', { keyPaddingMask: r64([2, 4], 4) }],
  ]
  it.each(cases)('%s: inputs and weights (output and attention weights)', (_n, opts) => {
    // Inputs through autograd's check; parameters via their gradients against finite differences.
    const err = gradcheck(
      (a, b) => {
        const [y, w] = m.call(a, b, b, opts)
        return y.sum(-1).unsqueeze(-1).add(w!.sum(-1, true)).mul(y)
      },
      [q, kv],
    )
    expect(err.relError).toBeLessThan(1e-7)
    const perHead = gradcheck((a, b) => m.call(a, b, b, { ...opts, averageAttnWeights: false })[1]!, [q, kv])
    expect(perHead.relError).toBeLessThan(1e-7)
  })

  it('passes gradcheck in every parameter (in_proj_weight, in_proj_bias, out_proj)', () => {
    const mask = bool([0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1], [3, 4])
    const rel = gradcheckModule(m, (a, b) => m.call(a, b, b, { attnMask: mask })[0], [q, kv])
    expect(rel).toBeLessThan(1e-7)
  })
})

describe('the ONNX Attention path (onnxAttentionOp)', () => {
  it('equals the MatMul/Softmax path and passes gradcheck with both mask kinds', () => {
    manualSeed(5)
    const plain = new MultiheadAttention(6, 2, { batchFirst: true, dtype: 'float64' })
    const fused = new MultiheadAttention(6, 2, { batchFirst: true, dtype: 'float64', onnxAttentionOp: true })
    fused.loadStateDict(plain.stateDict())
    const q = r64([2, 3, 6], 1)
    const kv = r64([2, 4, 6], 2)
    const opts = {
      attnMask: r64([3, 4], 3),
      keyPaddingMask: bool([0, 0, 0, 1, 0, 0, 1, 1], [2, 4]),
      needWeights: false,
    }
    const a = plain.call(q, kv, kv, opts)[0].data
    const b = fused.call(q, kv, kv, opts)[0].data
    a.forEach((v, i) => {
      expect(b[i]).toBeCloseTo(v as number, 12)
    })
    expect(gradcheck((x, y) => fused.call(x, y, y, opts)[0], [q, kv]).relError).toBeLessThan(1e-7)
    expect(gradcheckModule(fused, (x, y) => fused.call(x, y, y, opts)[0], [q, kv])).toBeLessThan(1e-7)
  })
})

describe('incremental decoding with a key/value cache', () => {
  it('equals the full causal forward, step by step and in blocks', () => {
    manualSeed(1)
    for (const batchFirst of [true, false]) {
      const m = new MultiheadAttention(8, 2, { batchFirst, dtype: 'float64' }).eval()
      const x = r64(batchFirst ? [2, 5, 8] : [5, 2, 8], 5)
      const [full] = noGrad(() => m.call(x, x, x, { attnMask: causalMask(5), needWeights: false }))
      const cache = new KVCache()
      const axis = batchFirst ? 1 : 0
      const parts = [x.slice(axis, 0, 1), x.slice(axis, 1, 2), x.slice(axis, 2, 5)].map((p) =>
        noGrad(() => m.forwardIncremental(p, cache)),
      )
      expect(cache.length).toBe(5)
      const flat = (t: Tensor) => Array.from(t.contiguous().data as Float64Array)
      const expected = [full.slice(axis, 0, 1), full.slice(axis, 1, 2), full.slice(axis, 2, 5)]
      parts.forEach((p, i) => {
        for (const [j, v] of flat(p).entries()) expect(v).toBeCloseTo(flat(expected[i]!)[j]!, 12)
      })
    }
  })

  it('rejects a cache from another batch size', () => {
    const m = new MultiheadAttention(4, 2, { batchFirst: true })
    const cache = new KVCache()
    m.forwardIncremental(randn([2, 1, 4]), cache)
    expect(() => m.forwardIncremental(randn([3, 1, 4]), cache)).toThrow(/cache holds batch 2, got batch 3/)
  })
})

describe('masks and errors', () => {
  it('builds causal masks: float -Infinity and bool above the diagonal', () => {
    expect(generateSquareSubsequentMask(3).toArray()).toEqual([
      [0, -Infinity, -Infinity],
      [0, 0, -Infinity],
      [0, 0, 0],
    ])
    expect(causalMask(2).toArray()).toEqual([
      [false, true],
      [false, false],
    ])
  })

  it('rejects head counts that do not divide the width, and bad masks or inputs, naming expected and got', () => {
    expect(() => new MultiheadAttention(10, 3)).toThrow(ArgumentError)
    expect(() => new MultiheadAttention(10, 3)).toThrow(/divisor of 10, got numHeads 3/)
    expect(() => new TransformerEncoderLayer(10, 4)).toThrow(/divisor of 10/)
    const m = new MultiheadAttention(8, 2, { batchFirst: true })
    const x = randn([2, 3, 8])
    expect(() => m.call(x, x, x, { attnMask: new Tensor(new Uint8Array(6), [2, 3]) })).toThrow(ShapeError)
    expect(() => m.call(x, x, x, { attnMask: new Tensor(new Uint8Array(6), [2, 3]) })).toThrow(
      /expected shape \[3, 3\] or \[4, 3, 3\], got \[2, 3\]/,
    )
    expect(() => m.call(x, x, x, { keyPaddingMask: new Tensor(new Uint8Array(3), [3]) })).toThrow(
      /expected shape \[2, 3\], got \[3\]/,
    )
    expect(() => m.call(x, x, x, { attnMask: new Tensor(new Int32Array(9), [3, 3]) })).toThrow(DTypeError)
    expect(() => m.call(x, randn([2, 3, 7]), x)).toThrow(/widths 8, 8, 8.*\[2, 3, 7\]/)
    expect(() => m.call(x, randn([2, 4, 8]), x)).toThrow(ShapeError)
  })
})

describe('Transformer layers gradcheck', () => {
  it('encoder layer (post-norm relu and pre-norm gelu) with masks', () => {
    manualSeed(2)
    for (const [normFirst, activation] of [
      [false, 'relu'],
      [true, 'gelu'],
    ] as const) {
      const layer = new TransformerEncoderLayer(4, 2, {
        dimFeedforward: 6,
        dropout: 0,
        normFirst,
        activation,
        batchFirst: true,
        dtype: 'float64',
      })
      const opts = {
        srcMask: generateSquareSubsequentMask(3, 'float64'),
        srcKeyPaddingMask: bool([0, 0, 1, 0, 0, 0], [2, 3]),
      }
      expect(gradcheck((x) => layer.call(x, opts), [r64([2, 3, 4], 6)]).relError).toBeLessThan(1e-7)
      expect(gradcheckModule(layer, (x) => layer.call(x, opts), [r64([2, 3, 4], 7)])).toBeLessThan(1e-7)
    }
  })

  it('decoder layer (post-norm and pre-norm) with a causal target mask and memory padding', () => {
    manualSeed(3)
    for (const normFirst of [false, true]) {
      const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, normFirst, dtype: 'float64' })
      const opts = { tgtMask: causalMask(3), memoryKeyPaddingMask: bool([0, 0, 0, 1, 0, 0, 0, 0], [2, 4]) }
      expect(
        gradcheck((t, mem) => layer.call(t, mem, opts), [r64([3, 2, 4], 8), r64([4, 2, 4], 9)]).relError,
      ).toBeLessThan(1e-7)
      expect(
        gradcheckModule(layer, (t, mem) => layer.call(t, mem, opts), [r64([3, 2, 4], 10), r64([4, 2, 4], 11)]),
      ).toBeLessThan(1e-7)
    }
  })

  it('applies dropout only in training', () => {
    manualSeed(4)
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.5, batchFirst: true })
    const x = randn([2, 3, 8])
    const a = layer.call(x).data
    const b = layer.call(x).data
    expect(Array.from(a).some((v, i) => Math.abs(v - b[i]!) > 1e-6)).toBe(true)
    layer.eval()
    const c = layer.call(x).data
    expect(Array.from(layer.call(x).data)).toEqual(Array.from(c))
  })
})

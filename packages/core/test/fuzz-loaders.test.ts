/**
 * Fuzzing the loaders with fast-check (fixed seeds, so CI is deterministic): loadOnnx on mutated
 * valid models (truncated, bytes flipped, wrong types, huge dims, cyclic graphs, missing
 * initializers) and loadSafetensors + loadStateDict on mutated files. The property: a loader
 * returns or throws a typed error (RefnetsError), in bounded time, without an allocation sized by
 * an unchecked header field (that would be a RangeError or an out-of-memory, not a typed error),
 * and a module whose loadStateDict fails is left unchanged.
 *
 * 10,000 cases each by default; REFNETS_FUZZ_RUNS=N runs N each (the long run in docs/reliability.md).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RefnetsError } from '../src/errors.js'
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js'
import { Module } from '../src/nn/module.js'
import * as nn from '../src/nn/index.js'
import { exportOnnxModel } from '../src/onnx/export.js'
import { loadOnnx } from '../src/onnx/import.js'
import { type ModelProto, OnnxDataType, encodeModel } from '../src/onnx/proto.js'
import * as F from '../src/ops/index.js'
import { manualSeed } from '../src/random.js'
import type { Tensor } from '../src/tensor.js'

const RUNS = Number(process.env.REFNETS_FUZZ_RUNS ?? 10_000)
/** Runs per fc.assert call; the test yields to the event loop between chunks (vitest's worker RPC times out otherwise). */
const CHUNK = 1_000

/** fc.assert in chunks of CHUNK runs, with seeds seed, seed + 1, ...: deterministic, and never blocking for long. */
async function assertChunked<T>(prop: fc.IPropertyWithHooks<T>, seed: number): Promise<void> {
  for (let done = 0, c = 0; done < RUNS; done += CHUNK, c++) {
    fc.assert(prop, { seed: seed + c, numRuns: Math.min(CHUNK, RUNS - done) })
    await new Promise((r) => setImmediate(r))
  }
}
/** The slowest single case allowed: far above a normal load (well under 10 ms), far below a hang. */
const MAX_CASE_MS = 2_000

class Small extends Module {
  fc1 = new nn.Linear(6, 8)
  bn = new nn.BatchNorm1d(8)
  fc2 = new nn.Linear(8, 3)
  forward(x: Tensor): Tensor {
    // (B, 2, 3) -> (B, 6) -> (B, 8) -> (B, 3)
    const h = F.relu(this.bn.call(this.fc1.call(x.reshape(x.shape[0]!, 6))))
    return F.softmax(this.fc2.call(h), 1)
  }
}

manualSeed(5)
const small = new Small().eval()
const input = F.randn([2, 2, 3])
const baseModel: ModelProto = exportOnnxModel(small, [input])
const baseBytes = encodeModel(baseModel)

/** Only typed errors; anything else (TypeError, RangeError, a hang) fails the property. Returns 'ok' or 'typed'. */
function typedOrOk(f: () => void): 'ok' | 'typed' {
  const t0 = performance.now()
  let outcome: 'ok' | 'typed' = 'ok'
  try {
    f()
  } catch (e) {
    if (!(e instanceof RefnetsError)) throw new Error(`untyped ${(e as Error)?.name}: ${(e as Error)?.message}`)
    outcome = 'typed'
  }
  const ms = performance.now() - t0
  if (ms > MAX_CASE_MS) throw new Error(`one case took ${ms.toFixed(0)} ms`)
  return outcome
}

// ---- ONNX mutations --------------------------------------------------------------------------

const clone = (m: ModelProto): ModelProto => structuredClone(m)

type Mutation = (m: ModelProto, r: number, s: number) => void
const graphMutations: Mutation[] = [
  // A wrong element type on an initializer.
  (m, r, s) => {
    const t = m.graph!.initializer![r % m.graph!.initializer!.length]!
    t.dataType = s % 30
  },
  // Huge dims on an initializer (its data stays small).
  (m, r, s) => {
    const t = m.graph!.initializer![r % m.graph!.initializer!.length]!
    t.dims = [2 ** 20 + s, 2 ** 20, 2 ** 10]
  },
  // Negative or fractional-looking dims.
  (m, r) => {
    const t = m.graph!.initializer![r % m.graph!.initializer!.length]!
    t.dims = [-(r % 7) - 1, 3]
  },
  // A missing initializer.
  (m, r) => {
    m.graph!.initializer!.splice(r % m.graph!.initializer!.length, 1)
  },
  // A cycle: a node reads its own output, or an output of a later node.
  (m, r, s) => {
    const nodes = m.graph!.node!
    const i = r % nodes.length
    const j = i + (s % (nodes.length - i))
    nodes[i]!.input[0] = nodes[j]!.output[0]!
  },
  // Nodes out of order.
  (m) => {
    m.graph!.node!.reverse()
  },
  // An unknown op, a foreign domain, an empty op type.
  (m, r, s) => {
    const n = m.graph!.node![r % m.graph!.node!.length]!
    n.opType = ['NoSuchOp', '', 'Conv'][s % 3]!
  },
  (m, r) => {
    m.graph!.node![r % m.graph!.node!.length]!.domain = 'com.example'
  },
  // Attributes of the wrong type or value.
  (m, r, s) => {
    const n = m.graph!.node![r % m.graph!.node!.length]!
    n.attribute = [
      {
        name: ['axis', 'perm', 'epsilon', 'shape'][s % 4]!,
        type: [1, 2, 3, 7][r % 4]!,
        i: 2 ** 31 + s,
        f: NaN,
        ints: [s, -s, 2 ** 40],
      },
    ]
  },
  // Graph inputs and outputs that name nothing, or duplicate.
  (m, r) => {
    m.graph!.output![0]!.name = `missing_${r}`
  },
  (m) => {
    m.graph!.input = [...m.graph!.input!, ...m.graph!.input!]
  },
  // An opset from the far past or future.
  (m, r) => {
    m.opsetImport = [{ domain: '', version: [1, 5, 99, -3][r % 4] }]
  },
  // Raw data cut short.
  (m, r) => {
    const t = m.graph!.initializer![r % m.graph!.initializer!.length]!
    if (t.rawData) t.rawData = t.rawData.subarray(0, t.rawData.length >> 1)
  },
  // A tensor that claims a billion elements through typed fields.
  (m, r) => {
    m.graph!.initializer!.push({ name: `big_${r}`, dataType: OnnxDataType.INT64, dims: [1e9, 1e9], int64Data: [1, 2] })
  },
  (m, r) => {
    m.graph!.initializer!.push({ name: `int4_${r}`, dataType: 22, dims: [1e9], int32Data: [] })
  },
]

const onnxCase = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(baseBytes.length) }),
  fc.record({
    kind: fc.constant('flip' as const),
    flips: fc.array(fc.tuple(fc.nat(baseBytes.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    }),
  }),
  fc.record({
    kind: fc.constant('graph' as const),
    muts: fc.array(fc.tuple(fc.nat(graphMutations.length - 1), fc.nat(1000), fc.nat(1000)), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
)

type OnnxCase = typeof onnxCase extends fc.Arbitrary<infer T> ? T : never
type StCase = typeof stCase extends fc.Arbitrary<infer T> ? T : never

function mutateOnnx(c: OnnxCase): Uint8Array {
  if (c.kind === 'truncate') return baseBytes.subarray(0, c.at)
  if (c.kind === 'flip') {
    const b = Uint8Array.from(baseBytes)
    for (const [i, v] of c.flips) b[i] = v
    return b
  }
  const m = clone(baseModel)
  for (const [k, r, s] of c.muts) graphMutations[k]!(m, r, s)
  return encodeModel(m)
}

describe('fuzzing loadOnnx', () => {
  it('the base model loads and runs', () => {
    const [y] = loadOnnx(baseBytes).run([input]) as Tensor[]
    expect(y!.shape).toEqual([2, 3])
  })

  it(`${RUNS} mutated models: typed errors only, in bounded time`, async () => {
    const seen = { ok: 0, typed: 0 }
    await assertChunked(
      fc.property(onnxCase, (c) => {
        const bytes = mutateOnnx(c)
        seen[
          typedOrOk(() => {
            const m = loadOnnx(bytes)
            m.run([input])
          })
        ]++
      }),
      20261201,
    )
    // Both paths are exercised: most mutations are rejected, some still load and run.
    expect(seen.ok + seen.typed).toBe(RUNS)
    expect(seen.typed).toBeGreaterThan(RUNS / 2)
    expect(seen.ok).toBeGreaterThan(0)
  }, 600_000)
})

// ---- safetensors mutations -------------------------------------------------------------------

const target = () => {
  manualSeed(9)
  return new Small()
}
const stBytes = saveSafetensors(small.stateDict(), { metadata: { format: 'pt' } })
const headerLen = Number(new DataView(stBytes.buffer, stBytes.byteOffset).getBigUint64(0, true))
const header = JSON.parse(new TextDecoder().decode(stBytes.subarray(8, 8 + headerLen))) as Record<
  string,
  Record<string, unknown>
>
const payload = stBytes.subarray(8 + headerLen)

function withHeader(h: unknown, data = payload, lenDelta = 0n): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(h))
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length) + lenDelta, true)
  out.set(json, 8)
  out.set(data, 8 + json.length)
  return out
}

const names = Object.keys(header).filter((k) => k !== '__metadata__')
const fieldValue = fc.oneof(
  fc.constantFrom('F32', 'F64', 'I64', 'U8', 'BOOL', 'F16', 'BF16', 'X9', ''),
  fc.array(fc.oneof(fc.nat(10), fc.constant(2 ** 40), fc.constant(-1), fc.constant(1.5)), { maxLength: 4 }),
  fc.tuple(fc.nat(payload.length + 64), fc.nat(payload.length + 64)).map((t) => [...t]),
  fc.constant([0, Number.MAX_SAFE_INTEGER]),
  fc.jsonValue({ maxDepth: 2 }),
)

const stCase = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(stBytes.length) }),
  fc.record({
    kind: fc.constant('flip' as const),
    flips: fc.array(fc.tuple(fc.nat(stBytes.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    }),
  }),
  fc.record({
    kind: fc.constant('field' as const),
    edits: fc.array(
      fc.tuple(fc.constantFrom(...names), fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra'), fieldValue),
      { minLength: 1, maxLength: 3 },
    ),
  }),
  fc.record({
    kind: fc.constant('rename' as const),
    from: fc.constantFrom(...names),
    to: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', '__metadata__', 'fc1.weight'),
    ),
  }),
  fc.record({ kind: fc.constant('drop' as const), name: fc.constantFrom(...names) }),
  fc.record({ kind: fc.constant('length' as const), delta: fc.bigInt({ min: -64n, max: 2n ** 40n }) }),
  fc.record({ kind: fc.constant('header' as const), h: fc.jsonValue({ maxDepth: 3 }) }),
)

function mutateSafetensors(c: StCase): Uint8Array {
  switch (c.kind) {
    case 'truncate':
      return stBytes.subarray(0, c.at)
    case 'flip': {
      const b = Uint8Array.from(stBytes)
      for (const [i, v] of c.flips) b[i] = v
      return b
    }
    case 'field': {
      const h = structuredClone(header)
      for (const [name, field, v] of c.edits) h[name]![field] = v
      return withHeader(h)
    }
    case 'rename': {
      const h: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(header))
        Object.defineProperty(h, k === c.from ? c.to : k, {
          value: v,
          enumerable: true,
          configurable: true,
          writable: true,
        })
      return withHeader(h)
    }
    case 'drop': {
      const h = structuredClone(header)
      delete h[c.name]
      return withHeader(h)
    }
    case 'length':
      return withHeader(header, payload, c.delta)
    case 'header':
      return withHeader(c.h)
  }
}

const snapshot = (m: Module) =>
  Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.data as ArrayLike<number>)] as const)

describe('fuzzing loadSafetensors + loadStateDict', () => {
  it('the base file loads into a fresh model', () => {
    const m = target()
    m.loadStateDict(loadSafetensors(stBytes))
    expect(snapshot(m)).toEqual(snapshot(small))
  })

  it(`${RUNS} mutated files: typed errors only, and a failed load changes nothing`, async () => {
    const m = target()
    const seen = { ok: 0, typed: 0 }
    await assertChunked(
      fc.property(stCase, (c) => {
        const bytes = mutateSafetensors(c)
        const before = snapshot(m)
        let failed = false
        seen[
          typedOrOk(() => {
            try {
              m.loadStateDict(loadSafetensors(bytes))
            } catch (e) {
              failed = true
              throw e
            }
          })
        ]++
        if (failed && JSON.stringify(snapshot(m)) !== JSON.stringify(before))
          throw new Error('a failed loadStateDict changed the module')
        // Back to the starting weights for the next case.
        if (!failed) m.loadStateDict(target().stateDict())
      }),
      20261202,
    )
    expect(seen.ok + seen.typed).toBe(RUNS)
    expect(seen.typed).toBeGreaterThan(RUNS / 2)
    expect(seen.ok).toBeGreaterThan(0)
  }, 600_000)
})

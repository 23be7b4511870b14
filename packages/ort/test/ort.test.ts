import {
  ArgumentError,
  DTypeError,
  Module,
  type Tensor,
  defineOp,
  apply,
  exportOnnx,
  manualSeed,
  nn,
  randn,
  tensor,
} from '@refnets/core'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { availableProviders, compareTensors, createSession, crossCheck, fromOrt, runOrt } from '../src/index.js'

describe('ONNX Runtime runner', () => {
  it('runs an exported model and agrees with refnets', async () => {
    manualSeed(1)
    const m = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2))
    const x = randn([3, 4])
    const [y] = await runOrt(exportOnnx(m, [x]), [x])
    const c = compareTensors(m.call(x), y!, { atol: 1e-5, rtol: 1e-4 })
    expect(c.shapeMatches).toBe(true)
    expect(c.mismatches).toBe(0)
  })

  it('reads a slice with a negative step through index 0 (x[:, ::-1]) as refnets does', async () => {
    class Reverse extends Module {
      forward(x: Tensor) {
        return x.slice(1, -1, undefined, -1)
      }
    }
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ])
    const [y] = await runOrt(exportOnnx(new Reverse(), [x]), [x])
    const want = [
      [3, 2, 1],
      [6, 5, 4],
    ]
    expect(new Reverse().call(x).toArray()).toEqual(want)
    expect(y!.toArray()).toEqual(want)
  })

  it('runs with one thread and reports input names', async () => {
    const m = new nn.Linear(2, 1)
    const x = tensor([[1, 2]])
    const s = await createSession(exportOnnx(m, [x], { inputNames: ['features'] }), { threads: 1 })
    expect(s.inputNames).toEqual(['features'])
    await expect(s.run([])).rejects.toThrow(/1 inputs \(features\), got 0/)
    await expect(s.run([])).rejects.toThrow(ArgumentError)
    await s.release()
  })

  it('compares scale-aware: a scaled atol is relative to max |reference|', () => {
    const ref = tensor([100, -50, 0.001, 0])
    const ours = tensor([100.0001, -50, 0.0011, 0.00007])
    const scaled = compareTensors(ours, ref, { atol: 2e-6, rtol: 0, scaled: true }) // bound 2e-4
    expect(scaled.mismatches).toBe(0)
    expect(scaled.scale).toBe(100)
    expect(scaled.scaledError).toBeCloseTo(1e-6, 8)
    expect(compareTensors(ours, ref, { atol: 5e-7, rtol: 0, scaled: true }).mismatches).toBe(3) // bound 5e-5
    expect(compareTensors(ours, ref, { atol: 2e-6, rtol: 0 }).mismatches).toBe(3) // unscaled: 2e-6 absolute
    // Equal infinities match; NaN matches only NaN.
    expect(compareTensors(tensor([Infinity, NaN]), tensor([Infinity, NaN]), { atol: 0, rtol: 0 }).mismatches).toBe(0)
    expect(compareTensors(tensor([1, NaN]), tensor([NaN, 1]), { atol: 0, rtol: 0 }).mismatches).toBe(2)
  })

  it('reads int64 outputs exactly or fails with a typed error (no silent wrap to int32), and refuses other types', () => {
    expect(
      Array.from(fromOrt(new ort.Tensor('int64', BigInt64Array.from([-2147483648n, 2147483647n]), [2])).data),
    ).toEqual([-2147483648, 2147483647])
    expect(() => fromOrt(new ort.Tensor('int64', BigInt64Array.from([1n, 4294967297n]), [2]))).toThrow(DTypeError)
    expect(() => fromOrt(new ort.Tensor('string', ['a'], [1]))).toThrow(DTypeError)
  })

  it('reports CUDA as unavailable with a reason on a machine without it, never as available silently', async () => {
    const ps = await availableProviders()
    expect(ps.find((p) => p.name === 'cpu')?.available).toBe(true)
    const cuda = ps.find((p) => p.name === 'cuda')!
    if (!cuda.available) expect(cuda.reason).toMatch(/\w+/)
  })
})

/** A Linear whose ONNX lowering transposes the weight the wrong way: export and forward disagree. */
const WrongLinear = defineOp({
  name: 'WrongLinear',
  forward: ([x, w]) => x!.matmul(w!.transpose(0, 1)),
  onnx: (ctx, [x, w]) => ctx.node('MatMul', [x!, w!]),
})
class BadSquareLinear extends Module {
  weight = new nn.Linear(3, 3).weight
  forward(x: Tensor) {
    return apply(WrongLinear, [x, this.weight], {})
  }
}

describe('crossCheck', () => {
  it('passes a right module on the CPU and skips an unavailable CUDA with its reason', async () => {
    manualSeed(2)
    const r = await crossCheck(new nn.Sequential(new nn.Linear(5, 4), new nn.GELU(), new nn.LayerNorm(4)), [
      randn([2, 5]),
    ])
    const cpu = r.providers.find((p) => p.provider === 'cpu')!
    expect(cpu.status).toBe('pass')
    expect(cpu.maxAbsError).toBeLessThan(1e-5)
    const cuda = r.providers.find((p) => p.provider === 'cuda')!
    const info = (await availableProviders()).find((p) => p.name === 'cuda')!
    if (!info.available) {
      expect(cuda.status).toBe('skipped')
      expect(cuda.reason).toBe(info.reason)
    }
  })

  it('fails a module whose export transposes the weight', async () => {
    manualSeed(3)
    const r = await crossCheck(new BadSquareLinear(), [randn([2, 3])], { providers: ['cpu'] })
    expect(r.providers[0]!.status).toBe('fail')
    expect(r.providers[0]!.maxAbsError).toBeGreaterThan(1e-3)
  })

  it('keepSessions returns the session the check ran, open (the caller releases it); otherwise none', async () => {
    manualSeed(4)
    const model = new nn.Sequential(new nn.Linear(3, 2), new nn.Tanh())
    const x = randn([2, 3])
    const kept = await crossCheck(model, [x], { providers: ['cpu'], keepSessions: true })
    const s = kept.providers[0]!.session!
    try {
      const [y] = await s.run([x])
      expect(compareTensors(kept.outputs[0]!, y!, { atol: 1e-6, rtol: 1e-5 }).mismatches).toBe(0)
    } finally {
      await s.release()
    }
    const plain = await crossCheck(model, [x], { providers: ['cpu'] })
    expect(plain.providers[0]!.session).toBeUndefined()
  })
})

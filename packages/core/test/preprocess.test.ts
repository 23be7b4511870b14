import { describe, expect, it } from 'vitest'
import { tensor } from '../src/tensor.js'
import { inverseLogTransform, logTransform, minMaxScale, oneHot, standardize } from '../src/data/preprocess.js'

const close = (a: unknown, b: number[][] | number[], tol = 1e-6) =>
  (a as number[][]).flat().forEach((v, i) => {
    expect(v).toBeCloseTo((b.flat() as number[])[i]!, -Math.log10(tol))
  })

describe('preprocessing', () => {
  it('standardize fits mean and population std on the training data and applies them to other data', () => {
    const train = tensor([
      [1, 10],
      [3, 10],
      [5, 10],
    ])
    const s = standardize(train)
    expect([...s.mean]).toEqual([3, 10])
    expect(s.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 12)
    // The constant column gets std 1 (becomes 0, not NaN).
    expect(s.std[1]).toBe(1)
    const z = Math.sqrt(3 / 8) * 2
    close(s.transform(train).toArray(), [
      [-z, 0],
      [0, 0],
      [z, 0],
    ])
    close(s.transform(tensor([[7, 12]])).toArray(), [[2 * z, 2]])
    close(s.inverse(s.transform(tensor([[7, 12]]))).toArray(), [[7, 12]], 1e-5)
    expect(() => s.transform(tensor([[1, 2, 3]]))).toThrow(/fitted on features/)
  })

  it('minMaxScale maps training features to [0, 1] or a given range', () => {
    const train = tensor([
      [0, -1],
      [5, 1],
      [10, 0],
    ])
    const m = minMaxScale(train)
    close(m.transform(train).toArray(), [
      [0, 0],
      [0.5, 1],
      [1, 0.5],
    ])
    close(m.transform(tensor([[20, 3]])).toArray(), [[2, 2]])
    const r = minMaxScale(train, { range: [-1, 1] })
    close(r.transform(train).toArray(), [
      [-1, -1],
      [0, 1],
      [1, 0],
    ])
    close(r.inverse(r.transform(train)).toArray(), [
      [0, -1],
      [5, 1],
      [10, 0],
    ])
  })

  it('logTransform is log1p (exact for tiny values) and inverts with expm1', () => {
    const x = tensor([0, 1e-10, Math.E - 1, 99], { dtype: 'float64' })
    const y = logTransform(x)
    expect(y.toArray()).toEqual([0, Math.log1p(1e-10), 1, Math.log(100)])
    close(inverseLogTransform(y).toArray() as number[], [0, 1e-10, Math.E - 1, 99], 1e-9)
    expect(() => logTransform(tensor([-2]))).toThrow(/> -1/)
  })

  it('oneHot is re-exported here', () => {
    expect(oneHot(tensor(Int32Array.from([2, 0])), 3).toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ])
  })
})

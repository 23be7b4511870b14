/**
 * Gradient checks shared by the registry tests of every package (`test/specs.test.ts`): plain
 * functions of values and shapes that import nothing, so the model packages' tests use them too.
 */

interface Values {
  data: ArrayLike<number>
  shape: readonly number[]
}

export const allFinite = (d: ArrayLike<number>): boolean => {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return false
  return true
}

export const allZero = (d: ArrayLike<number>): boolean => {
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) return false
  return true
}

/**
 * The parameters whose gradient is missing, of the wrong shape or not finite, and the weights (rank >= 2)
 * whose gradient is all zero, by name (`model.namedParameters()`): empty when every one got a usable gradient.
 */
export function gradientProblems(named: Iterable<[string, Values & { grad: Values | null }]>): string[] {
  const problems: string[] = []
  for (const [name, p] of named) {
    const g = p.grad
    if (!g || g.shape.join() !== p.shape.join() || !allFinite(g.data)) problems.push(name)
    else if (p.shape.length >= 2 && allZero(g.data)) problems.push(`${name} (all zero)`)
  }
  return problems
}

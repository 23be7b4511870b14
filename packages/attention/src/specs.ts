/**
 * The registry of @refnets/attention: every layer and model as a ModelSpec. The registry-driven
 * test (test/specs.test.ts) and the benchmark harness iterate over `specs`.
 */
import type { ModelSpec } from '@refnets/core'

export const specs: ModelSpec[] = []

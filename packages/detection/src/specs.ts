/**
 * The registry of @refnets/detection: detection ops and models as ModelSpecs, iterated by the
 * registry-driven test (test/specs.test.ts) and the benchmark harness.
 */
import type { ModelSpec } from '@refnets/core'

export const specs: ModelSpec[] = []

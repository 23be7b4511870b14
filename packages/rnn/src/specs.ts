import type { ModelSpec } from '@refnets/core'
export const specs: ModelSpec[] = []

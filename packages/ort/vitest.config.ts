import { defineConfig } from 'vitest/config'

// Resolve workspace packages (@refnets/core) to their TypeScript sources through the "source"
// export condition, so tests run without a build; tests run in Vite's SSR (Node) environment.
const conditions = ['source', 'module', 'node', 'development|production']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 300_000 },
})

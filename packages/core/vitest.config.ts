import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: { conditions: ['source'] },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-yield.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
})

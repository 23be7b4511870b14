/**
 * Import-cycle and test-layout check, run by `pnpm lint` (dependency-cruiser).
 *
 * One cycle is accepted: the Tensor-methods cycle between `core/src/tensor.ts` and the ops that
 * build tensors (`core/src/ops/*`, `op.ts`, which records every op, and `autograd.ts`, which
 * `Tensor.backward()` calls). Tensor's methods (`x.add(y)`, `x.matmul(w)`, `x.backward()`) call
 * the ops, and every op builds and returns Tensors; PyTorch has the same pattern (torch/_tensor.py
 * calls into torch functions and torch.autograd, which return Tensors). A cycle through any other
 * module is an error.
 *
 * A second rule keeps the test layout: a `*.test.ts` file under a package's `src/` is an error.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order fragile and modules hard to read alone; see the header of this file.',
      from: {},
      to: {
        circular: true,
        viaSomeNot: '^packages/core/src/(tensor\\.ts|autograd\\.ts|op\\.ts|ops/[^/]+\\.ts)$',
      },
    },
    {
      name: 'tests-in-test-dir',
      severity: 'error',
      comment:
        "Tests live in <package>/test/, never beside the code (CONTRIBUTING.md, 'Test layout'): vitest only " +
        'runs test/**/*.test.ts, and tsc builds src/ into the published dist/.',
      from: { path: '^packages/[^/]+/src/.*\\.test\\.ts$' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/|\\.generated\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs'], conditionNames: ['source', 'import', 'default'] },
  },
}

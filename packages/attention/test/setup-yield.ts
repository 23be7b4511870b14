/**
 * Give the event loop a turn before every test. The model tests run long synchronous stretches
 * (building and exporting a VGG takes tens of seconds); without a macrotask turn between tests,
 * vitest's worker cannot answer its runner's RPC in time and reports "Timeout calling onTaskUpdate".
 */
import { beforeEach } from 'vitest'

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)))

export {
  availableProviders,
  createSession,
  runOrt,
  toOrt,
  fromOrt,
  type ProviderInfo,
  type SessionOptions,
  type OrtSession,
} from './runtime.js'
export {
  crossCheck,
  compareTensors,
  type CrossCheckResult,
  type CrossCheckOptions,
  type ProviderResult,
  type OutputComparison,
} from './cross-check.js'
export { tolerances, type Tolerance, type Provider } from './tolerances.js'

export * from './rnn.js'
export * from './cells.js'
export {
  type RecurrentMode,
  type CellWeights,
  GATES,
  cellStep,
  recurrent,
  runDirection,
  lengthMask,
  checkLengths,
} from './functional.js'

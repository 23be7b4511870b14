/** Paths to the shared data files: `<repo>/../shared/data` (a sibling of the clone in CI). */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const sharedData = (rel: string): string =>
  fileURLToPath(new URL(`../../../../../shared/data/${rel}`, import.meta.url))
export const bertVocabText = (): string => readFileSync(sharedData('text/bert-base-uncased-vocab.txt'), 'utf8')

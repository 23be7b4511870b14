/**
 * Every package that registers specs. A new architecture package adds one line here (and its
 * dependency in benchmarks/package.json); its specs then get parity checks, timings and a place
 * in the report.
 */
import { specs as attention } from '@refnets/attention'
import { specs as cnn } from '@refnets/cnn'
import { type ModelSpec, specs as core } from '@refnets/core'
import { specs as detection } from '@refnets/detection'
import { specs as rnn } from '@refnets/rnn'
import type { SelectedSpec } from './run.js'

export const packages: Record<string, ModelSpec[]> = { core, cnn, rnn, attention, detection }

export class SelectionError extends Error {
  override name = 'SelectionError'
}

/** The specs of the given packages (default all), optionally only the named ones (`name` or `package/name`). */
export function selectSpecs(pkgs?: string[], names?: string[]): SelectedSpec[] {
  for (const p of pkgs ?? [])
    if (!packages[p]) throw new SelectionError(`unknown package '${p}'; known: ${Object.keys(packages).join(', ')}`)
  const all = Object.entries(packages)
    .filter(([p]) => !pkgs || pkgs.includes(p))
    .flatMap(([p, specs]) => specs.map((spec) => ({ package: p, spec })))
  if (!names) return all
  const picked = all.filter(({ package: p, spec }) => names.includes(spec.name) || names.includes(`${p}/${spec.name}`))
  const unknown = names.filter((n) => !all.some(({ package: p, spec }) => n === spec.name || n === `${p}/${spec.name}`))
  if (unknown.length)
    throw new SelectionError(`unknown spec(s) ${unknown.join(', ')}; see the spec names in each package's src/specs.ts`)
  return picked
}

/**
 * The --quick selection: every single-layer and activation spec, and the first spec of every
 * model family (lenet5 for LeNet, vgg11 for VGG, resnet18 for ResNet, ...).
 */
export function quickSelection(selected: SelectedSpec[]): SelectedSpec[] {
  const seen = new Set<string>()
  return selected.filter(({ package: p, spec }) => {
    if (spec.family === 'layer' || spec.family === 'activation') return true
    const key = `${p}/${spec.family}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

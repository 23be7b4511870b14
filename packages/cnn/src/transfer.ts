/**
 * Transfer learning and fine-tuning (Yosinski et al. 2014, https://arxiv.org/abs/1411.1792; d2l.ai 14.2,
 * https://d2l.ai/chapter_computer-vision/fine-tuning.html): start from a network trained
 * on a large data set, replace its output layer (the "head") with one for the new classes, and
 * train either the head alone (the body frozen, as a fixed feature extractor) or everything with a
 * smaller learning rate for the pretrained body than for the new head. The less data you have, the
 * more of the body you freeze.
 *
 * - `freeze` / `unfreeze` switch `requiresGrad` on parameters chosen by name prefix or predicate.
 *   A frozen parameter gets no gradient, and the optimisers skip parameters without a gradient, so it
 *   stays as it is even when it is in the optimiser's list.
 * - `replaceHead` swaps torchvision-style heads: `fc` (ResNet, GoogLeNet), the last Linear of
 *   `classifier` (AlexNet, VGG), or any module path you name.
 * - `paramGroups` and `fineTuneParamGroups` build optimiser parameter groups with their own learning
 *   rates: `new optim.SGD(fineTuneParamGroups(model, { headLr: 1e-2, bodyLr: 1e-3 }), { lr: 1e-3 })`.
 *
 * NOTE: freezing does not stop batch-norm layers from updating their running statistics in
 * training mode; put frozen batch-norm sub-modules in eval mode (`model.layer1.eval()` after
 * `model.train()`) to keep those fixed too.
 */
import { ArgumentError, Module, type Parameter, type Tensor, nn } from '@refnets/core'

/** Which parameters: all (undefined), those whose dotted name equals or starts with one of the prefixes, or a predicate. */
export type ParamSelector = undefined | string | readonly string[] | ((name: string, param: Parameter) => boolean)

/** `name` is `prefix` or lies under it (`layer1` covers `layer1.0.conv1.weight`, not `layer10.x`). */
const under = (name: string, prefix: string) => prefix === '' || name === prefix || name.startsWith(`${prefix}.`)

/** The named parameters a selector picks; a prefix that matches nothing is an error (usually a typo). */
export function selectParameters(
  module: Module<any, any>,
  which: ParamSelector,
  what = 'selectParameters',
): [string, Parameter][] {
  const all = [...module.namedParameters()]
  if (which === undefined) return all
  if (typeof which === 'function') return all.filter(([n, p]) => which(n, p))
  const prefixes = typeof which === 'string' ? [which] : which
  for (const prefix of prefixes)
    if (!all.some(([n]) => under(n, prefix))) {
      const tops = [...new Set(all.map(([n]) => n.split('.')[0]!))]
      throw new ArgumentError(
        `${what}: no parameter is named '${prefix}' or lies under it; top-level names are ${tops.join(', ')}`,
      )
    }
  return all.filter(([n]) => prefixes.some((prefix) => under(n, prefix)))
}

/**
 * Stop training the chosen parameters (all by default): requiresGrad = false and the gradient is
 * dropped. Returns the names frozen.
 */
export function freeze(module: Module<any, any>, which?: ParamSelector): string[] {
  const picked = selectParameters(module, which, 'freeze')
  for (const [, p] of picked) {
    p.requiresGrad = false
    p.grad = null
  }
  return picked.map(([n]) => n)
}

/** Train the chosen parameters again (all by default). Returns the names unfrozen. */
export function unfreeze(module: Module<any, any>, which?: ParamSelector): string[] {
  const picked = selectParameters(module, which, 'unfreeze')
  for (const [, p] of picked) p.requiresGrad = true
  return picked.map(([n]) => n)
}

/** The parameters that will be trained (requiresGrad). */
export function trainableParameters(module: Module<any, any>): Parameter[] {
  return module.parameters().filter((p) => p.requiresGrad)
}

/** A module's direct child by its name (`fc`, `0` of a Sequential, `layers.2` of an array field). */
function child(parent: Module<any, any>, name: string): Module<any, any> | undefined {
  for (const [k, m] of parent.namedChildren()) if (k === name) return m
  return undefined
}

/** The sub-module at a dotted path ('' is the module itself). */
export function getSubmodule(root: Module<any, any>, path: string): Module<any, any> {
  if (path === '') return root
  for (const [name, m] of root.namedModules()) if (name === path) return m
  throw new ArgumentError(`getSubmodule: ${root.constructor.name} has no sub-module '${path}'`)
}

/**
 * Put `replacement` at the dotted `path` of `root` and return what was there. The path's last part
 * names a field (`fc`), an index of a Sequential (`classifier.6`) or of an array field (`blocks.3`).
 */
export function setSubmodule(root: Module<any, any>, path: string, replacement: Module<any, any>): Module<any, any> {
  if (!(replacement instanceof Module))
    throw new ArgumentError(`setSubmodule: the replacement for '${path}' must be a Module`)
  const names = [...root.namedModules()].map(([n]) => n).filter(Boolean)
  if (!names.includes(path))
    throw new ArgumentError(
      `setSubmodule: ${root.constructor.name} has no sub-module '${path}'; it has ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', ...' : ''}`,
    )
  // Find the parent: the longest proper prefix of the path that names a module whose child is the rest.
  const parts = path.split('.')
  for (let cut = parts.length - 1; cut >= 0; cut--) {
    const parentPath = parts.slice(0, cut).join('.')
    const rest = parts.slice(cut).join('.')
    if (parentPath !== '' && !names.includes(parentPath)) continue
    const parent = getSubmodule(root, parentPath)
    const old = child(parent, rest)
    if (!old) continue
    const fields = parent as unknown as Record<string, unknown>
    if (parent instanceof nn.Sequential && /^\d+$/.test(rest)) parent.layers[Number(rest)] = replacement
    else if (rest.includes('.')) {
      const [field, index] = rest.split('.') as [string, string]
      ;(fields[field] as Module<any, any>[])[Number(index)] = replacement
    } else fields[rest] = replacement
    return old
  }
  throw new ArgumentError(`setSubmodule: could not find the parent of '${path}'`)
}

/**
 * The path of a torchvision-style classification head: `fc` when the model has an `fc` module,
 * else the last Linear inside `classifier` (`classifier.6` for VGG and AlexNet), else `head`.
 */
export function findHead(model: Module<any, any>): string {
  const fields = model as unknown as Record<string, unknown>
  if (fields.fc instanceof Module) return 'fc'
  if (fields.classifier instanceof Module) {
    const linears = [...(fields.classifier as Module<any, any>).namedModules('classifier')].filter(
      ([, m]) => m instanceof nn.Linear,
    )
    if (linears.length) return linears[linears.length - 1]![0]
    return 'classifier'
  }
  if (fields.head instanceof Module) return 'head'
  throw new ArgumentError(
    `findHead: ${model.constructor.name} has no 'fc', 'classifier' or 'head'; pass the head's path to replaceHead`,
  )
}

/**
 * Replace a model's head with `head` (a new output layer, e.g. `new nn.Linear(512, numClasses)`),
 * at `path` or at the head `findHead` finds. Returns the path and the old head.
 */
export function replaceHead(
  model: Module<any, any>,
  head: Module<any, any>,
  path: string = findHead(model),
): { path: string; old: Module<any, any> } {
  return { path, old: setSubmodule(model, path, head) }
}

/** A parameter group for an optimiser: the parameters and the hyperparameters that differ from the defaults. */
export type ParamGroupSpec = { params: ParamSelector } & Record<string, unknown>

/**
 * Optimiser parameter groups by name: each parameter goes to the first spec whose selector picks it,
 * with that spec's hyperparameters (`lr`, `weightDecay`, ...); the rest form a last group that takes
 * the optimiser's defaults (left out when empty). Frozen parameters are left out unless
 * `includeFrozen` is set. A spec that gets no parameter is an error.
 */
export function paramGroups<H = Record<string, unknown>>(
  module: Module<any, any>,
  specs: readonly ParamGroupSpec[],
  { includeFrozen = false }: { includeFrozen?: boolean } = {},
): ({ params: Tensor[] } & Partial<H>)[] {
  const taken = new Set<Parameter>()
  const keep = (p: Parameter) => includeFrozen || p.requiresGrad
  const groups = specs.map(({ params: which, ...hyper }, i) => {
    const picked = selectParameters(module, which, `paramGroups[${i}]`)
      .map(([, p]) => p)
      .filter((p) => !taken.has(p) && keep(p))
    if (picked.length === 0)
      throw new ArgumentError(
        `paramGroups: group ${i} (${describe(which)}) selects no trainable parameter that an earlier group did not take`,
      )
    for (const p of picked) taken.add(p)
    return { params: picked as Tensor[], ...hyper } as { params: Tensor[] } & Partial<H>
  })
  const rest = module.parameters().filter((p) => !taken.has(p) && keep(p))
  if (rest.length) groups.push({ params: rest } as { params: Tensor[] } & Partial<H>)
  return groups
}

function describe(which: ParamSelector): string {
  if (which === undefined) return 'all'
  if (typeof which === 'function') return 'a predicate'
  return typeof which === 'string' ? `'${which}'` : which.map((w) => `'${w}'`).join(', ')
}

/**
 * The usual fine-tuning groups (d2l 14.2): the head at `headLr` (say 10x the body's), the body at
 * `bodyLr`. The head is found by `findHead` unless `head` names it (a prefix or several).
 */
export function fineTuneParamGroups(
  model: Module<any, any>,
  { headLr, bodyLr, head }: { headLr: number; bodyLr: number; head?: string | readonly string[] },
): { params: Tensor[]; lr: number }[] {
  const headNames = head ?? findHead(model)
  const groups = paramGroups(model, [{ params: headNames, lr: headLr }], {}) as { params: Tensor[]; lr?: number }[]
  if (groups.length > 1) groups[1]!.lr = bodyLr
  return groups as { params: Tensor[]; lr: number }[]
}

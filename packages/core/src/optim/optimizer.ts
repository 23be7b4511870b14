/**
 * Optimizer: the base of every optimiser in `optim`, with PyTorch's semantics (torch.optim 1.13).
 *
 * - Parameters come as a plain list or as parameter groups, each group with its own hyperparameters
 *   (`new SGD([{ params: body, lr: 1e-4 }, { params: head }], { lr: 1e-2 })`: the head group takes the
 *   defaults). Fine-tuning with a smaller learning rate for the body is the usual reason
 *   (https://d2l.ai/chapter_computer-vision/fine-tuning.html).
 * - `step()` updates every parameter that has a gradient (a null grad is skipped), in place, under
 *   `noGrad`. The update rules are plain loops over the typed arrays: one subclass per rule.
 * - Per-parameter state (momentum buffers, moment estimates, step counts) is created lazily on the
 *   first step, like PyTorch, and can be saved and restored with `stateDict()` / `loadStateDict()`.
 */
import { noGrad } from '../autograd.js'
import type { TypedArray } from '../dtype.js'
import { ArgumentError, ShapeError, StateDictError } from '../errors.js'
import { fmt, sameShape } from '../shape.js'
import { Tensor } from '../tensor.js'

/** The hyperparameters every optimiser has. */
export interface BaseHyper {
  lr: number
  /** Set by the first LR scheduler attached: the learning rate its schedule starts from. */
  initialLr?: number
}

/** A parameter group as given to the constructor: hyperparameters left out take the defaults. */
export type ParamGroupInput<H> = { params: Iterable<Tensor> } & Partial<H>

/** A parameter group after construction: every hyperparameter is set. */
export type ParamGroup<H> = H & { params: Tensor[] }

export type FloatArray = Float32Array | Float64Array

/** Per-parameter optimiser state: buffers of the parameter's shape and dtype, and scalars (step). */
export type ParamState = Record<string, Tensor | number>

/**
 * A snapshot of optimiser state, as in PyTorch: `state` is keyed by the parameter's index in the
 * order of the groups, `paramGroups` holds each group's hyperparameters and parameter indices.
 */
export interface OptimizerStateDict {
  state: Record<number, ParamState>
  paramGroups: (Record<string, unknown> & { params: number[] })[]
}

export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  readonly paramGroups: ParamGroup<H>[]
  readonly state = new Map<Tensor, ParamState>()

  constructor(
    params: Iterable<Tensor> | Iterable<ParamGroupInput<H>>,
    readonly defaults: H,
  ) {
    const list = [...(params as Iterable<Tensor | ParamGroupInput<H>>)]
    if (list.length === 0) throw new ArgumentError(`${this.constructor.name}: got an empty parameter list`)
    const groups: ParamGroupInput<H>[] = list.every((p) => p instanceof Tensor)
      ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>]
      : (list as ParamGroupInput<H>[])
    this.paramGroups = []
    const seen = new Set<Tensor>()
    for (const g of groups) {
      if (g instanceof Tensor || !g || typeof g !== 'object' || !('params' in g))
        throw new ArgumentError(
          `${this.constructor.name}: expected a list of tensors or of { params, ...options } groups, got a mix`,
        )
      const ps = [...g.params]
      for (const p of ps) {
        if (!(p instanceof Tensor))
          throw new ArgumentError(`${this.constructor.name}: a parameter group holds a non-tensor`)
        if (p.dtype !== 'float32' && p.dtype !== 'float64')
          throw new ArgumentError(
            `${this.constructor.name}: can only optimise float tensors, got ${p.dtype} ${fmt(p.shape)}`,
          )
        if (!p.isContiguous)
          throw new ArgumentError(
            `${this.constructor.name}: parameters must be contiguous, got strides ${fmt(p.strides)}`,
          )
        if (seen.has(p)) throw new ArgumentError(`${this.constructor.name}: a parameter appears in more than one group`)
        seen.add(p)
      }
      const hyper = Object.fromEntries(Object.entries(g).filter(([k, v]) => k !== 'params' && v !== undefined))
      this.paramGroups.push({ ...defaults, ...hyper, params: ps } as ParamGroup<H>)
    }
    for (const g of this.paramGroups) this.validate(g)
  }

  /** Check a group's hyperparameters (ranges); throw an ArgumentError naming the bad one. */
  protected validate(group: H): void {
    if (!(group.lr >= 0)) throw new ArgumentError(`${this.constructor.name}: lr must be >= 0, got ${group.lr}`)
  }

  /**
   * Update one parameter in place. `p` is the parameter's values, `g` its gradient (same length),
   * `state` its state (empty on the first step).
   */
  protected abstract update(p: FloatArray, g: FloatArray, state: ParamState, group: H, param: Tensor): void

  /** One optimisation step over every parameter with a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups)
        for (const param of group.params) {
          if (!param.grad) continue
          if (!sameShape(param.grad.shape, param.shape))
            throw new ShapeError(
              `${this.constructor.name}: gradient of shape ${fmt(param.grad.shape)} for a parameter of shape ${fmt(param.shape)}`,
            )
          let st = this.state.get(param)
          if (!st) {
            st = {}
            this.state.set(param, st)
          }
          this.update(values(param), asFloat(param.grad.data), st, group, param)
        }
    })
  }

  /** Forget the gradients (set them to null, as PyTorch 2 does by default). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null
  }

  /** A new zero buffer shaped like `param` (momentum, moments). */
  protected zeros(param: Tensor): Tensor {
    return param.zerosLike()
  }

  /** A snapshot of the state (buffers are copied, so training on does not change it). */
  stateDict(): OptimizerStateDict {
    // Parameters are numbered in group order, as in PyTorch.
    const index = new Map<Tensor, number>()
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g
      const ids = params.map((p) => {
        index.set(p, index.size)
        return index.size - 1
      })
      return { ...structuredClone(hyper), params: ids }
    })
    const state: Record<number, ParamState> = {}
    for (const [p, st] of this.state) {
      const i = index.get(p)
      if (i !== undefined) state[i] = copyState(st)
    }
    return { state, paramGroups }
  }

  /**
   * Restore a snapshot taken from an optimiser over parameters of the same shapes, in the same groups.
   * Hyperparameters (lr, ...) are restored too. Everything is checked first: on error nothing changes.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name
    if (!sd || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object')
      throw new StateDictError(`${name}.loadStateDict: expected { state, paramGroups }, got ${typeof sd}`)
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new StateDictError(
        `${name}.loadStateDict: expected ${this.paramGroups.length} parameter groups, got ${sd.paramGroups.length}`,
      )
    const byIndex = new Map<number, Tensor>()
    sd.paramGroups.forEach((sg, gi) => {
      const own = this.paramGroups[gi]!.params
      if (sg.params.length !== own.length)
        throw new StateDictError(
          `${name}.loadStateDict: group ${gi} has ${own.length} parameters, the state dict has ${sg.params.length}`,
        )
      sg.params.forEach((idx, j) => {
        byIndex.set(idx, own[j]!)
      })
    })
    const mismatched: string[] = []
    for (const [k, st] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(k))
      if (!p) {
        mismatched.push(`state ${k}: no such parameter`)
        continue
      }
      for (const [key, v] of Object.entries(st))
        if (v instanceof Tensor && !sameShape(v.shape, p.shape))
          mismatched.push(`state ${k}.${key}: expected ${fmt(p.shape)}, got ${fmt(v.shape)}`)
    }
    if (mismatched.length)
      throw new StateDictError(`${name}.loadStateDict: ${mismatched.join('; ')}`, [], [], mismatched)

    sd.paramGroups.forEach((sg, gi) => {
      const { params: _, ...hyper } = sg
      Object.assign(this.paramGroups[gi]!, structuredClone(hyper))
    })
    this.state.clear()
    for (const [k, st] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(k))!
      const copy: ParamState = {}
      // Buffers take the parameter's dtype (a float64 snapshot loads into float32 parameters).
      for (const [key, v] of Object.entries(st)) copy[key] = v instanceof Tensor ? v.to(p.dtype).clone() : v
      this.state.set(p, copy)
    }
  }
}

/** The parameter's values, writable in place (parameters are dense). */
function values(t: Tensor): FloatArray {
  const s = t.storage as FloatArray
  return t.offset === 0 && s.length === t.size ? s : s.subarray(t.offset, t.offset + t.size)
}

function asFloat(a: TypedArray): FloatArray {
  if (a instanceof Float32Array || a instanceof Float64Array) return a
  return Float64Array.from(a)
}

function copyState(st: ParamState): ParamState {
  const out: ParamState = {}
  for (const [k, v] of Object.entries(st)) out[k] = v instanceof Tensor ? v.clone() : v
  return out
}

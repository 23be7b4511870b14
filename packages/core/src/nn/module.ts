/**
 * Module: the common interface of every layer and model (docs/architecture.md, "Modules"). Parameters and sub-modules
 * are found by walking the module's own fields, so names follow the module tree exactly like PyTorch
 * (`layer1.0.conv1.weight`) and a PyTorch state dict lines up. Buffers (running statistics) are
 * tensors registered with `registerBuffer`: they are saved and loaded, never trained.
 */
import { noGrad } from '../autograd.js'
import { RefnetsError, StateDictError, withModulePath } from '../errors.js'
import { fmt, sameShape } from '../shape.js'
import { Tensor } from '../tensor.js'

/** A trainable tensor. */
export class Parameter extends Tensor {
  constructor(t: Tensor) {
    const c = t.contiguous()
    super(c.storage, c.shape, c.strides, c.offset)
    this.requiresGrad = true
  }
}

export type StateDict = Record<string, Tensor>

export abstract class Module<I extends unknown[] = [Tensor], O = Tensor> {
  training = true
  /** This module's dotted path inside its root, set by the walk (used in error messages). */
  private _path = ''
  private _buffers = new Set<string>()
  private _walked = false

  abstract forward(...inputs: I): O

  /** Call forward, naming this module's path in any error it raises. */
  call(...inputs: I): O {
    // The first call on a root names every sub-module by its path, for error messages.
    if (!this._walked) for (const _ of this.namedModules());
    try {
      return this.forward(...inputs)
    } catch (e) {
      if (e instanceof RefnetsError && this._path) throw withModulePath(e, this._path)
      throw e
    }
  }

  /** Mark a tensor field as a buffer (saved in the state dict, not a parameter). */
  protected registerBuffer(name: string, t: Tensor | null): void {
    ;(this as Record<string, unknown>)[name] = t
    this._buffers.add(name)
  }

  /** Own fields that are modules (including arrays of modules, named by index). */
  *namedChildren(): Iterable<[string, Module<any, any>]> {
    for (const [k, v] of Object.entries(this)) {
      if (k.startsWith('_')) continue
      if (v instanceof Module) yield [k, v]
      else if (Array.isArray(v))
        for (let i = 0; i < v.length; i++) if (v[i] instanceof Module) yield [`${k}.${i}`, v[i]]
    }
  }

  *namedModules(prefix = ''): Iterable<[string, Module<any, any>]> {
    this._path = prefix
    this._walked = true
    yield [prefix, this]
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k)
  }

  *namedParameters(prefix = ''): Iterable<[string, Parameter]> {
    const seen = new Set<Tensor>()
    for (const [path, m] of this.namedModules(prefix))
      for (const [k, v] of Object.entries(m)) {
        if (v instanceof Parameter && !seen.has(v)) {
          seen.add(v)
          yield [path ? `${path}.${k}` : k, v]
        }
      }
  }

  parameters(): Parameter[] {
    return [...this.namedParameters()].map(([, p]) => p)
  }

  *namedBuffers(prefix = ''): Iterable<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix))
      for (const k of m._buffers) {
        const v = (m as unknown as Record<string, unknown>)[k]
        if (v instanceof Tensor) yield [path ? `${path}.${k}` : k, v]
      }
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on
    return this
  }

  eval(): this {
    return this.train(false)
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null
  }

  /** Parameters and buffers by dotted name, sharing storage with the module. */
  stateDict(): StateDict {
    const sd: StateDict = {}
    for (const [k, p] of this.namedParameters()) sd[k] = p
    for (const [k, b] of this.namedBuffers()) sd[k] = b
    return sd
  }

  /**
   * Copy tensors into this module's parameters and buffers. Every problem (missing, unexpected or
   * mis-shaped keys) is found first and reported together; on error nothing has changed.
   */
  loadStateDict(
    sd: StateDict,
    { strict = true }: { strict?: boolean } = {},
  ): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict()
    const missing = Object.keys(own).filter((k) => !(k in sd))
    const unexpected = Object.keys(sd).filter((k) => !(k in own))
    const mismatched = Object.keys(own)
      .filter((k) => k in sd && !sameShape(own[k]!.shape, sd[k]!.shape))
      .map((k) => `${k}: expected ${fmt(own[k]!.shape)}, got ${fmt(sd[k]!.shape)}`)
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      const parts = [
        missing.length ? `missing keys: ${missing.join(', ')}` : '',
        unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '',
        mismatched.length ? `shape mismatch: ${mismatched.join('; ')}` : '',
      ].filter(Boolean)
      throw new StateDictError(
        `state dict does not fit ${this.constructor.name}: ${parts.join('; ')}`,
        missing,
        unexpected,
        mismatched,
      )
    }
    noGrad(() => {
      for (const [k, t] of Object.entries(own)) {
        const src = sd[k]
        if (!src) continue
        // Copy (with dtype conversion) into the existing storage, so optimisers keep their references.
        const vals = src.data
        const dst = t.storage
        if (t.isContiguous && t.offset === 0 && dst.length === t.size)
          for (let i = 0; i < vals.length; i++) dst[i] = Number(vals[i])
        else throw new RefnetsError(`cannot load into non-contiguous tensor ${k}`)
      }
    })
    return { missing, unexpected }
  }
}

/** Run a module: `model.call(x)`; a plain function form for readability in model files. */
export const run = <I extends unknown[], O>(m: Module<I, O>, ...inputs: I): O => m.call(...inputs)

/**
 * The Dropout module (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html; d2l.ai
 * https://d2l.ai/chapter_multilayer-perceptrons/dropout.html).
 */
import { ArgumentError } from '../errors.js'
import { dropout } from '../ops/dropout.js'
import type { Tensor } from '../tensor.js'
import { Module } from './module.js'

/** Inverted dropout: zero units with probability p and scale by 1/(1-p) in training; identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super()
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout probability must be in [0, 1), got ${p}`)
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training)
  }
}

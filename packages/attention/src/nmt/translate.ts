/**
 * Translating with a trained TransformerSeq2Seq through @refnets/rnn's decoders: the same
 * tokenisation, truncation and padding, greedy decoding and beam search (length-normalised,
 * d2l's alpha 0.75) as the GRU seq2seq's `translate`, so the two models' BLEU compare directly.
 */
import { Tensor, logSoftmax, noGrad } from '@refnets/core'
import {
  type Hypothesis,
  type TranslateOptions,
  type Vocab,
  beamSearch,
  greedyDecode,
  idRows,
  truncatePad,
} from '@refnets/rnn'
import type { DecodeState, TransformerSeq2Seq } from './transformer-seq2seq.js'

/** Translate one preprocessed sentence: greedy with beamSize 1 (default), else beam search. */
export function translateTransformer(
  model: TransformerSeq2Seq,
  srcVocab: Vocab,
  tgtVocab: Vocab,
  sentence: string,
  { numSteps, beamSize = 1, alpha = 0.75 }: TranslateOptions,
): { text: string; hypothesis: Hypothesis } {
  return noGrad(() => {
    const wasTraining = model.training
    model.eval()
    try {
      const { ids, validLen } = truncatePad(sentence, srcVocab, numSteps)
      const init = model.initState(model.encode(idRows([ids]), [validLen]))
      const step = (prev: number, s: DecodeState) => {
        const { logits, state } = model.decodeStep(new Tensor(Int32Array.of(prev), [1]), s)
        // (1, V) -> log-probabilities (V)
        return { logProbs: logSoftmax(logits, -1).data as ArrayLike<number>, state }
      }
      const opts = { bos: tgtVocab.indexOf('<bos>'), eos: tgtVocab.indexOf('<eos>'), maxLen: numSteps }
      const hyp =
        beamSize === 1 ? greedyDecode(step, init, opts) : beamSearch(step, init, { ...opts, beamSize, alpha })[0]!
      return { text: tgtVocab.decode(hyp.tokens).join(' '), hypothesis: hyp }
    } finally {
      model.train(wasTraining)
    }
  })
}

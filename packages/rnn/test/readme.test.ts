/** The README's example runs and gives the shapes it states. */
import { randn } from '@refnets/core'
import { expect, it } from 'vitest'
import { LSTM } from '../src/index.js'

it('runs the README example', () => {
  const lstm = new LSTM(128, 256, { numLayers: 2, bidirectional: true, batchFirst: true })
  const [out, hN, cN] = lstm.call(randn([4, 32, 128]), null, null, [32, 20, 7, 1])
  expect(out!.shape).toEqual([4, 32, 512])
  expect(hN!.shape).toEqual([4, 4, 256])
  expect(cN!.shape).toEqual([4, 4, 256])
  // Padded steps are 0 (as pad_packed_sequence gives).
  expect(Array.from(out!.data.subarray((3 * 32 + 1) * 512, (3 * 32 + 2) * 512)).every((v) => v === 0)).toBe(true)
})

import { describe, expect, it } from 'vitest'
import { sizeOf, sizeOfRange, subShape } from '../src/shape.js'

describe('shape helpers', () => {
  const shapes = [Object.freeze([2, 3, 4, 5]), [7], Object.freeze([]), [1, 1, 6]] as const

  it('subShape is Array.prototype.slice on every start and end, negative and out of range included', () => {
    for (const s of shapes)
      for (let start = -6; start <= 6; start++) {
        expect(subShape(s, start)).toEqual(s.slice(start))
        for (let end = -6; end <= 6; end++) expect(subShape(s, start, end)).toEqual(s.slice(start, end))
      }
    expect(subShape(shapes[0])).toEqual([2, 3, 4, 5])
    // A fresh array the caller may change.
    const copy = subShape(shapes[0], 1)
    copy[0] = 9
    expect(shapes[0]).toEqual([2, 3, 4, 5])
  })

  it('sizeOfRange is the size of the slice [start, end)', () => {
    for (const s of shapes)
      for (let start = 0; start <= s.length; start++)
        for (let end = start; end <= s.length + 1; end++)
          expect(sizeOfRange(s, start, end)).toBe(sizeOf(s.slice(start, end)))
    expect(sizeOfRange([2, 3, 4], 1)).toBe(12)
  })
})

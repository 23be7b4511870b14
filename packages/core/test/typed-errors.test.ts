/**
 * Bad input fails with a typed error (src/errors.ts, src/onnx/errors.ts) that says what was
 * expected and what came: no library source throws a plain Error, and the former ones are typed.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { OnnxFormatError } from '../src/onnx/errors.js'
import { decodeSmallFloat } from '../src/onnx/small-floats.js'

const packages = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name)
    if (d.isDirectory()) return sources(p)
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [p] : []
  })
}

describe('typed errors', () => {
  it('no library source of any package throws a plain Error, TypeError or RangeError', () => {
    const plain = readdirSync(packages)
      .flatMap((pkg) => {
        try {
          return sources(join(packages, pkg, 'src'))
        } catch {
          return []
        }
      })
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => [file, i + 1, line] as const),
      )
      .filter(([, , line]) => /\bnew (Error|TypeError|RangeError)\(|throw (Error|TypeError|RangeError)\(/.test(line))
      .map(([file, n, line]) => `${file.slice(packages.length + 1)}:${n}: ${line.trim()}`)
    expect(plain).toEqual([])
  })

  it('decodeSmallFloat names a type that is not a small float', () => {
    expect(() => decodeSmallFloat(1, 0)).toThrow(OnnxFormatError)
    expect(() => decodeSmallFloat(1, 0)).toThrow(/data type 1 is not a small float type/)
  })
})

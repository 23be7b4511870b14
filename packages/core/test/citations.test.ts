/**
 * Citations a reader can follow. Every source and documentation file git tracks (or would track) cites sources that
 * can be opened (a paper's arXiv or DOI link, a d2l.ai chapter, a course page, the ONNX or PyTorch
 * docs; docs/references.md lists them), never the private study notes or the design document the
 * project grew from, which are not in the repository. And every model file in
 * packages/<package>/src/models/ links its paper (or textbook chapter) in its header comment, a
 * link docs/references.md lists.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const self = 'packages/core/test/citations.test.ts'

/** Citations of documents outside the repository: "notes 003", "Notes 001/002", "DESIGN.md". */
const OUTSIDE = /\bnotes? 0\d\d\b|\bDESIGN\.md\b/i

const tracked = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\0')
  .filter((f) => f !== '' && existsSync(join(root, f)))
const sources = tracked.filter((f) => /\.(ts|mts|cts|js|mjs|cjs|py|md)$/.test(f) && f !== self)
const read = (f: string) => readFileSync(join(root, f), 'utf8')
/** The model files: packages/<package>/src/models/*.ts but the index and tests. */
const models = sources.filter(
  (f) => /^packages\/[^/]+\/src\/models\/[^/]+\.ts$/.test(f) && !/\/index\.ts$|\.test\.ts$/.test(f),
)
/** A link as a sentence may end it: without a trailing full stop or colon. */
const trimEnd = (url: string) => url.replace(/[.:]$/, '')

/** The comment a file opens with: a block comment, or a run of line comments. '' when it opens with code. */
function headerComment(text: string): string {
  const s = text.trimStart()
  if (s.startsWith('/*')) {
    const end = s.indexOf('*/')
    return end < 0 ? s : s.slice(0, end + 2)
  }
  const lines: string[] = []
  for (const line of s.split('\n')) {
    if (!line.trimStart().startsWith('//')) break
    lines.push(line)
  }
  return lines.join('\n')
}

describe('citations', () => {
  it('finds the tracked files', () => {
    expect(sources.length).toBeGreaterThan(100)
    expect(sources).toContain('packages/cnn/src/models/resnet.ts')
  })

  it('no file cites a document that is not in the repository', () => {
    const offenders = sources.flatMap((f) =>
      read(f)
        .split('\n')
        .flatMap((line, i) => (OUTSIDE.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    )
    expect(offenders, 'cite the paper, the d2l.ai chapter or the docs page instead (see docs/references.md)').toEqual(
      [],
    )
  })

  it('every model file links its paper in its header comment', () => {
    expect(models.length).toBeGreaterThan(10)
    const missing = models.filter((f) => !/https:\/\/\S+/.test(headerComment(read(f))))
    expect(missing, 'add the paper (arXiv or DOI link) or textbook chapter to the header comment').toEqual([])
  })

  it('docs/references.md lists every link of the model headers', () => {
    const references = read('docs/references.md')
    const links = (f: string) => (headerComment(read(f)).match(/https:\/\/[^\s)'"`,;]+/g) ?? []).map(trimEnd)
    const unlisted = models.flatMap((f) => links(f).flatMap((u) => (references.includes(u) ? [] : [`${f}: ${u}`])))
    expect(unlisted, 'add these to docs/references.md').toEqual([])
  })

  it('reads a header comment of either style', () => {
    expect(headerComment('\n/**\n * ResNet, https://arxiv.org/abs/1512.03385\n */\nimport x')).toContain('https://')
    expect(headerComment('// one\n// two\nconst x = 1 // https://example.com')).toBe('// one\n// two')
    expect(headerComment("import { x } from './y.js'\n/** https://arxiv.org/abs/1 */")).toBe('')
  })
})

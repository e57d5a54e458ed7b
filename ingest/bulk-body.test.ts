import { describe, expect, it } from 'vitest'
import { actionLine, BulkBody, lineBytes, linesOf } from './bulk-body.ts'

const cases = [
  { index: 'spor-short-ecs-2026.12.02', id: 'acme:e1', document: { a: 1 } },
  { index: 'spor-short-ecs-2026.12.02', id: 'acme:"quoted"\\n', document: { b: 'x\ny' } },
  { index: 'spor-long-ecs-month-2026.12.01', id: 'globex:e2', document: { c: [1, 2] } },
  { index: 'idx-with-"quote"', id: 'ünïcødé:e3', document: { d: '日本語 and emoji 🙂' } },
]

function build(requests: typeof cases, capacity?: number) {
  const body = new BulkBody(capacity)
  const spans = requests.map((r) => {
    const json = JSON.stringify(r.document)
    const action = actionLine(r.index, r.id)
    const bytes = lineBytes(action, json)
    const start = body.append(action, json, bytes)
    return { start, end: start + bytes }
  })
  return { body, spans }
}

function expectLines(bytes: Buffer, requests: typeof cases) {
  const lines = bytes.toString('utf8').split('\n')
  expect(lines).toHaveLength(2 * requests.length + 1)
  expect(lines.at(-1)).toBe('') // the body ends with a newline
  requests.forEach((request, i) => {
    expect(JSON.parse(lines[2 * i]!)).toEqual({ index: { _index: request.index, _id: request.id } })
    expect(JSON.parse(lines[2 * i + 1]!)).toEqual(request.document)
  })
}

describe('BulkBody', () => {
  it('is the action line and the document of each, each valid JSON, for any index and id, ending with a newline', () => {
    const requests = [...cases, ...cases]
    const { body, spans } = build(requests)
    expectLines(body.bytes(), requests)
    // Each document's span is exactly its two lines, end to end, in UTF-8 bytes (not characters).
    expect(spans[0]!.start).toBe(0)
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBe(spans[i - 1]!.end)
    expect(spans.at(-1)!.end).toBe(body.length)
  })

  it('grows past its first capacity without losing what it held', () => {
    const requests = Array.from({ length: 200 }, (_, i) => ({ ...cases[i % 4]!, id: `t:${i}` }))
    const { body } = build(requests, 16)
    expect(body.length).toBeGreaterThan(16)
    expectLines(body.bytes(), requests)
  })

  it('copies out the lines of some documents, in the given order, for a retry', () => {
    const { body, spans } = build(cases)
    const retried = [spans[3]!, spans[1]!]
    expectLines(linesOf(body.bytes(), retried), [cases[3]!, cases[1]!])
  })
})

import { describe, expect, it } from 'vitest'
import { bulkBody } from './bulk-writer.ts'

describe('bulkBody', () => {
  it('is the action line and the document of each, each valid JSON, for any index and id, ending with a newline', () => {
    const cases = [
      { index: 'spor-short-ecs-2026.12.02', id: 'acme:e1', document: { a: 1 } },
      { index: 'spor-short-ecs-2026.12.02', id: 'acme:"quoted"\\n', document: { b: 'x\ny' } },
      { index: 'spor-long-ecs-month-2026.12.01', id: 'globex:e2', document: { c: [1, 2] } },
      { index: 'idx-with-"quote"', id: 'ünïcødé:e3', document: {} },
    ]
    const requests = [...cases, ...cases]
    const lines = bulkBody(requests.map((r) => ({ ...r, json: JSON.stringify(r.document) }))).split('\n')
    expect(lines).toHaveLength(2 * requests.length + 1)
    expect(lines.at(-1)).toBe('')
    requests.forEach((request, i) => {
      expect(JSON.parse(lines[2 * i]!)).toEqual({ index: { _index: request.index, _id: request.id } })
      expect(JSON.parse(lines[2 * i + 1]!)).toEqual(request.document)
    })
  })
})

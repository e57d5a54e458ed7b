import { describe, expect, it } from 'vitest'
import { bulkEntry } from './bulk-writer.ts'

describe('bulkEntry', () => {
  it('is the action line and the document, each valid JSON, for any index and id', () => {
    const cases = [
      { index: 'spor-short-ecs-2026.12.02', id: 'acme:e1', document: { a: 1 } },
      { index: 'spor-short-ecs-2026.12.02', id: 'acme:"quoted"\\n', document: { b: 'x\ny' } },
      { index: 'spor-long-ecs-month-2026.12.01', id: 'globex:e2', document: { c: [1, 2] } },
      { index: 'idx-with-"quote"', id: 'ünïcødé:e3', document: {} },
    ]
    for (const request of [...cases, ...cases]) {
      const lines = bulkEntry({ ...request, ref: undefined }).split('\n')
      expect(lines).toHaveLength(2)
      expect(JSON.parse(lines[0]!)).toEqual({ index: { _index: request.index, _id: request.id } })
      expect(JSON.parse(lines[1]!)).toEqual(request.document)
    }
  })
})

import { describe, expect, it } from 'vitest'
import {
  csvColumnsFromMappings,
  csvField,
  csvHeader,
  csvRow,
  csvSafeText,
  type ExportRecord,
  parseCsv,
} from './export-format.ts'

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(csvField(input)).toBe(expected)
  })
})

describe('csvColumnsFromMappings', () => {
  it('lists dotted leaf paths across indices; flattened, geo points and disabled objects are one column', () => {
    const columns = csvColumnsFromMappings({
      a: {
        properties: {
          user: { properties: { id: { type: 'keyword' }, pseudo: { type: 'keyword' } } },
          props: { type: 'flattened' },
          position: { properties: { location: { type: 'geo_point' } } },
        },
      },
      b: {
        properties: {
          rules: { type: 'object', enabled: false },
          user: { properties: { erased: { type: 'boolean' } } },
        },
      },
      c: undefined,
    })
    expect(columns).toEqual(['position.location', 'props', 'rules', 'user.erased', 'user.id', 'user.pseudo'])
  })
})

describe('csvSafeText', () => {
  it.each([
    ['=HYPERLINK("http://x.example","click")', `'=HYPERLINK("http://x.example","click")`],
    ['+1-555', "'+1-555"],
    ['-2+cmd|calc', "'-2+cmd|calc"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['-12.5', '-12.5'],
    ['-3e5', '-3e5'],
    ['ola@acme.example', 'ola@acme.example'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(csvSafeText(input)).toBe(expected)
  })
})

describe('csvRow', () => {
  const columns = ['position.location', 'props', 'user.id', 'ua.original', 'username']
  const record: ExportRecord = {
    class: 'short',
    index: 'spor-short-2026.11.25',
    id: 'acme:e1',
    document: {
      user: { id: 'u1' },
      props: { n: 1 },
      position: { location: { lat: 1, lon: 2 } },
      ua: { original: 'Mozilla "x", y' },
      username: '=1+1',
      surprise: { deep: true },
    },
  }

  it.each([
    ['class', 'short'],
    ['id', 'acme:e1'],
    ['position.location', '{"lat":1,"lon":2}'],
    ['props', '{"n":1}'],
    ['user.id', 'u1'],
    ['ua.original', 'Mozilla "x", y'],
    ['username', "'=1+1"],
    ['other', '{"surprise.deep":true}'],
  ])('column %s round-trips through parseCsv as %j', (column, expected) => {
    const [header, row] = parseCsv(csvHeader(columns) + csvRow(columns, new Set(columns), record))
    expect(row![header!.indexOf(column)]).toBe(expected)
  })
})

import type { estypes } from '@elastic/elasticsearch'
import type { SubjectClass } from './subject.ts'

/** One exported document: where it lives and what it holds. */
export interface ExportRecord {
  class: SubjectClass
  index: string
  id: string
  document: Record<string, unknown>
}

export function ndjsonLine(record: ExportRecord): string {
  return `${JSON.stringify(record)}\n`
}

/** Columns before the document's own fields. */
export const CSV_META_COLUMNS = ['class', 'index', 'id'] as const
/** Holds, as JSON, any field not in the mappings (none under strict mappings; never silently lost). */
export const CSV_OTHER_COLUMN = 'other'

/**
 * The CSV column set, from the mappings of every index in the export: each leaf field is a dotted
 * column. Derived before the first row, so the CSV streams without a second pass. `flattened`
 * fields, geo points and disabled objects are one column holding JSON.
 */
export function csvColumnsFromMappings(
  mappings: Record<string, estypes.MappingTypeMapping | undefined>,
): string[] {
  const paths = new Set<string>()
  const walk = (properties: Record<string, estypes.MappingProperty> | undefined, prefix: string) => {
    for (const [name, prop] of Object.entries(properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name
      const nested = 'properties' in prop ? prop.properties : undefined
      const disabled = 'enabled' in prop && prop.enabled === false
      // An alias (first-shape indices during `spor migrate`) holds no value of its own.
      if (prop.type === 'alias') continue
      if (nested && !disabled) walk(nested, path)
      else paths.add(path)
    }
  }
  for (const mapping of Object.values(mappings)) walk(mapping?.properties, '')
  return [...paths].sort()
}

/** A document as column → cell text; scalars as text, arrays and objects at a leaf as JSON. */
export function flattenDocument(
  document: Record<string, unknown>,
  columns: ReadonlySet<string>,
): { cells: Map<string, string>; other: Record<string, unknown> } {
  const cells = new Map<string, string>()
  const other: Record<string, unknown> = {}
  const walk = (value: unknown, path: string) => {
    if (columns.has(path)) {
      cells.set(path, cellText(value))
      return
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [name, child] of Object.entries(value)) walk(child, path ? `${path}.${name}` : name)
      return
    }
    other[path] = value
  }
  walk(document, '')
  return { cells, other }
}

export function cellText(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value)
}

/** RFC 4180 quoting: fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/**
 * A cell a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first: OWASP's
 * CSV-injection list) gets a leading apostrophe, so opening an export cannot execute what a user
 * typed into, say, their username. Plain numbers, negative ones included, stay numbers.
 */
export function csvSafeText(text: string): string {
  if (!/^[=+\-@\t\r]/.test(text) || /^-\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) return text
  return `'${text}`
}

export function csvHeader(columns: readonly string[]): string {
  return `${[...CSV_META_COLUMNS, ...columns, CSV_OTHER_COLUMN].map(csvField).join(',')}\r\n`
}

export function csvRow(
  columns: readonly string[],
  columnSet: ReadonlySet<string>,
  record: ExportRecord,
): string {
  const { cells, other } = flattenDocument(record.document, columnSet)
  const fields = [record.class, record.index, record.id, ...columns.map((c) => cells.get(c) ?? '')]
  fields.push(Object.keys(other).length > 0 ? JSON.stringify(other) : '')
  return `${fields.map((field) => csvField(csvSafeText(field))).join(',')}\r\n`
}

/** Parses RFC 4180 text into rows (used by tests and by anyone re-reading an export). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(field)
      field = ''
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += ch
  }
  if (field !== '' || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

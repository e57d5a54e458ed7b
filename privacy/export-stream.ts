import type { SubjectExport } from './export.ts'
import { csvHeader, csvRow, ndjsonLine } from './export-format.ts'

export type ExportFormat = 'ndjson' | 'csv'
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv']

/** Chunks of at most about this many characters: few writes, bounded memory. */
const CHUNK_CHARS = 64 * 1024

/**
 * The export as text chunks. NDJSON: a first line `{"manifest": …}`, then one line per document
 * `{"class","index","id","document"}`. CSV: a header of dotted columns, then one row per
 * document (the manifest travels beside it: a file or a response header). A consumer that
 * pulls slowly slows the Elasticsearch reads: nothing is buffered beyond one page.
 */
export async function* exportText(
  exp: SubjectExport,
  format: ExportFormat,
  onRecord?: (done: number) => void,
): AsyncGenerator<string> {
  let chunk = format === 'ndjson' ? `${JSON.stringify({ manifest: exp.manifest })}\n` : csvHeader(exp.columns)
  const columnSet = new Set(exp.columns)
  let done = 0
  for await (const record of exp.records()) {
    chunk += format === 'ndjson' ? ndjsonLine(record) : csvRow(exp.columns, columnSet, record)
    done++
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk
      chunk = ''
      onRecord?.(done)
    }
  }
  if (chunk) yield chunk
  onRecord?.(done)
}

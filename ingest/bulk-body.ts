/**
 * A bulk request's NDJSON body, written line by line into one growing Buffer as documents are
 * serialised. The documents of a request in flight are held as UTF-8 bytes outside the JS heap:
 * as strings, each one lived until its request was answered, so the scavenger promoted every
 * document to the old generation and V8's helper threads spent about a third of the process's
 * CPU marking and sweeping them. The first attempt sends the Buffer as it is (no join, no
 * re-encoding); a retry of some of its documents copies their lines out (`linesOf`).
 */
export class BulkBody {
  #buffer: Buffer
  #length = 0

  constructor(capacity = 64 * 1024) {
    // Not zero-filled: only the written part is ever read, and pages never written stay unmapped.
    this.#buffer = Buffer.allocUnsafeSlow(capacity)
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length
  }

  /**
   * Appends a document's action line and text, each with its newline (`bytes`: `lineBytes` of the
   * two, which the caller needed first to decide which request the document joins); returns where
   * they start.
   */
  append(action: string, json: string, bytes: number): number {
    this.#reserve(bytes)
    const start = this.#length
    let at = start + this.#buffer.write(action, start)
    this.#buffer[at++] = NEWLINE
    at += this.#buffer.write(json, at)
    this.#buffer[at++] = NEWLINE
    this.#length = at
    return start
  }

  /** The body so far: a view, valid until the next append. */
  bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length)
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return
    const next = Buffer.allocUnsafeSlow(Math.max(2 * this.#buffer.length, this.#length + bytes))
    this.#buffer.copy(next, 0, 0, this.#length)
    this.#buffer = next
  }
}

const NEWLINE = 0x0a

/** The lines `[start, end)` of each item, copied out of their body into a new one. */
export function linesOf(body: Buffer, items: readonly { start: number; end: number }[]): Buffer {
  let bytes = 0
  for (const item of items) bytes += item.end - item.start
  const out = Buffer.allocUnsafeSlow(bytes)
  let at = 0
  for (const item of items) at += body.copy(out, at, item.start, item.end)
  return out
}

/** A document's two lines in UTF-8, newlines included: what it adds to a request. */
export function lineBytes(action: string, json: string): number {
  return Buffer.byteLength(action) + Buffer.byteLength(json) + 2
}

/** The start of the action line per index: a process writes to a handful of indices at a time. */
const actionHeads = new Map<string, string>()

function actionHead(index: string): string {
  let head = actionHeads.get(index)
  if (head === undefined) {
    if (actionHeads.size >= 1000) actionHeads.clear()
    head = `{"index":{"_index":${JSON.stringify(index)},"_id":`
    actionHeads.set(index, head)
  }
  return head
}

/** A document's action line, without its newline. */
export function actionLine(index: string, id: string): string {
  return `${actionHead(index)}${JSON.stringify(id)}}}`
}

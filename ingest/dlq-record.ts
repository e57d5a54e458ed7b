import { isUtf8 } from 'node:buffer'
import type { DlqReason } from './results.ts'

/** Where a message came from, carried into the dead-letter record for replay and debugging. */
export interface MessageOrigin {
  topic: string
  partition: number
  offset: string
  key: string | null
  timestamp: string
  /** The collector's `spor-origin` header, kept so a replay cannot promote a browser event to a trusted one. */
  spor_origin?: 'client' | 'server'
}

export interface DlqRecord {
  reason: DlqReason
  detail: string
  step: string
  failed_at: string
  origin: MessageOrigin
  /** The original bytes: as text when they are valid UTF-8, else base64. */
  payload: string | null
  payload_encoding: 'utf8' | 'base64'
}

/** A "bad row" in Snowplow's sense: the reason and the untouched original payload. */
export function dlqRecord(
  origin: MessageOrigin,
  value: Buffer | null,
  failure: { reason: DlqReason; detail: string; step: string },
  now: Date,
): DlqRecord {
  const utf8 = value ? isUtf8(value) : true
  return {
    reason: failure.reason,
    detail: failure.detail.slice(0, 2000),
    step: failure.step,
    failed_at: now.toISOString(),
    origin,
    payload: value ? value.toString(utf8 ? 'utf8' : 'base64') : null,
    payload_encoding: utf8 ? 'utf8' : 'base64',
  }
}

/**
 * The dead-letter message key names the source position: a reader can find the original record,
 * and replay tooling can tell which records it has already handled.
 */
export function dlqKey(origin: MessageOrigin): string {
  return `${origin.topic}/${origin.partition}/${origin.offset}`
}

import type { EventClass } from './retention.ts'

/**
 * Event types and their retention class, as data. A pattern ending in `.*` matches every type
 * with that prefix. Types not listed are rejected to the dead-letter topic, never guessed.
 */
export type EventTypeTable = Readonly<Record<string, EventClass>>

export const DEFAULT_EVENT_TYPES: EventTypeTable = Object.freeze({
  'session.login': 'short',
  'session.login_failed': 'short',
  'session.logout': 'short',
  'session.heartbeat': 'short',
  'page.view': 'short',
  'feature.use': 'short',
  'job.start': 'long',
  'message.send': 'long',
  'abuse.report': 'long',
  'admin.*': 'long',
  'privacy.*': 'long',
})

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/

/** Returns the class of `type`, or undefined when the table does not know it. */
export function classOf(table: EventTypeTable, type: string): EventClass | undefined {
  const exact = table[type]
  if (exact) return exact
  if (!TYPE_PATTERN.test(type)) return undefined
  for (let dot = type.lastIndexOf('.'); dot > 0; dot = type.lastIndexOf('.', dot - 1)) {
    const wildcard = table[`${type.slice(0, dot)}.*`]
    if (wildcard) return wildcard
  }
  return undefined
}

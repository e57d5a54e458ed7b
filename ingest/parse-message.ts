import { type SporEvent, validateEvent } from '../core/event-schema.ts'
import { classOf, type EventTypeTable } from '../core/event-types.ts'
import { type EventClass, isPastRetention, type RetentionDays } from '../core/retention.ts'
import { dlq, drop, ok, type StepResult } from './results.ts'

export interface ParseLimits {
  maxEventBytes: number
  maxFutureSkewMs: number
  eventTypes: EventTypeTable
  retentionDays: RetentionDays
}

export interface ParsedEvent {
  event: SporEvent
  cls: EventClass
  time: Date
}

/**
 * Parse at the edge: Kafka bytes become a typed, classified event in one step, or a reason.
 * Never throws on input.
 */
export function parseMessage(value: Buffer | null, limits: ParseLimits, now: Date): StepResult<ParsedEvent> {
  const step = 'parse_message'
  if (!value || value.length === 0) return dlq(step, 'empty_message', 'message has no value')
  if (value.length > limits.maxEventBytes) {
    return dlq(step, 'oversized', `${value.length} bytes exceeds the limit of ${limits.maxEventBytes}`)
  }
  let decoded: unknown
  try {
    decoded = JSON.parse(value.toString('utf8'))
  } catch (error) {
    return dlq(step, 'invalid_json', (error as Error).message)
  }
  return checkEvent(decoded, limits, now)
}

/**
 * Validates and classifies a decoded event. Shared by the consumer and the collector, so a
 * client is told at once what the consumer would otherwise dead-letter.
 */
export function checkEvent(
  decoded: unknown,
  limits: Omit<ParseLimits, 'maxEventBytes'>,
  now: Date,
): StepResult<ParsedEvent> {
  const step = 'check_event'
  const validation = validateEvent(decoded)
  if (!validation.ok) {
    return dlq(step, 'schema_violation', validation.issues.map((i) => `${i.path} ${i.message}`).join('; '))
  }
  const event = validation.event
  const cls = classOf(limits.eventTypes, event.type)
  if (!cls) return dlq(step, 'unknown_type', `event type "${event.type}" is not in the event type table`)
  const time = new Date(event.ts)
  if (time.getTime() - now.getTime() > limits.maxFutureSkewMs) {
    return dlq(
      step,
      'ts_in_future',
      `ts ${event.ts} is more than ${limits.maxFutureSkewMs} ms ahead of ${now.toISOString()}`,
    )
  }
  // A late event already past its retention would be deleted at once: not indexed, only counted.
  if (isPastRetention(time, limits.retentionDays[cls], now)) return drop(step, 'past_retention')
  return ok({ event, cls, time })
}

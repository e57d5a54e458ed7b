import type { SporEvent } from '../core/event-schema.ts'
import { mergeClientHints } from '../enrich/client-hints.ts'
import type { Enrichers } from '../enrich/enrich-event.ts'
import { truncateIp } from '../enrich/ip.ts'

/**
 * A signal is the compact part of an event that the rules need, re-keyed by the rule key it
 * belongs to (as Kafka Streams repartitions): every signal of one key lands on one partition of
 * the internal repartition topic, so one detect instance sees all of them.
 */
export type StreamKind = 'account' | 'ip' | 'net' | 'user' | 'tenant' | 'target' | 'actor'

export const STREAM_KINDS: readonly StreamKind[] = [
  'account',
  'ip',
  'net',
  'user',
  'tenant',
  'target',
  'actor',
]

/** What the rules read from one event. Times are epoch ms (event time). */
export interface SignalEvent {
  id: string
  type: string
  ts: number
  tenant: string
  user?: string
  account?: string
  session?: string
  ip?: string
  net?: string
  country?: string
  lat?: number
  lon?: number
  /** Accuracy radius of the geo database entry, km. */
  accKm?: number
  /** Device family: OS and device type, e.g. "iOS/mobile" (browser updates are not "new devices"). */
  family?: string
  recipients?: number
  target?: string
  /** Wall-clock time the repartitioner saw the event: detection latency is measured from here. */
  seenAt?: number
  /** Sent with a browser (client) ingest key: the collector's `spor-origin: client` header. */
  client?: true
}

export interface Signal {
  kind: StreamKind
  /** The rule key inside the tenant: account name, IP, /24, user id, tenant, target id, actor id. */
  key: string
  e: SignalEvent
}

export const LOGIN_TYPES = new Set(['session.login', 'session.login_failed'])
const SESSION_TYPES = new Set(['session.login', 'session.logout', 'session.heartbeat'])
const SPAM_TYPES = new Set(['message.send', 'job.start'])

/** Kafka key of a signal on the repartition topic: the partition is chosen by it. */
export function signalKey(signal: Signal): string {
  return `${signal.kind}|${signal.e.tenant}|${signal.key}`
}

/**
 * Projects an event onto the signals the rules need; most events (page views, feature use) yield
 * none. Pure given the enrichers (geo database, UA parser).
 */
export function toSignals(
  event: SporEvent,
  enrichers: Pick<Enrichers, 'lookupGeo' | 'parseUserAgent'>,
  seenAt?: number,
): Signal[] {
  const isLogin = LOGIN_TYPES.has(event.type)
  const isSession = SESSION_TYPES.has(event.type)
  const isSpam = SPAM_TYPES.has(event.type)
  const isReport = event.type === 'abuse.report'
  if (!isLogin && !isSession && !isSpam && !isReport) return []

  const e: SignalEvent = { id: event.id, type: event.type, ts: Date.parse(event.ts), tenant: event.tenant }
  if (event.user) e.user = event.user
  if (event.session) e.session = event.session
  if (seenAt !== undefined) e.seenAt = seenAt
  const account = event.username?.toLowerCase() ?? event.user
  if (isLogin && account) e.account = account
  if (event.ip) {
    e.ip = event.ip
    const net = truncateIp(event.ip)
    if (net) e.net = net
  }
  if ((isLogin || isSession) && event.ip) {
    const geo = enrichers.lookupGeo(event.ip)
    if (geo?.country) e.country = geo.country
    if (geo?.location) {
      e.lat = geo.location.lat
      e.lon = geo.location.lon
    }
    if (geo?.accuracyKm !== undefined) e.accKm = geo.accuracyKm
  }
  if (event.type === 'session.login' && event.device) {
    const ua = mergeClientHints(enrichers.parseUserAgent(event.device.ua), event.device.ch)
    if (ua.os.name) e.family = `${ua.os.name}/${ua.device.type}`
  }
  if (isSpam) {
    const recipients = event.props?.recipients
    e.recipients = typeof recipients === 'number' && recipients >= 0 ? recipients : 1
  }
  if (isReport && event.object) e.target = `${event.object.type}:${event.object.id}`

  const signals: Signal[] = []
  if (isLogin) {
    if (e.account) signals.push({ kind: 'account', key: e.account, e })
    if (e.ip) signals.push({ kind: 'ip', key: e.ip, e })
    if (e.net && e.net !== e.ip) signals.push({ kind: 'net', key: e.net, e })
  }
  if (isSession && event.user) signals.push({ kind: 'user', key: event.user, e })
  if (isSpam && event.user) signals.push({ kind: 'tenant', key: event.tenant, e })
  if (isReport) {
    if (e.target) signals.push({ kind: 'target', key: e.target, e })
    if (event.user) signals.push({ kind: 'actor', key: event.user, e })
  }
  return signals
}

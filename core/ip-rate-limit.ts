import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { SporError } from './errors.ts'

/**
 * A per-client-address request limit that runs before authentication: without it every
 * unauthenticated request (a random well-formed key costs a key lookup) was free. Fixed windows
 * counted in a bounded LRU, so a flood of distinct addresses costs at most `maxAddresses` small
 * entries. IPv6 clients are counted per /64: one host usually holds a whole /64 and could
 * otherwise rotate through it.
 */
export interface IpRateLimitOptions {
  /** Requests per window per address; 0 turns the limit off. */
  max: number
  windowMs: number
  maxAddresses?: number
  /** The address to count; defaults to `request.ip`. */
  addressOf?: (request: FastifyRequest) => string
}

export function addressBucket(ip: string): string {
  if (isIP(ip) !== 6) return ip
  const lower = ip.toLowerCase()
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7)
  // Expand to eight groups and keep the first four (the /64).
  const [head = '', tail = ''] = lower.split('::')
  const headGroups = head ? head.split(':') : []
  const tailGroups = lower.includes('::') ? (tail ? tail.split(':') : []) : []
  const groups = lower.includes('::')
    ? [
        ...headGroups,
        ...Array(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'),
        ...tailGroups,
      ]
    : headGroups
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

export function installIpRateLimit(app: FastifyInstance, options: IpRateLimitOptions): void {
  if (options.max <= 0) return
  const windows = new LRUCache<string, { start: number; count: number }>({
    max: options.maxAddresses ?? 100_000,
  })
  const addressOf = options.addressOf ?? ((request: FastifyRequest) => request.ip)
  app.addHook('onRequest', async (request, reply) => {
    const now = Date.now()
    const bucket = addressBucket(addressOf(request))
    let window = windows.get(bucket)
    if (!window || now - window.start >= options.windowMs) {
      window = { start: now, count: 0 }
      windows.set(bucket, window)
    }
    window.count++
    if (window.count > options.max) {
      reply.header('retry-after', String(Math.ceil((window.start + options.windowMs - now) / 1000)))
      throw new SporError('SPOR_ERR_RATE_LIMITED', 'too many requests from this address')
    }
  })
}

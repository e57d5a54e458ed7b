import { createHmac } from 'node:crypto'
import { requirePseudonymKey, type SporConfig } from '../core/config.ts'

/**
 * The anonymity rules every statistic passes through before it leaves spor (S6, DESIGN.md
 * "Anonymity rules"). Layers, each cheap and each covering a hole the others leave:
 *
 * 1. k-threshold: a group with fewer than k distinct users is never shown on its own.
 * 2. Complementary suppression: the hidden groups are merged into one "other" group. If that
 *    group would itself have fewer than k users, the smallest visible groups are folded into it
 *    until it has k (or everything is hidden) — otherwise "total minus the visible groups" would
 *    isolate the hidden few (the classic differencing of a total against its parts).
 * 3. Sticky noise in data space (statistics routes): every count gets noise whose seed is an
 *    HMAC of a server secret and the cell's *content* — the day rows it unites, its user-set
 *    sketch and its true user count (not its events: activity added by a member would redraw
 *    it) — never the phrasing of the question. Every way of reaching the
 *    same rows (another range padded with empty days, endpoint, interval, key, instance, a
 *    restart) gives the same number, so averaging rephrasings gains nothing; cells that differ
 *    by one person get independent noise (their difference is not a clean ±1).
 * 4. Noisy threshold: a cell is shown only when its true distinct users reach a sticky noisy
 *    threshold (never below k) seeded by the same content, so "shown or not" is not a clean
 *    "has at least k" oracle for an attacker who pads a cell with k − 1 invented users.
 * 5. Coarse, closed vocabulary (routes): equality filters only (tenant, module), no negation,
 *    one breakdown dimension at a time, time bounds snapped to whole UTC days / interval units,
 *    plus a budget of distinct questions per data scope (query/stats/budget.ts).
 */

export interface SuppressionResult<T> {
  /** Groups with at least k users, in input order. */
  groups: T[]
  /** The hidden groups merged (only present when it has at least k users). */
  other?: T
  /** How many input groups are not shown individually. */
  suppressed: number
}

/**
 * Hides groups below k distinct users and folds them into "other".
 *
 * `merge` combines groups into the "other" group (distinct users are not additive, so the
 * caller supplies the union — e.g. a HyperLogLog merge); without it, users are summed, which
 * over-counts and therefore may show an "other" that really has fewer than k users: pass
 * `merge` whenever groups can share users.
 */
export function suppressBelowK<T extends { users: number }>(
  groups: T[],
  k: number,
  merge?: (parts: T[]) => T,
  /** Whether a group may be shown; default "at least k users" (a noisy threshold goes here). */
  passes: (group: T) => boolean = (group) => group.users >= k,
): SuppressionResult<T> {
  const combine = merge ?? ((parts: T[]) => sumUsers(parts))
  const shows = (g: T) => g.users >= k && passes(g)
  const visible = groups.filter(shows)
  const hidden = groups.filter((g) => !shows(g))
  if (hidden.length === 0) return { groups: visible, suppressed: 0 }

  // Fold the smallest visible groups into "other" until it reaches k users. Hidden groups
  // without any user (anonymous visitors only) single out nobody: they need no cover.
  const bySize = [...visible].sort((a, b) => a.users - b.users)
  const folded = new Set<T>()
  let other = combine(hidden)
  while (other.users > 0 && !shows(other) && bySize.length > 0) {
    const next = bySize.shift() as T
    folded.add(next)
    other = combine([...hidden, ...folded])
  }
  const shown = visible.filter((g) => !folded.has(g))
  const suppressed = hidden.length + folded.size
  return shows(other) ? { groups: shown, other, suppressed } : { groups: shown, suppressed }
}

function sumUsers<T extends { users: number }>(parts: T[]): T {
  const base = { ...(parts[0] as T) }
  base.users = parts.reduce((sum, p) => sum + p.users, 0)
  return base
}

/**
 * The secret of every sticky-noise seed (statistics and segment sizes), derived from the
 * pseudonym key so it survives restarts and is the same on every `spor query` instance.
 * Without noise (`SPOR_STATS_NOISE_SD=0`) no key is needed.
 */
export function statsNoiseSecret(config: SporConfig): Buffer {
  return config.query.statsNoiseSd > 0
    ? createHmac('sha256', requirePseudonymKey(config)).update('spor/stats-noise/v1').digest()
    : Buffer.alloc(32)
}

/**
 * A deterministic standard-normal sample from a secret and a seed string: the same secret and
 * seed always give the same value ("sticky"), different seeds give independent values.
 */
export function stickyGaussian(secret: Buffer, seed: string): number {
  const digest = createHmac('sha256', secret).update(seed).digest()
  // Two 48-bit uniforms in (0, 1) → Box–Muller.
  const u1 = (digest.readUIntBE(0, 6) + 1) / 2 ** 48
  const u2 = digest.readUIntBE(6, 6) / 2 ** 48
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/**
 * A count with sticky noise: rounded, never negative. `scale` widens the noise for counts where
 * one person contributes many units (events, sessions): the noise must cover one person's
 * typical contribution, not just one unit.
 */
export function noisyCount(
  value: number,
  options: { secret: Buffer; seed: string; sd: number; scale?: number },
): number {
  if (options.sd <= 0) return Math.round(value)
  const noise = stickyGaussian(options.secret, options.seed) * options.sd * (options.scale ?? 1)
  return Math.max(0, Math.round(value + noise))
}

/** How far above k the noisy threshold's mean sits, in units of its sd (Diffix uses 2). */
export const THRESHOLD_SHIFT_SD = 2

/**
 * A cell's sticky noisy threshold: k + sd·(2 + g), g a sticky standard normal seeded by the
 * cell's content, never below k (the hard rule). With sd 1 the threshold is ~k + 2, below
 * k + 1 only 2.3 % of the time, so k − 1 invented users plus one real person cross it rarely;
 * each added fake user moves the crossing chance along the normal curve (DESIGN.md).
 */
export function noisyThreshold(k: number, options: { secret: Buffer; seed: string; sd: number }): number {
  if (options.sd <= 0) return k
  const g = stickyGaussian(options.secret, `threshold|${options.seed}`)
  return Math.max(k, k + options.sd * (THRESHOLD_SHIFT_SD + g))
}

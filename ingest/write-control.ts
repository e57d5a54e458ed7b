import { sleep } from '../core/backoff.ts'

/** How a batch's I/O stays honest during a long outage: Kafka session, rebalance, shutdown. */
export interface WriteControl {
  /** False when the batch should be abandoned (shutdown, partition revoked). */
  shouldContinue: () => boolean
  /** Keeps the consumer's group membership alive while we wait; throws on rebalance. */
  heartbeat: () => Promise<void>
  signal?: AbortSignal
}

export class BatchAbandoned extends Error {
  constructor() {
    super('batch abandoned before delivery (shutdown or rebalance); its offsets stay uncommitted')
    this.name = 'BatchAbandoned'
  }
}

const HEARTBEAT_SLICE_MS = 3000

/** Waits `ms` in slices shorter than the Kafka session timeout, heartbeating in between. */
export async function waitWithHeartbeat(ms: number, control: WriteControl): Promise<void> {
  const until = Date.now() + ms
  do {
    await control.heartbeat()
    await sleep(Math.min(HEARTBEAT_SLICE_MS, Math.max(0, until - Date.now())), control.signal)
  } while (Date.now() < until && control.shouldContinue())
  if (!control.shouldContinue()) throw new BatchAbandoned()
}

/**
 * Awaits `work` while heartbeating every few seconds: a bulk request to a busy or just-restarted
 * cluster can take longer than the Kafka session timeout, and a member that stays silent that
 * long is removed from the group (its commit then fails with "not aware of this member").
 */
export async function whileHeartbeating<T>(work: Promise<T>, control: WriteControl): Promise<T> {
  let settled = false
  const done = work.finally(() => {
    settled = true
  })
  done.catch(() => {}) // awaited below, unless a heartbeat fails first (then the caller gives up)
  for (;;) {
    const tick = new Promise<'tick'>((resolve) => {
      const timer = setTimeout(() => resolve('tick'), HEARTBEAT_SLICE_MS)
      done.finally(() => clearTimeout(timer)).catch(() => {})
    })
    const first = await Promise.race([done, tick])
    if (settled || first !== 'tick') return done
    await control.heartbeat()
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { PrivacyService } from '../privacy/service.ts'
import { startTombstoneCache } from '../privacy/tombstones.ts'
import { produce, waitForCommittedToEnd } from './helpers/ingest.ts'
import { startIngestWithTombstones } from './helpers/privacy-fixture.ts'
import { countDocs, createTestEnv, TEST_PSEUDONYM_KEY, type TestEnv, waitFor } from './helpers/test-env.ts'

const NEW_KEY = 'rotated-pseudonym-key-fedcba9876543210'
const now = () => new Date()
let seq = 0
const view = (user: string): SporEvent => ({
  v: 1,
  id: `rot-${user}-${seq++}`,
  type: 'page.view',
  ts: now().toISOString(),
  tenant: 'acme',
  user,
  session: `s-${user}`,
  module: 'crm',
})
const byUser = (user: string) => ({ bool: { filter: [{ term: { 'user.id': user } }] } })

/**
 * S9 across a pseudonym-key rotation: erasure tombstones are keyed hashes, so a tombstone made
 * under the old key does not match under the new one. With the old key kept in
 * SPOR_PSEUDONYM_KEY_PREVIOUS (used for recognising tombstones only), the erased person's new
 * events are still refused after the rotation; without it they would come back.
 */
describe('pseudonym-key rotation keeps erased people erased', () => {
  let t: TestEnv

  beforeAll(async () => {
    t = await createTestEnv('rotation', { SPOR_TOMBSTONE_REFRESH_MS: '500', SPOR_ERASE_GRACE_MS: '0' })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  /** The same installation after the rotation, with or without the old key kept. */
  function rotated(keepOld: boolean): TestEnv {
    const env = {
      ...t.env,
      SPOR_PSEUDONYM_KEY: NEW_KEY,
      ...(keepOld ? { SPOR_PSEUDONYM_KEY_PREVIOUS: TEST_PSEUDONYM_KEY } : {}),
    }
    return { ...t, env, config: loadConfig(env) }
  }

  it('refuses the erased person under the new key, and re-erasing re-keys the tombstone', async () => {
    // Before the rotation: two people's events indexed, then one of them erased.
    const before = await startIngestWithTombstones(t)
    await produce(t, [view('gone'), view('kept')])
    await waitFor(
      () => countDocs(t),
      (n) => n === 2,
      { what: 'both first events' },
    )
    const oldPrivacy = new PrivacyService({ es: t.es, config: t.config, log: t.log })
    const receipt = await oldPrivacy.erase('acme', 'gone', { key: 'cli' })
    expect(receipt).toBeDefined()
    await waitFor(
      async () => before.isErased('acme', 'gone'),
      (erased) => erased,
      { what: 'the old-key consumer to see the tombstone' },
    )
    await before.stop()
    expect(await countDocs(t, 'short-*', byUser('gone'))).toBe(0)

    // The failure this guards against: under the new key alone the old tombstone matches nobody.
    const newKeyOnly = await startTombstoneCache(t.es, rotated(false).config, t.log)
    expect(newKeyOnly.size).toBe(1)
    expect(newKeyOnly.isErased('acme', 'gone')).toBe(false)
    newKeyOnly.stop()

    // After the rotation, with the old key kept for tombstones: the erased person's new events
    // are refused, the other person's are indexed (and everything is committed, so "refused" is
    // an outcome, not events still on their way).
    const after = rotated(true)
    const ingest = await startIngestWithTombstones(after)
    try {
      expect(ingest.isErased('acme', 'gone')).toBe(true)
      expect(ingest.isErased('acme', 'kept')).toBe(false)
      await produce(after, [view('gone'), view('kept'), view('gone')])
      await waitFor(
        () => countDocs(t, 'short-*', byUser('kept')),
        (n) => n === 2,
        { what: "the kept person's new event" },
      )
      await waitForCommittedToEnd(after)
      expect(await countDocs(t, 'short-*', byUser('gone'))).toBe(0)

      // Erasing again under the new key finds the old tombstone (not a 404) and writes the
      // new key's tombstone: from then on the old key is no longer needed for this person.
      const newPrivacy = new PrivacyService({ es: t.es, config: after.config, log: t.log })
      expect(await newPrivacy.erase('acme', 'gone', { key: 'cli' })).toBeDefined()
      const rekeyed = await startTombstoneCache(t.es, rotated(false).config, t.log)
      expect(rekeyed.isErased('acme', 'gone')).toBe(true)
      expect(rekeyed.isErased('acme', 'kept')).toBe(false)
      rekeyed.stop()
    } finally {
      await ingest.stop()
    }
  })
})

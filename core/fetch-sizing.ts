import { createRequire } from 'node:module'

/**
 * Kafka bounds a fetch in bytes *on the wire*, and kafkajs decodes a whole fetch response at
 * once. For uncompressed batches that is the memory the records take; for compressed ones it is
 * not: JSON events in zstd batches decode to about 17 times their fetched size (bench, 2026-12-02),
 * so a fetch sized for 2.7 MB per partition became the whole 100 k-event topic in memory at once
 * (spor ingest's peak RSS 420–470 MB with zstd batches, 300–350 MB without).
 *
 * So fetch sizes are budgets in *decoded* bytes: before each fetch they are divided by the
 * expansion recently observed in the codecs (decoded ÷ compressed bytes of the batches decoded
 * during the last fetches). It rises at once when a fetch decodes larger (a new producer starts
 * compressing) and falls back by a quarter of the way per fetch that decoded no compressed
 * batch. Until the first fetch it assumes INITIAL_EXPANSION: a compressed topic's first fetch is
 * then not the whole topic, and an uncompressed topic's is small once.
 *
 * kafkajs reads the sizes from its ConsumerGroup on every fetch but offers no way to change them
 * after `kafka.consumer()`: the one reach into its internals is a wrapper around
 * `ConsumerGroup.prototype.fetch` (kafkajs 2.2.x, unmaintained since 2023, pinned by the lock
 * file) that sets them for the groups registered here. test/ingest-fetch-sizing checks it.
 */
export const INITIAL_EXPANSION = 8
const WIRE_MIN_BYTES = 1024

/** Bytes handed to the codecs and the bytes they returned, since the process started. */
export const codecBytes = { compressed: 0, decoded: 0 }

export interface DecodedFetchBudget {
  /** Decoded bytes a whole fetch response may hold. */
  maxBytes: number
  /** Decoded bytes of one partition in a fetch. */
  maxBytesPerPartition: number
  /** The floor of both (one maximal record), before dividing by the expansion. */
  minBytes: number
}

interface ConsumerGroupInternals {
  groupId: string
  maxBytes: number
  maxBytesPerPartition: number
  fetch(nodeId: number): Promise<{ isEmpty(): boolean }[]>
}

const budgets = new Map<string, DecodedFetchBudget>()
let expansion = INITIAL_EXPANSION
let installed = false

/** The decoded-to-fetched ratio the next fetches are sized with. */
export function fetchExpansion(): number {
  return expansion
}

/** Wire sizes for a decoded budget at an expansion. */
export function wireSizes(
  budget: DecodedFetchBudget,
  ratio: number,
): { maxBytes: number; maxBytesPerPartition: number } {
  // No floor of one maximal record on the wire: a broker returns the first record batch of a
  // partition whole even when it is larger than the limit (KIP-74), so a fetch always progresses.
  const scale = (bytes: number) =>
    Math.max(WIRE_MIN_BYTES, Math.floor(Math.max(budget.minBytes, bytes) / Math.max(1, ratio)))
  return { maxBytes: scale(budget.maxBytes), maxBytesPerPartition: scale(budget.maxBytesPerPartition) }
}

/** The next expansion after a fetch that decoded `decoded` bytes from `compressed` (0 and 0: none). */
export function nextExpansion(current: number, compressed: number, decoded: number): number {
  const seen = compressed > 0 ? Math.max(1, decoded / compressed) : 1
  return seen >= current ? seen : current * 0.75 + seen * 0.25
}

/**
 * Sizes the fetches of consumer group `groupId` (kafkajs consumers created after or before this
 * call, in this process) from a budget in decoded bytes.
 */
export function sizeFetchesByDecodedBytes(groupId: string, budget: DecodedFetchBudget): void {
  budgets.set(groupId, budget)
  if (installed) return
  installed = true
  const require = createRequire(import.meta.url)
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as {
    prototype: ConsumerGroupInternals
  }
  const fetch = ConsumerGroup.prototype.fetch
  if (typeof fetch !== 'function')
    throw new Error('kafkajs ConsumerGroup has no fetch method: fetch sizing cannot apply')
  ConsumerGroup.prototype.fetch = async function sizedFetch(this: ConsumerGroupInternals, nodeId: number) {
    const budget = budgets.get(this.groupId)
    if (!budget) return fetch.call(this, nodeId)
    Object.assign(this, wireSizes(budget, expansion))
    const before = { ...codecBytes }
    const batches = await fetch.call(this, nodeId)
    // Concurrent fetches (one per broker) share the counters: each sees the others' batches too,
    // which only makes the estimate a process-wide one. An idle fetch (no records) says nothing.
    if (batches.some((batch) => !batch.isEmpty()))
      expansion = nextExpansion(
        expansion,
        codecBytes.compressed - before.compressed,
        codecBytes.decoded - before.decoded,
      )
    return batches
  }
}

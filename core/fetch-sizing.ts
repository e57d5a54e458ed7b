import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import { Gauge } from 'prom-client'

/**
 * Kafka bounds a fetch in bytes *on the wire*, and kafkajs decodes a whole fetch response at
 * once. For uncompressed batches that is the memory the records take; for compressed ones it is
 * not: JSON events in zstd batches decode to about 17 times their fetched size (bench, 2026-12-02),
 * so a fetch sized for 2.7 MB per partition became the whole 100 k-event topic in memory at once
 * (spor ingest's peak RSS 420–470 MB with zstd batches, 300–350 MB without).
 *
 * So fetch sizes are budgets in *decoded* bytes: before each fetch they are divided by the
 * expansion the group's last fetches showed (the records' decoded bytes ÷ their bytes on the
 * wire, compressed batches as the codecs measured them, uncompressed ones as they are). It rises
 * at once when a fetch decodes larger (a producer starts compressing) and falls back a quarter
 * of the way per fetch that decoded smaller. The first fetch assumes INITIAL_EXPANSION, about
 * twice the most JSON events in zstd batches showed, so it stays within the budget (and an
 * uncompressed topic's is small once); what that fetch shows replaces the assumption. A codec
 * counts its bytes to the fetch in whose async context it decodes (AsyncLocalStorage): fetches
 * from several brokers at once, and other groups, do not blur each other's figure. It is an
 * estimate: the first fetch after compression rises still decodes more than the budget (up to
 * the new expansion ÷ the old one times it).
 *
 * The whole-fetch budget is split between the brokers the group fetches from (kafkajs fetches
 * from each at once). A partition's limit never goes below `minBytes` or the largest compressed
 * batch the group has seen: the broker returns an oversized first batch only for the first
 * partition with data in a response (KIP-74); for the others it returns no record of it (an
 * empty set, or a truncated batch that kafkajs drops), and they would wait until the first
 * partition's backlog is gone. For the same reason a fetch whose partition limit is set by that
 * floor holds one such batch of every partition asked for. (Which partition is first is random:
 * kafkajs shuffles the partitions of every fetch request. A partition whose next batch is larger
 * than any seen waits for that draw; once one of that size is seen, it waits no more.)
 *
 * kafkajs reads the sizes from its ConsumerGroup on every fetch but offers no way to change them
 * after `kafka.consumer()`: the one reach into its internals is a wrapper around
 * `ConsumerGroup.prototype.fetch` (kafkajs 2.2.x, unmaintained since 2023, pinned by the lock
 * file) that sets them for the groups registered here. test/ingest-fetch-sizing checks it.
 */
const INITIAL_EXPANSION = 32

/**
 * The header of a Kafka record batch (v2, magic 2), around its compressed records: the broker
 * counts whole batches against a fetch's limits, so a floor of the records alone would keep out
 * the very batch that set it.
 */
export const RECORD_BATCH_OVERHEAD = 61

/** Bytes handed to the codecs and the bytes they returned. */
export interface CodecCount {
  compressed: number
  decoded: number
}

/** A fetch's codec work: its totals, and its largest input (one batch's records, no header). */
interface FetchCodecCount extends CodecCount {
  largest: number
}

/** The codecs' bytes of the fetch running in the current async context. */
const fetchCodecBytes = new AsyncLocalStorage<FetchCodecCount>()

/** Called by the codecs (core/codecs.ts) for every batch they decode. */
export function countDecodedBatch(compressed: number, decoded: number): void {
  const count = fetchCodecBytes.getStore()
  if (!count) return
  count.compressed += compressed
  count.decoded += decoded
  if (compressed > count.largest) count.largest = compressed
}

export interface DecodedFetchBudget {
  /** Decoded bytes all fetches of the group (one per broker) may hold at once. */
  maxBytes: number
  /** Decoded bytes of one partition in a fetch. */
  maxBytesPerPartition: number
  /** The floor of a partition's wire limit (one maximal record), never divided. */
  minBytes: number
}

interface FetchedBatch {
  isEmpty(): boolean
  messages: { key?: Buffer | null; value: Buffer | null }[]
}

interface ConsumerGroupInternals {
  groupId: string
  maxBytes: number
  maxBytesPerPartition: number
  fetch(nodeId: number): Promise<FetchedBatch[]>
}

interface GroupSizing {
  budget: DecodedFetchBudget
  expansion: number
  /** False until a fetch with records has shown the expansion (INITIAL_EXPANSION until then). */
  learnt: boolean
  /** Partitions each broker was last asked for (one batch per partition in its answer). */
  brokers: Map<number, number>
  /** The largest compressed batch the group's fetches decoded, header included (the floor). */
  largestBatch: number
}

const groups = new Map<string, GroupSizing>()
let installed = false

// In every process that sizes fetches (spor ingest, spor detect): one series per group.
new Gauge({
  name: 'spor_kafka_fetch_expansion',
  help: 'Decoded bytes per fetched byte of recent Kafka batches (compression), by which fetch sizes are divided',
  labelNames: ['group'],
  collect() {
    for (const [group, sizing] of groups) this.set({ group }, sizing.expansion)
  },
})

/** The decoded-to-fetched ratio a group's next fetches are sized with (undefined: not sized). */
export function fetchExpansion(groupId: string): number | undefined {
  return groups.get(groupId)?.expansion
}

/**
 * Wire sizes for a decoded budget at an expansion, split between `brokers` fetching at once.
 * `partitions`: how many partitions one fetch asks the broker for (1 until known).
 */
export function wireSizes(
  budget: DecodedFetchBudget,
  ratio: number,
  brokers = 1,
  largestBatch = 0,
  partitions = 1,
): { maxBytes: number; maxBytesPerPartition: number } {
  const divisor = Math.max(1, ratio)
  const share = Math.floor(budget.maxBytesPerPartition / divisor)
  const maxBytesPerPartition = Math.max(budget.minBytes, largestBatch, share)
  // When the floor (one batch or record) is above the partition's share, a whole fetch must
  // still hold one of every partition: the broker fills the response in partition order, so with
  // room for one only, the first partition with data would take every fetch and the others wait.
  const perFetch = maxBytesPerPartition > share ? maxBytesPerPartition * Math.max(1, partitions) : 0
  const maxBytes = Math.max(
    maxBytesPerPartition,
    perFetch,
    Math.floor(budget.maxBytes / divisor / Math.max(1, brokers)),
  )
  return { maxBytes, maxBytesPerPartition }
}

/**
 * The next expansion after a fetch whose records take `decoded` bytes and took `wire` bytes;
 * `first`: the group's first fetch with records, whose figure replaces the assumed one.
 */
export function nextExpansion(current: number, wire: number, decoded: number, first = false): number {
  const seen = wire > 0 ? Math.max(1, decoded / wire) : 1
  return seen >= current || first ? seen : current * 0.75 + seen * 0.25
}

/**
 * The wire bytes of a fetch's records (`decoded` bytes of keys and values): compressed ones as
 * the codecs counted them, the rest as they are. The codecs also decode what kafkajs then drops
 * (records before the fetch offset when a fetch starts inside a batch, control records): only
 * the kept share of their input counts, else a fetch that starts late in a large batch would
 * read as no compression at all.
 */
export function wireBytesOf(decoded: number, codecs: CodecCount): number {
  const fromCodecs = Math.min(decoded, codecs.decoded)
  const keptShare = codecs.decoded > 0 ? fromCodecs / codecs.decoded : 0
  return decoded - fromCodecs + codecs.compressed * keptShare
}

function recordBytes(batches: FetchedBatch[]): number {
  let bytes = 0
  for (const batch of batches)
    for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0)
  return bytes
}

/**
 * Sizes the fetches of consumer group `groupId` (kafkajs consumers created after or before this
 * call, in this process) from a budget in decoded bytes.
 */
export function sizeFetchesByDecodedBytes(groupId: string, budget: DecodedFetchBudget): void {
  groups.set(groupId, {
    budget,
    expansion: INITIAL_EXPANSION,
    learnt: false,
    brokers: new Map(),
    largestBatch: 0,
  })
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
    const sizing = groups.get(this.groupId)
    if (!sizing) return fetch.call(this, nodeId)
    if (!sizing.brokers.has(nodeId)) sizing.brokers.set(nodeId, 1)
    Object.assign(
      this,
      wireSizes(
        sizing.budget,
        sizing.expansion,
        sizing.brokers.size,
        sizing.largestBatch,
        sizing.brokers.get(nodeId),
      ),
    )
    const codecs: FetchCodecCount = { compressed: 0, decoded: 0, largest: 0 }
    const batches = await fetchCodecBytes.run(codecs, () => fetch.call(this, nodeId))
    sizing.brokers.set(nodeId, Math.max(1, batches.length))
    if (codecs.largest > 0)
      sizing.largestBatch = Math.max(sizing.largestBatch, codecs.largest + RECORD_BATCH_OVERHEAD)
    if (!batches.some((batch) => !batch.isEmpty())) return batches // idle: says nothing
    const decoded = recordBytes(batches)
    const wire = wireBytesOf(decoded, codecs)
    sizing.expansion = nextExpansion(sizing.expansion, wire, decoded, !sizing.learnt)
    sizing.learnt = true
    return batches
  }
}

/**
 * Registers the group's decoded budget and returns the wire sizes to create its consumer with
 * (the first fetch's, at INITIAL_EXPANSION).
 */
export function decodedFetchSizes(
  groupId: string,
  budget: DecodedFetchBudget,
): { maxBytes: number; maxBytesPerPartition: number } {
  sizeFetchesByDecodedBytes(groupId, budget)
  return wireSizes(budget, INITIAL_EXPANSION)
}

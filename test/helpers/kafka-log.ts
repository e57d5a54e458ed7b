import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { SporEvent } from '../../core/event-schema.ts'
import { partitionKey } from '../../ingest/collector/app.ts'
import { type JavaRecord, produceWithJava } from './java-producer.ts'
import type { TestEnv } from './test-env.ts'

/** The broker's log directory (the local stack runs on this machine). */
export async function brokerLogDir(t: TestEnv): Promise<string> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    const { brokers } = await admin.describeCluster()
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 4 /* BROKER */, name: String(brokers[0]!.nodeId), configNames: ['log.dirs'] }],
    })
    return resources[0]!.configEntries.find((e) => e.configName === 'log.dirs')!.configValue.split(',')[0]!
  } finally {
    await admin.disconnect()
  }
}

/** The compression codec id (attributes & 7) of every record batch stored for a topic. */
export async function storedBatchCodecs(t: TestEnv, topic: string): Promise<number[]> {
  const dir = await brokerLogDir(t)
  const codecs: number[] = []
  for (const folder of readdirSync(dir).filter((f) => f.startsWith(`${topic}-`))) {
    for (const file of readdirSync(join(dir, folder)).filter((f) => f.endsWith('.log'))) {
      const bytes = readFileSync(join(dir, folder, file))
      for (let at = 0; at + 61 <= bytes.length; at += 12 + bytes.readInt32BE(at + 8)) {
        codecs.push(bytes.readInt16BE(at + 21) & 7)
      }
    }
  }
  return codecs
}

/** The header of xerial-framed snappy (the Java client's framing of snappy batches). */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])

/**
 * Writes the parts in order with the Java client to partition 0 (one batch per part), then
 * damages the one snappy batch's first chunk length on the broker's disk: the broker validates
 * what producers send, so bit rot is how an undecodable batch reaches consumers.
 */
export async function produceWithRottedSnappyBatch(
  t: TestEnv,
  parts: readonly (readonly [JavaRecord['codec'], readonly SporEvent[]])[],
): Promise<void> {
  const records = parts.flatMap(([codec, events]) =>
    events.map((e) => ({ codec, key: partitionKey(e), value: JSON.stringify(e) })),
  )
  await produceWithJava(t.config.kafka.brokers.join(','), t.config.kafka.eventsTopic, records)
  const segment = join(await brokerLogDir(t), `${t.config.kafka.eventsTopic}-0`, '00000000000000000000.log')
  const at = readFileSync(segment).indexOf(XERIAL_MAGIC)
  if (at <= 0) throw new Error(`no snappy batch in ${segment}`)
  if (readFileSync(segment).indexOf(XERIAL_MAGIC, at + 1) !== -1)
    throw new Error('the snappy records were split into two batches')
  const fd = openSync(segment, 'r+')
  writeSync(fd, Buffer.from([0x7f, 0xff, 0xff, 0xff]), 0, 4, at + 16) // first chunk "2 GiB long"
  closeSync(fd)
}

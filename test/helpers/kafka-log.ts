import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
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

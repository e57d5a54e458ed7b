import type { Client } from '@elastic/elasticsearch'
import type { Kafka } from 'kafkajs'

/**
 * Removes everything an isolated installation (tests, benchmarks) created under `prefix`:
 * indices by exact name (the cluster refuses wildcard deletes), index templates and topics.
 */
export async function dropInstallation(es: Client, kafka: Kafka, prefix: string): Promise<void> {
  const rows = (await es.cat
    .indices({ index: `${prefix}-*`, format: 'json', h: 'index' })
    .catch(() => [])) as {
    index?: string
  }[]
  const names = rows.map((r) => r.index!).filter(Boolean)
  if (names.length > 0) await es.indices.delete({ index: names, ignore_unavailable: true })
  const templates = await es.indices
    .getIndexTemplate({ name: `${prefix}-*` })
    .catch(() => ({ index_templates: [] }))
  for (const t of templates.index_templates) await es.indices.deleteIndexTemplate({ name: t.name })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`))
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {})
  } finally {
    await admin.disconnect()
  }
}

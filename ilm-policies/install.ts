import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import { hasIlm, replicaSettings } from '../core/es.ts'
import { classPattern, currentPattern, MISSING_INDICES_ARE_EMPTY, parseClassIndex } from '../core/indices.ts'
import { RETENTION_CLASSES } from '../core/retention.ts'
import { firstShapeAliases } from './mappings.ts'
import { lifecyclePolicy, policyName } from './policies.ts'
import { indexTemplate, registeredClasses } from './templates.ts'

export interface InstallReport {
  ilm: boolean
  policies: string[]
  templates: string[]
}

/**
 * Installs lifecycle policies (when the cluster has ILM) and the strict index templates, and adds
 * new template fields to existing daily indices. Idempotent: PUT replaces what is there with the
 * same definition.
 */
export async function installIndexSetup(es: Client, config: SporConfig): Promise<InstallReport> {
  const prefix = config.es.indexPrefix
  const ilm = await hasIlm(es)
  const policies: string[] = []
  if (ilm) {
    for (const cls of RETENTION_CLASSES) {
      const name = policyName(prefix, cls)
      await es.ilm.putLifecycle({ name, policy: lifecyclePolicy(cls, config.retentionDays) })
      policies.push(name)
    }
  }
  const templates: string[] = []
  for (const cls of registeredClasses()) {
    const template = indexTemplate(prefix, cls, {
      ilm,
      replicas: replicaSettings(config.esConnection.replicas),
    })
    await es.indices.putIndexTemplate(template)
    templates.push(template.name)
    // Indices made under an older template get the fields added since (a strict mapping
    // would refuse them); changing an existing field fails here, loudly, rather than at write.
    // Only the indices the template is for: first-shape event indices get aliases instead.
    await es.indices.putMapping({
      index: currentPattern(prefix, cls),
      allow_no_indices: true,
      properties: template.template!.mappings!.properties!,
    })
  }
  await addFirstShapeAliases(es, prefix)
  return { ilm, policies, templates }
}

/**
 * Gives every first-shape event index (field names before ECS) aliases by the ECS names, so
 * readers' queries find its documents until `spor migrate` has moved them. Idempotent.
 */
export async function addFirstShapeAliases(es: Client, prefix: string): Promise<string[]> {
  const mappings = await es.indices.getMapping({
    index: [classPattern(prefix, 'short'), classPattern(prefix, 'long')],
    ...MISSING_INDICES_ARE_EMPTY,
  })
  const aliased: string[] = []
  for (const [index, { mappings: mapping }] of Object.entries(mappings)) {
    const parsed = parseClassIndex(index)
    if (parsed?.prefix !== prefix || parsed.generation !== 'first') continue
    const aliases = firstShapeAliases(mapping.properties ?? {})
    if (Object.keys(aliases).length === 0) continue
    await es.indices.putMapping({ index, properties: aliases })
    aliased.push(index)
  }
  return aliased
}

import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import { hasIlm, replicaSettings } from '../core/es.ts'
import { classPattern } from '../core/indices.ts'
import { RETENTION_CLASSES } from '../core/retention.ts'
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
    // Daily indices made under an older template get the fields added since (a strict mapping
    // would refuse them); changing an existing field fails here, loudly, rather than at write.
    await es.indices.putMapping({
      index: classPattern(prefix, cls),
      allow_no_indices: true,
      properties: template.template!.mappings!.properties!,
    })
  }
  return { ilm, policies, templates }
}

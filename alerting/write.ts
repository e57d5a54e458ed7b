import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { alertRulesYaml } from './rules.ts'

// `npm run alerts`: regenerates the rule file from the table.
const file = join(import.meta.dirname, 'spor-alerts.yml')
writeFileSync(file, alertRulesYaml())
console.log(`wrote ${file}`)

import type { Command } from 'commander'
import { loadConfig } from '../core/config.ts'
import { createKafka, createProducer, waitForKafka } from '../core/kafka.ts'
import { createLogger } from '../core/logger.ts'
import { startupOptions } from '../core/startup.ts'
import { RuleBook } from '../detect/rule-config.ts'
import { runDetect } from '../detect/run.ts'
import { attackScenarios, benignScenarios } from '../generate/attacks.ts'
import { produceEvents } from '../generate/produce.ts'

/** `spor detect`: the misuse detector; `rules` shows the effective rules, `attack` plays scenarios. */
export function registerDetectCommands(program: Command): void {
  const detect = program
    .command('detect')
    .description(
      'misuse detection: streaming rules over logins and usage, alerts to Elasticsearch, Kafka and a webhook',
    )
    .action(async () => {
      const config = loadConfig()
      await runDetect(config, createLogger('detect', config.logLevel))
    })

  detect
    .command('rules')
    .description('print the effective rules (defaults, SPOR_DETECT_RULES_FILE overrides) as JSON')
    .option('--tenant <tenant>', 'with this tenant’s overrides applied')
    .action((options: { tenant?: string }) => {
      const config = loadConfig()
      const book = RuleBook.fromFile(config.detect.rulesFile)
      console.log(JSON.stringify(book.for(options.tenant ?? '*'), null, 2))
    })

  detect
    .command('attack')
    .description('produce the scripted attack scenarios (and benign look-alikes) to the events topic')
    .option('--tenant <tenant>', 'tenant the scenarios play in', 'acme')
    .option('--seed <n>', 'seed for reproducible ids and timing', '1')
    .option('--only <names>', 'comma-separated scenario names (default: all)')
    .option('--benign', 'also produce the benign look-alikes')
    .option('--json', 'print the scenarios and counts as JSON')
    .action(
      async (options: { tenant: string; seed: string; only?: string; benign?: boolean; json?: boolean }) => {
        const config = loadConfig()
        const log = createLogger('detect-attack', config.logLevel)
        const base = { seed: Number(options.seed), tenant: options.tenant, end: new Date() }
        const wanted = options.only?.split(',').map((s) => s.trim())
        const scenarios = [...attackScenarios(base), ...(options.benign ? benignScenarios(base) : [])].filter(
          (s) => !wanted || wanted.includes(s.name),
        )
        const kafka = createKafka(config, log)
        await waitForKafka(kafka, startupOptions(config, log))
        const producer = createProducer(kafka)
        await producer.connect()
        const sent = await produceEvents(
          producer,
          config.kafka.eventsTopic,
          scenarios.flatMap((s) => s.events),
        )
        await producer.disconnect()
        if (options.json) {
          const list = scenarios.map((s) => ({ name: s.name, events: s.events.length, expect: s.expect }))
          console.log(JSON.stringify({ sent, topic: config.kafka.eventsTopic, scenarios: list }, null, 2))
          return
        }
        for (const s of scenarios) {
          console.log(
            `${s.name.padEnd(22)} ${String(s.events.length).padStart(4)} events  expects ${s.expect.map((e) => `${e.rule}(${e.subject.value})`).join(', ') || 'no alert'}`,
          )
        }
        console.log(`${sent} events sent to ${config.kafka.eventsTopic}`)
      },
    )
}

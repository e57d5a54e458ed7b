/**
 * spor's Prometheus alerting rules, as data: `npm run alerts` writes them to
 * `alerting/spor-alerts.yml` (the file to load into Prometheus), and the tests build their
 * expectations from the same table. Labels: `severity` (page = wake someone, ticket = next
 * working day) and `team` (who owns the fix: ops runs the services, privacy owns retention,
 * product teams own what their clients send). Annotations are static text on purpose: they say
 * what to look at first, the dashboard shows the numbers.
 *
 * Scrape jobs must be named `spor-ingest`, `spor-detect`, `spor-collector` and `spor-query`
 * (see the README's operator guide): a few rules select by job, because every spor process
 * exports every unlabelled gauge (at 0 where the service does not use it).
 */
export interface AlertRule {
  alert: string
  expr: string
  for: string
  severity: 'page' | 'ticket'
  team: 'ops' | 'privacy' | 'product'
  summary: string
  runbook: string
}

export const ALERT_RULES: readonly AlertRule[] = [
  {
    alert: 'SporServiceDown',
    expr: 'up{job=~"spor-.*"} == 0',
    for: '2m',
    severity: 'page',
    team: 'ops',
    summary: 'A spor service does not answer /metrics: the process died or is unreachable.',
    runbook:
      'Check the process and its last log lines. A consumer that spent its restart budget exits 1 with "consumer stopped after repeated fatal errors".',
  },
  {
    alert: 'SporNotReady',
    expr: 'spor_ready == 0',
    for: '5m',
    severity: 'page',
    team: 'ops',
    summary: 'A spor service runs but reports not ready (consumer not in its group, or a dependency down).',
    runbook:
      'GET /ready on the instance says which part is not ready; check Kafka and Elasticsearch reachability.',
  },
  {
    alert: 'SporIngestLagGrowing',
    expr: 'sum by (job, instance) (spor_ingest_consumer_lag) > 1000 and sum by (job, instance) (deriv(spor_ingest_consumer_lag[10m])) > 0',
    for: '10m',
    severity: 'page',
    team: 'ops',
    summary: 'Ingest falls behind: more than 1000 events waiting and the backlog keeps growing.',
    runbook:
      'Look at spor_ingest_es_available and bulk retries (Elasticsearch slow or refusing), then add ingest instances (up to the partition count).',
  },
  {
    alert: 'SporElasticsearchUnavailable',
    // The gauge is 0 until the first bulk request (an idle ingest, and every other spor process,
    // exports 0), so it only counts while ingest is actually retrying against the cluster.
    expr: 'spor_ingest_es_available{job="spor-ingest"} == 0 and on (job, instance) sum by (job, instance) (increase(spor_ingest_bulk_retries_total[5m])) > 0',
    for: '5m',
    severity: 'page',
    team: 'ops',
    summary:
      'Ingest cannot write to Elasticsearch; batches are held uncommitted (nothing lost, nothing indexed).',
    runbook: 'Check cluster health, disk watermarks and write blocks; ingest resumes by itself.',
  },
  {
    alert: 'SporDeadLettersHigh',
    expr: 'sum by (job) (rate(spor_ingest_events_total{outcome="dlq"}[5m])) > 0.1 and sum by (job) (rate(spor_ingest_events_total{outcome="dlq"}[5m])) / sum by (job) (rate(spor_ingest_events_total[5m])) > 0.05',
    for: '5m',
    severity: 'ticket',
    team: 'product',
    summary: 'More than 5 % of events go to the dead-letter topic.',
    runbook:
      'Group spor_ingest_events_total{outcome="dlq"} by reason; fix the sender or the event-type table, then `spor dlq replay` the range.',
  },
  {
    alert: 'SporConsumerRestarting',
    expr: 'sum by (job, instance, consumer) (increase(spor_consumer_restarts_total[15m])) > 0',
    for: '0m',
    severity: 'ticket',
    team: 'ops',
    summary: 'A Kafka consumer crashed and was restarted.',
    runbook:
      'The log line "consumer failed; restarting" has the error. Repeated crashes spend the restart budget.',
  },
  {
    alert: 'SporRestartBudgetLow',
    expr: 'min by (job, instance, consumer) (spor_consumer_restart_budget_remaining) <= 1',
    for: '0m',
    severity: 'page',
    team: 'ops',
    summary: 'A consumer has at most one restart left in its window; the next crash stops the process.',
    runbook:
      'Find the cause of the crashes before the process exits (SPOR_MAX_RESTARTS, SPOR_RESTART_WINDOW_MS).',
  },
  {
    alert: 'SporRetentionViolation',
    expr: 'max by (job, class) (spor_retention_violating_documents) > 0',
    for: '0m',
    severity: 'page',
    team: 'privacy',
    summary:
      'Documents are kept longer than their retention class allows (a privacy-policy promise is broken).',
    runbook:
      'Run `spor retention audit` for the indices concerned, then `spor retention enforce`; find how the documents got there.',
  },
  {
    alert: 'SporRetentionEnforcerNotRun',
    // The enforcer runs in ingest (one instance per interval holds the lease, hence max); other
    // processes export the same gauge at 0.
    expr: '(time() - max by (job) (spor_retention_last_success_timestamp_seconds{job="spor-ingest"}) > 7200) or (absent(spor_retention_last_success_timestamp_seconds{job="spor-ingest"}) and on () count(up{job="spor-ingest"} == 1) > 0)',
    for: '15m',
    severity: 'page',
    team: 'privacy',
    summary: 'No retention enforcer run has succeeded for two hours (or ever, on running ingest instances).',
    runbook:
      'Check SPOR_ENFORCE_EVERY_MS (0 turns it off), the retention-enforce lease in spor-leases and the enforcer log lines; run `spor retention enforce` by hand.',
  },
  {
    alert: 'SporDetectStalled',
    expr: 'sum(rate(spor_ingest_events_total[10m])) > 0 and on () (sum(rate(spor_detect_events_total[10m])) == 0 or absent(spor_detect_events_total))',
    for: '10m',
    severity: 'page',
    team: 'ops',
    summary: 'Events arrive but misuse detection reads none: attacks go unnoticed.',
    runbook: 'Check the spor-detect instances (up, /ready) and the detect consumer group lag.',
  },
  {
    alert: 'SporCollectorErrors',
    expr: 'sum by (job, instance) (rate(spor_collector_responses_total{code=~"5.."}[5m])) / sum by (job, instance) (rate(spor_collector_responses_total[5m])) > 0.05',
    for: '5m',
    severity: 'page',
    team: 'ops',
    summary:
      'More than 5 % of collector requests fail with 5xx (usually Kafka unreachable): clients must retry.',
    runbook: 'The collector log has "produce to kafka failed"; check the brokers.',
  },
  {
    alert: 'SporCollectorThrottling',
    expr: 'sum by (job, instance) (rate(spor_collector_responses_total{code="429"}[5m])) / sum by (job, instance) (rate(spor_collector_responses_total[5m])) > 0.1',
    for: '10m',
    severity: 'ticket',
    team: 'product',
    summary:
      'More than 10 % of collector requests are rate-limited (a client loops, or the limit is too low).',
    runbook:
      'Find the key in the collector logs; raise SPOR_COLLECTOR_RATE_LIMIT only if the traffic is legitimate.',
  },
]

/**
 * The rule file Prometheus loads. Scalars are quoted as YAML allows and as biome formats YAML:
 * double quotes (JSON escapes), single quotes when the text itself holds double quotes.
 */
export function alertRulesYaml(rules: readonly AlertRule[] = ALERT_RULES): string {
  const q = (value: string) =>
    value.includes('"') && !value.includes("'") ? `'${value}'` : JSON.stringify(value)
  const lines = [
    '# Generated from alerting/rules.ts by `npm run alerts`; edit the table there.',
    'groups:',
    '  - name: spor',
    '    rules:',
  ]
  for (const rule of rules) {
    lines.push(
      `      - alert: ${rule.alert}`,
      `        expr: ${q(rule.expr)}`,
      `        for: ${rule.for}`,
      '        labels:',
      `          severity: ${rule.severity}`,
      `          team: ${rule.team}`,
      '        annotations:',
      `          summary: ${q(rule.summary)}`,
      `          runbook: ${q(rule.runbook)}`,
    )
  }
  return `${lines.join('\n')}\n`
}

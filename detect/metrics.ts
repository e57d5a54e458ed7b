import { Counter, Gauge, Histogram, register } from 'prom-client'

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  return (register.getSingleMetric(name) as Counter) ?? new Counter({ name, help, labelNames })
}

/** Detect metrics: labels are stages, rules and outcomes, never tenants, users or IPs. */
export const detectMetrics = {
  events: counter('spor_detect_events_total', 'events read by the repartitioner', ['outcome']),
  signals: counter('spor_detect_signals_total', 'signals processed by the rule stage', ['kind']),
  findings: counter('spor_detect_findings_total', 'rule findings', ['rule']),
  alerts: counter('spor_detect_alerts_total', 'alert documents written', ['rule', 'change']),
  erased: counter(
    'spor_detect_erased_skipped_total',
    'events or signals of erased subjects skipped (privacy tombstones)',
    ['stage'],
  ),
  webhook: counter('spor_detect_webhook_total', 'webhook deliveries', ['outcome']),
  keys:
    (register.getSingleMetric('spor_detect_state_keys') as Gauge) ??
    new Gauge({ name: 'spor_detect_state_keys', help: 'keys held in detection state', labelNames: ['kind'] }),
  latency:
    (register.getSingleMetric('spor_detect_latency_seconds') as Histogram) ??
    new Histogram({
      name: 'spor_detect_latency_seconds',
      help: 'event produced → alert stored',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    }),
}

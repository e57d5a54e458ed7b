import type { Client } from '@elastic/elasticsearch'

/** One look at the node during a row: documents its indices have indexed, and CPU so far. */
export interface IndexingSample {
  /** performance.now() halfway between asking and the answer, ms. */
  at: number
  /** Documents indexed into the row's indices since the sampler started (primaries). */
  documents: number
  /** CPU seconds so far of the processes the caller follows (e.g. the node, `spor ingest`). */
  cpu: Record<string, number>
}

/** Rate and CPU shares between two samples: the row's steady state. */
export interface SteadyWindow {
  perSecond: number
  /** Share of one core each followed process used in the window, %. */
  busy: Record<string, number>
  /** The window's share of the documents, e.g. 0.2–0.9. */
  from: number
  to: number
}

/**
 * The steady state of a row: from the first sample at which `from` of the documents were indexed
 * to the last at which no more than `to` were. A row's start (a process joining, its JIT warming,
 * its pipeline filling) and its end (the last requests, fewer at once) are left out, and the raw
 * passes are cut the same way, so both sides of a ratio are the same part of a run.
 */
export function steadyWindow(
  samples: readonly IndexingSample[],
  total: number,
  from = 0.2,
  to = 0.9,
): SteadyWindow | undefined {
  const first = samples.find((s) => s.documents >= from * total)
  const last = samples.findLast((s) => s.documents <= to * total)
  if (!first || !last || last.at <= first.at) return undefined
  const seconds = (last.at - first.at) / 1000
  const busy: Record<string, number> = {}
  for (const [name, cpu] of Object.entries(last.cpu)) {
    const before = first.cpu[name]
    if (before !== undefined) busy[name] = (100 * (cpu - before)) / seconds
  }
  return { perSecond: (last.documents - first.documents) / seconds, busy, from, to }
}

/**
 * Samples the primaries' `index_total` of `indices` (documents indexed, counted by the node
 * itself) every `intervalMs` until stopped, with the CPU the caller reads at the same moment.
 * The node's own count times spor and the raw passes alike, however each reports its progress.
 */
export class IndexingSampler {
  readonly #es: Client
  readonly #indices: string
  readonly #cpu: () => Record<string, number>
  readonly #samples: IndexingSample[] = []
  #base = 0
  #stopped = false
  #loop: Promise<void> = Promise.resolve()

  private constructor(es: Client, indices: string, cpu: () => Record<string, number>) {
    this.#es = es
    this.#indices = indices
    this.#cpu = cpu
  }

  /** Starts once the count before the row is known: call it before the row writes anything. */
  static async start(
    es: Client,
    indices: string,
    cpu: () => Record<string, number>,
    intervalMs = 200,
  ): Promise<IndexingSampler> {
    const sampler = new IndexingSampler(es, indices, cpu)
    const base = await sampler.#indexed()
    if (base === undefined) throw new Error(`no indexing stats for ${indices}`)
    sampler.#base = base
    sampler.#loop = (async () => {
      while (!sampler.#stopped) {
        await new Promise((resolve) => setTimeout(resolve, intervalMs))
        const asked = performance.now()
        const total = await sampler.#indexed()
        if (total === undefined) continue
        const at = (asked + performance.now()) / 2
        sampler.#samples.push({ at, documents: total - sampler.#base, cpu: sampler.#cpu() })
      }
    })()
    return sampler
  }

  /** Stops sampling; the samples taken, in order. */
  async stop(): Promise<IndexingSample[]> {
    this.#stopped = true
    await this.#loop
    return this.#samples
  }

  async #indexed(): Promise<number | undefined> {
    const stats = await this.#es.indices
      .stats({
        index: this.#indices,
        metric: 'indexing',
        filter_path: '_all.primaries.indexing.index_total',
      })
      .catch(() => undefined)
    return stats?._all?.primaries?.indexing?.index_total
  }
}

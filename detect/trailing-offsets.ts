/**
 * Offsets of the repartition topic are committed a lookback *behind* what was processed: the
 * committed offset is the last batch end before which every signal is older (event time) than
 * the newest signal seen minus `lookbackMs`. A restarted or newly assigned instance resumes
 * there and replays the lookback, which rebuilds every window the rules need (state restore
 * from the input log rather than from a changelog topic).
 */
export class TrailingOffsets {
  readonly #lookbackMs: number
  readonly #partitions = new Map<number, { checkpoints: { next: string; maxTs: number }[]; maxTs: number }>()

  constructor(lookbackMs: number) {
    this.#lookbackMs = lookbackMs
  }

  /** Records a processed batch; returns the offset now safe to commit, if it moved. */
  record(partition: number, nextOffset: string, batchMaxTs: number): string | undefined {
    let p = this.#partitions.get(partition)
    if (!p) {
      p = { checkpoints: [], maxTs: Number.NEGATIVE_INFINITY }
      this.#partitions.set(partition, p)
    }
    p.maxTs = Math.max(p.maxTs, batchMaxTs)
    p.checkpoints.push({ next: nextOffset, maxTs: p.maxTs })
    const horizon = p.maxTs - this.#lookbackMs
    let safe: string | undefined
    while (p.checkpoints.length > 0 && p.checkpoints[0]!.maxTs < horizon) safe = p.checkpoints.shift()!.next
    return safe
  }

  reset(): void {
    this.#partitions.clear()
  }
}

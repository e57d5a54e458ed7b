/** One-line progress for long jobs: rewrites the line on a terminal, prints every step otherwise. */
export function progress(
  label: string,
  total?: number,
): { update: (done: number) => void; done: (message?: string) => void } {
  const started = Date.now()
  let lastPrint = 0
  const tty = process.stderr.isTTY
  const line = (done: number) => {
    const seconds = (Date.now() - started) / 1000
    const rate = seconds > 0 ? Math.round(done / seconds) : 0
    const pct = total ? ` (${Math.floor((100 * done) / total)}%)` : ''
    return `${label}: ${done}${total ? `/${total}` : ''}${pct}, ${rate}/s`
  }
  return {
    update(done) {
      const now = Date.now()
      if (now - lastPrint < (tty ? 200 : 2000)) return
      lastPrint = now
      process.stderr.write(tty ? `\r${line(done)}   ` : `${line(done)}\n`)
    },
    done(message) {
      process.stderr.write(`${tty ? '\r' : ''}${message ?? label}${' '.repeat(20)}\n`)
    },
  }
}

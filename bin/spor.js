#!/usr/bin/env node
// Entry point of the `spor` command: runs the CLI, precompiled (bin/compiled.js) or through tsx.
//
// `spor ingest` runs the CLI in a worker thread of this process whose V8 heap is capped
// (SPOR_INGEST_HEAP_MB, bin/ingest-heap.js), with V8's heap growing factor raised for it: Node
// cannot change heap limits after start, and a second process would hide the one doing the work
// from supervisors and from its own VmHWM. The main thread stays small: it loads nothing but this
// file, forwards SIGTERM/SIGINT to the worker (where the pipeline drains and commits as it does
// on the main thread) and exits with its code.
import { setFlagsFromString } from 'node:v8'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import { currentBuild } from './compiled.js'
import { ingestHeapLimits, ingestV8Flags } from './ingest-heap.js'

const args = process.argv.slice(2)
const heapLimits =
  isMainThread && args[0] === 'ingest' && args[1] !== 'skip' ? ingestHeapLimits(process.env) : undefined

if (heapLimits) {
  // Read by V8 whenever it sets the next GC limit, so they apply to the worker's heap from its
  // first collection (and to this thread's small one).
  for (const flag of ingestV8Flags(heapLimits)) setFlagsFromString(flag)
  const worker = new Worker(new URL(import.meta.url), { argv: args, resourceLimits: heapLimits })
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => worker.postMessage({ signal }))
  // A signal the CLI does not handle yet (still starting): the default, as without the worker.
  worker.on('message', (message) => {
    if (message?.unhandledSignal !== 'SIGTERM' && message?.unhandledSignal !== 'SIGINT') return
    process.removeAllListeners(message.unhandledSignal)
    process.kill(process.pid, message.unhandledSignal)
  })
  // An uncaught error in the worker (a bug, or ERR_WORKER_OUT_OF_MEMORY when the heap cap is too
  // small for the configured in-flight bytes): reported like one on the main thread, exit 1.
  worker.on('error', (error) => {
    process.stderr.write(`spor: ${error?.code ? `${error.code}: ` : ''}${error?.stack ?? error}\n`)
    process.exitCode = 1
  })
  worker.on('exit', (code) => process.exit(process.exitCode || code))
} else {
  if (!isMainThread) {
    // Signals reach only the main thread, which passes them on: the CLI's own handlers run here.
    parentPort.on('message', (message) => {
      const signal = message?.signal
      if (signal !== 'SIGTERM' && signal !== 'SIGINT') return
      if (process.listenerCount(signal) > 0) process.emit(signal, signal)
      else parentPort.postMessage({ unhandledSignal: signal })
    })
    parentPort.unref()
  }
  // The precompiled CLI when it is current (bin/compiled.js), else the sources through tsx.
  const compiled = currentBuild()
  if (compiled) await import(compiled.href)
  else {
    const { register } = await import('tsx/esm/api')
    register()
    await import('../cli/spor.ts')
  }
}

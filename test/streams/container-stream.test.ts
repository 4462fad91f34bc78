import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { Delivery } from '../../src/delivery/delivery.js'
import { DropCounter } from '../../src/delivery/drops.js'
import type { Outcome } from '../../sinks/sink.js'
import { ContainerLog } from '../../src/store/container-log.js'
import { readLogs } from '../../src/store/read-logs.js'
import { ContainerStream } from '../../src/streams/container-stream.js'
import { daemonFrame, DaemonFifo } from '../helpers/fifo.js'
import { capturedLog } from '../helpers/log-capture.js'
import { containerMeta } from '../helpers/records.js'
import { ScriptedSink } from '../helpers/scripted-sink.js'

// One File's life on a real FIFO: every line is stored, then handed to the sinks with its
// sequence; the FIFO waits while delivery is full and the sinks are closed at the end.

const dirs: string[] = []
after(() => { for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true }) })

function setup (script: () => Outcome | Promise<Outcome>, queueMaxRecords = 1000): { fifo: DaemonFifo, store: ContainerLog, sink: ScriptedSink, stream: ContainerStream } {
  const { log } = capturedLog()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-stream-'))
  dirs.push(dir)
  const fifo = new DaemonFifo()
  const store = new ContainerLog('c'.repeat(64), dir, 1 << 20, log)
  const sink = new ScriptedSink(script)
  const delivery = new Delivery([{ sink, limits: { maxRecords: 100, maxBytes: 1 << 20, timeoutMs: 5, concurrency: 1 } }],
    { maxRecords: queueMaxRecords, maxBytes: 1 << 30 }, new DropCounter(log), log)
  const stream = new ContainerStream(fifo.path, { store, delivery, container: containerMeta(), partialMaxBytes: 1 << 20, log })
  return { fifo, store, sink, stream }
}

// What `docker logs` would give back: the frames ReadLogs sends, counted.
async function storedLines (store: ContainerLog): Promise<number> {
  let count = 0
  for await (const chunk of readLogs(store, { since: undefined, until: undefined, tail: -1, follow: false }, new AbortController().signal)) {
    for (let at = 0; at < chunk.length; at += 4 + chunk.readUInt32BE(at)) count++
  }
  return count
}

test('stores every line, joined from its pieces, and hands each to the sinks once, numbered in order', async () => {
  const { fifo, store, sink, stream } = setup(() => ({ ok: true }))
  stream.start()
  await fifo.write(Buffer.concat([
    daemonFrame('one'),
    daemonFrame('tw', { partial: true, partialId: 'p', partialOrdinal: 1 }),
    daemonFrame('o', { partial: true, partialId: 'p', partialOrdinal: 2, partialLast: true }),
    daemonFrame('three', { source: 'stderr' }),
  ]))
  fifo.close()
  await stream.done
  assert.equal(await storedLines(store), 3)
  assert.deepEqual(sink.sends.flat(), [1, 2, 3])
  assert.equal(sink.closed, true, 'the stream end closes its sinks')
  fifo.remove()
})

test('stops reading while delivery is full and reads on once the sink has caught up', async () => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  // The first batch waits for `release`: until then the queue of 10 stays full.
  const { fifo, store, sink, stream } = setup(async () => {
    if (sink.sends.length === 1) await held
    return { ok: true }
  }, 10)
  stream.start()
  const lines = 5000
  const writing = fifo.write(Buffer.concat(Array.from({ length: lines }, (_, i) => daemonFrame(`line ${i}`))))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const whileFull = await storedLines(store)
  assert.ok(whileFull < lines, `the FIFO was paused (${whileFull} of ${lines} lines read)`)
  release()
  await writing
  fifo.close()
  await stream.done
  assert.equal(await storedLines(store), lines)
  assert.equal(sink.sends.flat().length, lines)
  fifo.remove()
})

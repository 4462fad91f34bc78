import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { BacklogBudget, ContainerDelivery } from '../../src/delivery/delivery.js'
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
// sequence; a sink that falls behind catches up from disk, the FIFO waits only while the
// backlog is at its bound, and the sinks are closed once they have everything.

const dirs: string[] = []
after(() => { for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true }) })

function setup (script: () => Outcome | Promise<Outcome>, queueMaxRecords = 1000, bufferMaxBytes = 1 << 30): { fifo: DaemonFifo, store: ContainerLog, sink: ScriptedSink, stream: ContainerStream, delivery: ContainerDelivery, lines: Record<string, unknown>[] } {
  const { log, lines } = capturedLog()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-stream-'))
  dirs.push(dir)
  const fifo = new DaemonFifo()
  const store = new ContainerLog('c'.repeat(64), dir, 1 << 24, log)
  const sink = new ScriptedSink(script)
  const delivery = new ContainerDelivery(store, containerMeta(), [{ sink, limits: { maxRecords: 100, maxBytes: 1 << 20, timeoutMs: 5, concurrency: 1 } }],
    { queueMaxRecords, queueMaxBytes: 1 << 30, bufferMaxBytes, bufferFull: 'block' }, new BacklogBudget(2 ** 40), new DropCounter(log), log)
  const stream = new ContainerStream(fifo.path, { store, delivery, container: containerMeta(), partialMaxBytes: 1 << 20, log })
  return { fifo, store, sink, stream, delivery, lines }
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
  const { fifo, store, sink, stream, delivery } = setup(() => ({ ok: true }))
  stream.start()
  delivery.release()
  await fifo.write(Buffer.concat([
    daemonFrame('one'),
    daemonFrame('tw', { partial: true, partialId: 'p', partialOrdinal: 1 }),
    daemonFrame('o', { partial: true, partialId: 'p', partialOrdinal: 2, partialLast: true }),
    daemonFrame('three', { source: 'stderr' }),
  ]))
  fifo.close()
  await stream.done
  await delivery.done
  assert.equal(await storedLines(store), 3)
  assert.deepEqual(sink.sends.flat(), [1, 2, 3])
  assert.equal(sink.closed, true, 'the stream end closes its sinks')
  fifo.remove()
})

test('a sink that falls behind does not hold the FIFO: the lines wait on disk, then reach it in order', async () => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  // The first batch waits for `release`: meanwhile the queue of 10 is full.
  const { fifo, store, sink, stream, delivery } = setup(async () => {
    if (sink.sends.length === 1) await held
    return { ok: true }
  }, 10)
  stream.start()
  delivery.release()
  const lines = 5000
  await fifo.write(Buffer.concat(Array.from({ length: lines }, (_, i) => daemonFrame(`line ${i}`))))
  fifo.close()
  await stream.done
  assert.equal(await storedLines(store), lines, 'every line was read and stored while the sink was stuck')
  release()
  await delivery.done
  assert.deepEqual(sink.sends.flat(), Array.from({ length: lines }, (_, i) => i + 1))
  fifo.remove()
})

test('at the backlog bound the FIFO waits (buffer-full=block), with a warning, and reads on once the sink catches up', async () => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const { fifo, store, sink, stream, delivery, lines: logged } = setup(async () => {
    if (sink.sends.length === 1) await held
    return { ok: true }
  }, 100, 64 * 1024)
  stream.start()
  delivery.release()
  const lines = 20_000
  const writing = fifo.write(Buffer.concat(Array.from({ length: lines }, (_, i) => daemonFrame(`line ${i} ${'x'.repeat(40)}`))))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const whileFull = await storedLines(store)
  assert.ok(whileFull < lines, `the FIFO was paused (${whileFull} of ${lines} lines read)`)
  assert.ok(logged.some((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('pausing the log FIFO') && l['container'] === 'c'.repeat(64)))
  release()
  await writing
  fifo.close()
  await stream.done
  await delivery.done
  assert.equal(await storedLines(store), lines)
  assert.deepEqual(sink.sends.flat(), Array.from({ length: lines }, (_, i) => i + 1))
  fifo.remove()
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { DropCounter } from '../../src/delivery/drops.js'
import { BoundedQueue } from '../../src/delivery/queue.js'
import { SinkRunner } from '../../src/delivery/runner.js'
import type { Outcome } from '../../sinks/sink.js'
import type { LogRecord } from '../../src/record.js'
import { capturedLog } from '../helpers/log-capture.js'
import { logRecords } from '../helpers/records.js'
import { ScriptedSink, type Script } from '../helpers/scripted-sink.js'

// The runner drives a sink it knows only by its Outcomes: these script the outcomes and check
// what was sent again, what was given up and counted, and when queue space came back.

const LIMITS = { maxRecords: 4, maxBytes: 1024 * 1024, timeoutMs: 10, concurrency: 1 }

interface Run {
  readonly sink: ScriptedSink
  readonly drops: DropCounter
  readonly queue: BoundedQueue<LogRecord>
  readonly runner: SinkRunner
  readonly lines: Record<string, unknown>[]
  // Each position the runner acknowledged: the first sequence not yet final.
  readonly acks: number[]
}

function run (script: Script, count: number, limits = LIMITS, line = Buffer.from('x')): Run {
  const { log, lines } = capturedLog()
  const sink = new ScriptedSink(script)
  const queue = new BoundedQueue<LogRecord>(1000, 1024 * 1024)
  const drops = new DropCounter(log)
  const acks: number[] = []
  const runner = new SinkRunner(sink, queue, limits, log, drops, 1, (next) => acks.push(next))
  for (const record of logRecords(count, line)) queue.push(record, 257)
  queue.close()
  return { sink, drops, queue, runner, lines, acks }
}

describe('the sink runner', () => {
  test('sends batches cut at the record limit, in order, and frees the queue once they are delivered', async () => {
    const { sink, queue, runner, acks } = run(() => ({ ok: true }), 10)
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]])
    assert.deepEqual(acks, [5, 9, 11], 'the position moves on after each delivered batch')
    assert.equal(queue.full, false)
    assert.equal(queue.length, 0)
  })

  test('sends a batch again after a retry outcome until it is delivered, and holds the next one back', async () => {
    const answers: Outcome[] = [{ retry: '503' }, { retry: '503', afterMs: 1 }, { ok: true }, { ok: true }]
    const { sink, drops, runner, lines } = run((_batch, call) => answers[call - 1] ?? { ok: true }, 6)
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [5, 6]])
    assert.deepEqual(drops.totals(), [])
    assert.ok(lines.some((l) => l['msg'] === 'batch will be retried' && l['reason'] === '503'))
  })

  test('a partial outcome resends only the records it names and counts the dropped ones by reason', async () => {
    const { sink, drops, runner } = run((_batch, call) => call === 1
      ? { partial: { retry: [1, 3], dropped: [{ index: 0, reason: 'mapping conflict' }] } }
      : { ok: true }, 4)
    await runner.done
    // Records 2 and 4 (indexes 1 and 3) again; record 3 (index 2) was delivered the first time.
    assert.deepEqual(sink.sends, [[1, 2, 3, 4], [2, 4]])
    assert.deepEqual(drops.totals(), [{ sink: 'scripted', reason: 'mapping conflict', total: 1 }])
  })

  test('a drop outcome gives the whole batch up, counted and logged with the sink and reason', async () => {
    const { sink, drops, runner, lines } = run((_batch, call) => call === 1 ? { drop: 'HTTP 400: bad tenant' } : { ok: true }, 6)
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2, 3, 4], [5, 6]])
    assert.deepEqual(drops.totals(), [{ sink: 'scripted', reason: 'HTTP 400: bad tenant', total: 4 }])
    const logged = lines.find((l) => l['msg'] === 'records dropped')
    assert.equal(logged?.['reason'], 'HTTP 400: bad tenant')
    assert.equal(logged?.['dropped'], 4)
    assert.equal(logged?.['container'], 'c'.repeat(64))
  })

  test('a sink that throws is a bug: logged with its code, and the batch is retried, not lost', async () => {
    const { sink, drops, runner, lines } = run((_batch, call) => {
      if (call === 1) throw new Error('oops')
      return { ok: true }
    }, 2)
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2], [1, 2]])
    assert.deepEqual(drops.totals(), [])
    assert.ok(lines.some((l) => l['code'] === 'LOGRELAY_ERR_SINK_BUG'))
  })

  test('abort stops without giving anything up: the position stays where delivery stood', async () => {
    const { runner, drops, acks } = run(() => ({ retry: 'down' }), 3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    runner.abort()
    await runner.done
    assert.deepEqual(drops.totals(), [])
    assert.deepEqual(acks, [])
  })

  test('a batch too large for the backend is sent again in halves, in order; a line too large alone is dropped', async () => {
    // A backend taking at most 3 records, and no record 6.
    const { sink, drops, runner, acks } = run((batch) => batch.length > 3 || batch.some((r) => r.sequence === 6) ? { tooLarge: 'HTTP 413' } : { ok: true }, 8, { ...LIMITS, maxRecords: 8 })
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [1, 2], [3, 4], [5, 6, 7, 8], [5, 6], [5], [6], [7, 8]])
    assert.deepEqual(drops.totals(), [{ sink: 'scripted', reason: 'HTTP 413 (this one line is larger than the endpoint accepts)', total: 1 }])
    assert.deepEqual(acks, [9])
  })

  test('positions move on only past records that are final, whatever order batches finish in', async () => {
    // Batch 1 answers last: the position waits for it, then jumps past all three.
    const { runner, acks } = run(async (batch) => {
      await new Promise((resolve) => setTimeout(resolve, batch[0]?.sequence === 1 ? 60 : 5))
      return { ok: true }
    }, 12, { ...LIMITS, concurrency: 3 })
    await runner.done
    assert.equal(acks[0], 13)
  })

  test('a range given up under drop-oldest counts as final for the position', async () => {
    const { log } = capturedLog()
    const queue = new BoundedQueue<LogRecord>(100, 1 << 20)
    const acks: number[] = []
    const runner = new SinkRunner(new ScriptedSink(() => ({ ok: true })), queue, LIMITS, log, new DropCounter(log), 1, (next) => acks.push(next))
    const records = logRecords(10, Buffer.from('x'))
    for (const record of records.slice(0, 2)) queue.push(record, 257)
    runner.giveUp(3, 8)
    for (const record of records.slice(7)) queue.push(record, 257)
    queue.close()
    await runner.done
    assert.equal(acks.at(-1), 11)
  })

  test('keeps up to `concurrency` batches in flight, and no more', async () => {
    let inFlight = 0
    let most = 0
    const { runner, sink } = run(async () => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 20))
      inFlight--
      return { ok: true }
    }, 20, { ...LIMITS, concurrency: 3 })
    await runner.done
    assert.equal(most, 3)
    assert.deepEqual(sink.sends.flat().sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1))
  })
})

describe('the sink runner with events', () => {
  // Events of several lines: the ranges they settle and the streams' marks past the position.
  function event (stream: 'stdout' | 'stderr', sequence: number, last: number, ackFrom: number, ackTo: number, lines = 2): LogRecord {
    return { ...logRecords(1, Buffer.from('e'))[0] as LogRecord, stream, sequence, event: { lines, last, ackFrom, ackTo } }
  }

  // An empty range would have settled nothing and dropped its mark, and a restart would have
  // sent the event again.
  test('a batch of events settles their ranges, and an event whose range is empty still moves its stream\'s mark', async () => {
    const { log } = capturedLog()
    const queue = new BoundedQueue<LogRecord>(100, 1 << 20)
    const acks: [number, unknown][] = []
    const runner = new SinkRunner(new ScriptedSink(() => ({ ok: true })), queue, { ...LIMITS, maxRecords: 1 }, log, new DropCounter(log), 1,
      (next, marks) => acks.push([next, { ...marks }]))
    // stdout's event (1, 3) while stderr's (2, 4, 6) is open; then stdout's next (5, 7) with an empty range.
    queue.push(event('stdout', 1, 3, 1, 2), 257)
    queue.push(event('stdout', 5, 7, 2, 2), 257)
    queue.push(event('stderr', 2, 6, 2, 8, 3), 257)
    queue.close()
    await runner.done
    assert.deepEqual(acks, [[2, { stdout: 4 }], [2, { stdout: 8 }], [8, { stdout: 8, stderr: 7 }]])
    // Counted in stored lines, as lines handed to the sink are.
    assert.equal(runner.counters.deliveredRecords, 7)
  })

  test('drops are counted in stored lines', async () => {
    const { log } = capturedLog()
    const queue = new BoundedQueue<LogRecord>(100, 1 << 20)
    const drops = new DropCounter(log)
    const runner = new SinkRunner(new ScriptedSink(() => ({ drop: 'HTTP 400' })), queue, LIMITS, log, drops, 1, () => {})
    queue.push(event('stdout', 1, 5, 1, 6, 5), 257)
    queue.push(event('stdout', 6, 8, 6, 9, 3), 257)
    queue.close()
    await runner.done
    assert.deepEqual(drops.totals(), [{ sink: 'scripted', reason: 'HTTP 400', total: 8 }])
  })
})

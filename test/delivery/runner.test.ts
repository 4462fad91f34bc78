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

function run (script: Script, count: number, limits = LIMITS): { sink: ScriptedSink, drops: DropCounter, queue: BoundedQueue<LogRecord>, runner: SinkRunner, lines: Record<string, unknown>[] } {
  const { log, lines } = capturedLog()
  const sink = new ScriptedSink(script)
  const queue = new BoundedQueue<LogRecord>(1000, 1024 * 1024)
  const drops = new DropCounter(log)
  const runner = new SinkRunner(sink, queue, limits, log, drops)
  for (const record of logRecords(count, Buffer.from('x'))) queue.push(record, 257)
  queue.close()
  return { sink, drops, queue, runner, lines }
}

describe('the sink runner', () => {
  test('sends batches cut at the record limit, in order, and frees the queue once they are delivered', async () => {
    const { sink, queue, runner } = run(() => ({ ok: true }), 10)
    await runner.done
    assert.deepEqual(sink.sends, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]])
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

  test('abort gives up what is undelivered, counted as a shutdown drop', async () => {
    const { runner, drops } = run(() => ({ retry: 'down' }), 3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    runner.abort()
    await runner.done
    assert.deepEqual(drops.totals(), [{ sink: 'scripted', reason: 'plugin shut down before delivery', total: 3 }])
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

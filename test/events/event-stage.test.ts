import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventStage, type StreamMarks } from '../../src/events/event-stage.js'
import { patternMatcher, presetMatcher, type MultilinePreset } from '../../src/events/presets.js'
import { timeHalves, type LogRecord, type StreamName } from '../../src/record.js'
import { containerMeta } from '../helpers/records.js'

// The stage on its own: which lines make one event, in what order events come out, and which
// stored lines each record settles, so that a sink's position stays right.

const meta = containerMeta()

interface Fed {
  readonly stage: EventStage
  readonly out: LogRecord[]
  readonly settled: [number, number][]
  feed: (stream: StreamName, text: string) => void
}

function stage (options: { presets?: MultilinePreset[], pattern?: RegExp, maxLines?: number, maxBytes?: number, flushMs?: number, start?: number, delivered?: StreamMarks, caughtUp?: () => boolean } = {}): Fed {
  const out: LogRecord[] = []
  const settled: [number, number][] = []
  const matcher = options.pattern === undefined ? presetMatcher(options.presets ?? ['java']) : patternMatcher(options.pattern)
  let sequence = options.start ?? 1
  const s = new EventStage({ grouping: { matcher, flushMs: options.flushMs ?? 60_000, maxLines: options.maxLines ?? 1000, maxBytes: options.maxBytes ?? 1 << 20 }, parse: undefined },
    sequence, options.delivered ?? {}, { emit: (r) => out.push(r), settle: (from, to) => settled.push([from, to]), caughtUp: options.caughtUp ?? (() => true) })
  return {
    stage: s,
    out,
    settled,
    feed: (stream, text) => {
      const n = sequence++
      s.feed({ stream, time: timeHalves(BigInt(n) * 1000n), line: Buffer.from(text), complete: true, sequence: n, container: meta })
    },
  }
}

const messages = (records: readonly LogRecord[]): string[] => records.map((r) => r.line.toString())

// The ranges records settle, in queue order, must follow each other without a gap or overlap.
function assertTiles (records: readonly LogRecord[], from: number, to: number): void {
  let at = from
  for (const r of records) {
    assert.equal(r.event?.ackFrom, at, `record ${r.sequence} settles from where the one before ended`)
    at = r.event.ackTo
  }
  assert.equal(at, to)
}

describe('multiline grouping', () => {
  test('a java trace with Caused by and ... N more is one event, with the message line before it', () => {
    const { stage: s, out, feed } = stage()
    const trace = ['12:00:00 ERROR request failed', 'java.lang.RuntimeException: outer', '\tat A.b(A.java:1)', 'Caused by: java.io.IOException: inner', '\tat A.c(A.java:2)', '\t... 1 more']
    feed('stdout', 'plain one')
    for (const line of trace) feed('stdout', line)
    feed('stdout', 'plain two')
    s.flush()
    assert.deepEqual(messages(out), ['plain one', trace.join('\n'), 'plain two'])
    assert.deepEqual(out.map((r) => r.event?.lines), [1, 6, 1])
    assert.equal(out[1]?.sequence, 2, 'an event has its first line\'s sequence')
    assert.deepEqual(out[1]?.time, timeHalves(2000n), 'and its first line\'s time')
    assertTiles(out, 1, 9)
  })

  test('a pattern begins events; lines that do not match join the one before', () => {
    const { stage: s, out, feed } = stage({ pattern: /^\d{4}-/ })
    for (const line of ['orphan', '2026-01-01 a', ' more a', 'still a', '2026-01-02 b']) feed('stdout', line)
    s.flush()
    assert.deepEqual(messages(out), ['orphan', '2026-01-01 a\n more a\nstill a', '2026-01-02 b'])
  })

  test('stdout and stderr are grouped apart, and the ranges still follow each other', () => {
    const { stage: s, out, feed } = stage()
    feed('stdout', 'java.lang.IllegalStateException: out')
    feed('stderr', 'java.lang.IllegalStateException: err')
    feed('stdout', '\tat Out.a(Out.java:1)')
    feed('stderr', '\tat Err.a(Err.java:1)')
    feed('stdout', '\tat Out.b(Out.java:2)')
    feed('stdout', 'next out')
    feed('stderr', 'next err')
    s.flush()
    assert.deepEqual(messages(out), [
      'java.lang.IllegalStateException: out\n\tat Out.a(Out.java:1)\n\tat Out.b(Out.java:2)',
      'java.lang.IllegalStateException: err\n\tat Err.a(Err.java:1)',
      'next out', 'next err',
    ])
    // The stdout event ends while the stderr one still holds line 2: it settles only line 1.
    assert.deepEqual(out.map((r) => [r.event?.ackFrom, r.event?.ackTo]), [[1, 2], [2, 6], [6, 7], [7, 8]])
  })

  test('an event at its line bound goes on in the next record; nothing is lost', () => {
    const { stage: s, out, feed } = stage({ maxLines: 1000 })
    feed('stdout', 'java.lang.StackOverflowError')
    for (let i = 1; i < 10_000; i++) feed('stdout', `\tat Deep.f${i}(Deep.java:${i})`)
    feed('stdout', 'after')
    s.flush()
    assert.deepEqual(out.map((r) => r.event?.lines), [...Array(10).fill(1000), 1])
    const lines = out.slice(0, 10).flatMap((r) => r.line.toString().split('\n'))
    assert.equal(lines.length, 10_000)
    assert.equal(lines[0], 'java.lang.StackOverflowError')
    assert.equal(lines[9999], '\tat Deep.f9999(Deep.java:9999)')
    assertTiles(out, 1, 10_002)
  })

  test('the byte bound cuts too, and a line longer than it is a record by itself', () => {
    const { stage: s, out, feed } = stage({ pattern: /^start/, maxBytes: 1024 })
    feed('stdout', 'start')
    for (let i = 0; i < 3; i++) feed('stdout', 'x'.repeat(400))
    feed('stdout', 'y'.repeat(2000))
    feed('stdout', 'z')
    s.flush()
    assert.deepEqual(out.map((r) => r.line.length), [5 + 401 + 401, 400, 2000, 1])
  })

  test('a line cut at partial-max-bytes is joined to its rest without a newline', () => {
    const out: LogRecord[] = []
    const s = new EventStage({ grouping: { matcher: presetMatcher(['java']), flushMs: 60_000, maxLines: 10, maxBytes: 1 << 20 }, parse: undefined }, 1, {},
      { emit: (r) => out.push(r), settle: () => {}, caughtUp: () => true })
    const line = (sequence: number, text: string, complete: boolean): LogRecord => ({ stream: 'stdout', time: timeHalves(0n), line: Buffer.from(text), complete, sequence, container: meta })
    s.feed(line(1, 'Exception in thread "main" java.lang.Error: ', false))
    s.feed(line(2, 'rest of the message', true))
    s.feed(line(3, '\tat A.a(A.java:1)', true))
    s.flush()
    assert.deepEqual(messages(out), ['Exception in thread "main" java.lang.Error: rest of the message\n\tat A.a(A.java:1)'])
  })

  test('an idle event is sent after the flush wait, not before, and only once every stored line is fed', async () => {
    let caughtUp = false
    const { out, feed, stage: s } = stage({ flushMs: 50, caughtUp: () => caughtUp })
    feed('stdout', 'java.lang.Error: idle')
    feed('stdout', '\tat A.a(A.java:1)')
    await sleep(120)
    assert.equal(out.length, 0, 'held while lines wait on disk')
    caughtUp = true
    await sleep(120)
    assert.deepEqual(messages(out), ['java.lang.Error: idle\n\tat A.a(A.java:1)'])
    s.close()
  })

  test('after a restart, lines a stream\'s mark says were delivered are skipped and settled', () => {
    // Before the restart: stdout's event (lines 1 and 3) was delivered, stderr's (2, 4) was not.
    const { stage: s, out, settled, feed } = stage({ delivered: { stdout: 4 } })
    feed('stdout', 'java.lang.Error: delivered')
    feed('stderr', 'java.lang.Error: again')
    feed('stdout', '\tat A.a(A.java:1)')
    feed('stderr', '\tat B.b(B.java:1)')
    s.flush()
    assert.deepEqual(messages(out), ['java.lang.Error: again\n\tat B.b(B.java:1)'])
    assert.deepEqual(settled, [[1, 2]])
    assert.deepEqual([out[0]?.event?.ackFrom, out[0]?.event?.ackTo], [2, 5])
  })

  test('a gap ends the events before it', () => {
    const { stage: s, out, feed } = stage()
    feed('stdout', 'java.lang.Error: before the gap')
    s.gap(10)
    s.flush()
    assert.deepEqual(out.map((r) => [r.event?.ackFrom, r.event?.ackTo]), [[1, 2]])
  })
})

describe('presets', () => {
  function group (presets: MultilinePreset[], lines: readonly string[]): string[] {
    const { stage: s, out, feed } = stage({ presets })
    for (const line of lines) feed('stderr', line)
    s.flush()
    return messages(out)
  }

  test('python: a chained traceback is one event; the next line is not part of it', () => {
    const tb = ['Traceback (most recent call last):', '  File "x.py", line 1, in <module>', '    f()', 'KeyError: \'x\'', '',
      'The above exception was the direct cause of the following exception:', '', 'Traceback (most recent call last):', '  File "x.py", line 2', 'ValueError: outer']
    assert.deepEqual(group(['python'], ['ERROR:root:failed', ...tb, 'next']), [['ERROR:root:failed', ...tb].join('\n'), 'next'])
  })

  test('go: a panic with its goroutines is one event', () => {
    const panic = ['panic: boom', '', 'goroutine 1 [running]:', 'main.main()', '\t/src/main.go:4 +0xa5', '', 'goroutine 18 [chan receive]:', 'main.worker(0xc000010000)', '\t/src/main.go:3 +0x25', 'created by main.main in goroutine 1', '\t/src/main.go:4 +0x57', 'exit status 2']
    assert.deepEqual(group(['go'], [...panic, 'restarting (attempt 2)']), [panic.join('\n'), 'restarting (attempt 2)'])
  })

  test('node: an uncaught error, from where it was thrown to the version line, is one event; a logged one too', () => {
    const uncaught = ['/app/x.js:2', '  throw new Error(\'boom\')', '  ^', '', 'Error: boom', '    at f (/app/x.js:2:9)', '    ... 5 lines matching cause stack trace ...', '    at g (/app/x.js:3:1) {', '  [cause]: Error: inner', '      at h (/app/x.js:1:1)', '}', '', 'Node.js v20.20.2']
    const logged = ['TypeError: x is not a function', '    at a (/app/y.js:1:1)']
    assert.deepEqual(group(['node'], [...uncaught, ...logged, 'listening']), [uncaught.join('\n'), logged.join('\n'), 'listening'])
  })

  test('several presets together keep their traces apart', () => {
    const java = ['java.lang.Error: j', '\tat A.a(A.java:1)']
    const python = ['Traceback (most recent call last):', '  File "x.py", line 1', 'ValueError: p']
    assert.deepEqual(group(['java', 'python', 'go'], [...java, ...python, 'panic: g', '', 'goroutine 1 [running]:']), [java.join('\n'), python.join('\n'), 'panic: g\n\ngoroutine 1 [running]:'])
  })
})

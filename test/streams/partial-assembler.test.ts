import assert from 'node:assert/strict'
import { test } from 'node:test'
import { timeHalves, type LogLine } from '../../src/record.js'
import type { LogEntry } from '../../src/streams/log-entry.js'
import { PartialAssembler } from '../../src/streams/partial-assembler.js'

// The daemon cuts lines at 16 KiB and marks every piece partial, the last one included
// (protocol.md, trap 6); these feed it the entries the daemon sends and check the lines.

function entry (line: string, fields: Partial<LogEntry> = {}): LogEntry {
  return { source: 'stdout', time: timeHalves(1000n), line: Buffer.from(line), partial: false, partialId: '', partialLast: false, partialOrdinal: 0, ...fields }
}

function piece (line: string, id: string, ordinal: number, last: boolean, time = 1000n): LogEntry {
  return entry(line, { partial: true, partialId: id, partialOrdinal: ordinal, partialLast: last, time: timeHalves(time) })
}

function assemble (maxBytes: number, entries: readonly [LogEntry['source'], LogEntry][], end = true): { text: string, complete: boolean, stream: string, time: bigint }[] {
  const out: LogLine[] = []
  const assembler = new PartialAssembler(maxBytes, (line) => out.push(line))
  for (const [stream, e] of entries) assembler.push(stream === 'stderr' ? 'stderr' : 'stdout', e)
  if (end) assembler.end()
  return out.map((l) => ({ text: l.line.toString(), complete: l.complete, stream: l.stream, time: BigInt(l.time.lo) }))
}

test('joins the pieces of one line up to the one marked last, with the time of the first', () => {
  assert.deepEqual(assemble(1 << 20, [['stdout', piece('aa', 'p1', 1, false, 5n)], ['stdout', piece('bb', 'p1', 2, false, 6n)], ['stdout', piece('c', 'p1', 3, true, 7n)]]),
    [{ text: 'aabbc', complete: true, stream: 'stdout', time: 5n }])
})

test('passes whole lines through, each complete', () => {
  assert.deepEqual(assemble(1 << 20, [['stdout', entry('one')], ['stdout', entry('')], ['stdout', entry('two')]]).map((l) => [l.text, l.complete]),
    [['one', true], ['', true], ['two', true]])
})

test('keeps stdout and stderr pieces apart when they interleave', () => {
  const lines = assemble(1 << 20, [
    ['stdout', piece('o1', 'a', 1, false)], ['stderr', piece('e1', 'b', 1, false)],
    ['stdout', piece('o2', 'a', 2, true)], ['stderr', piece('e2', 'b', 2, true)],
  ])
  assert.deepEqual(lines.map((l) => [l.stream, l.text]), [['stdout', 'o1o2'], ['stderr', 'e1e2']])
})

test('a line whose last piece never comes is handed on incomplete at EOF, or when another line starts', () => {
  assert.deepEqual(assemble(1 << 20, [['stdout', piece('cut', 'a', 1, false)]]).map((l) => [l.text, l.complete]), [['cut', false]])
  assert.deepEqual(assemble(1 << 20, [['stdout', piece('cut', 'a', 1, false)], ['stdout', entry('next')]], false).map((l) => [l.text, l.complete]),
    [['cut', false], ['next', true]])
  assert.deepEqual(assemble(1 << 20, [['stdout', piece('cut', 'a', 1, false)], ['stdout', piece('new', 'b', 1, true)]], false).map((l) => [l.text, l.complete]),
    [['cut', false], ['new', true]])
})

test('a line longer than the bound leaves in pieces of the bound, all but the end incomplete, nothing lost', () => {
  const pieces = Array.from({ length: 10 }, (_, i) => piece('x'.repeat(10), 'long', i + 1, i === 9))
  const lines = assemble(30, pieces.map((p) => ['stdout', p]))
  assert.deepEqual(lines.map((l) => [l.text.length, l.complete]), [[30, false], [30, false], [30, false], [10, true]])
})

test('a daemon before 18.06 (pieces without metadata, ended by a whole entry) still gets one line', () => {
  const old = (line: string): LogEntry => entry(line, { partial: true })
  assert.deepEqual(assemble(1 << 20, [['stdout', old('ab')], ['stdout', old('cd')], ['stdout', entry('ef')]]).map((l) => [l.text, l.complete]), [['abcdef', true]])
})

import type { LogRecord, StreamName } from '../record.js'
import { END, LINE, NEW, type LineMatcher } from './presets.js'

// Lines become events between the store and a sink: the store keeps every line as it was
// written (docker logs gives them back so), and each sink's stage groups the lines it is given,
// live or read back from disk, per stream, so stdout and stderr never mix.

export interface GroupingSettings {
  readonly matcher: LineMatcher
  readonly flushMs: number
  readonly maxLines: number
  readonly maxBytes: number
}

export interface EventSettings {
  readonly grouping: GroupingSettings | undefined
  // What parse=json does to each record, or undefined when it is off.
  readonly parse: ((record: LogRecord) => LogRecord) | undefined
}

// Per stream, the first sequence at or after which lines are not yet known to be delivered; the
// lines of that stream before it were, in records whose range ends before the sink's position
// (the other stream's event held it back). A restart skips them instead of sending them again.
export type StreamMarks = Partial<Record<StreamName, number>>

export interface StageOutput {
  readonly emit: (record: LogRecord) => void
  // Lines [from, to) that need no record: they were delivered before a restart.
  readonly settle: (from: number, to: number) => void
  // Whether every stored line has been fed: only then may an idle event be cut, since otherwise
  // its next line is waiting on disk.
  readonly caughtUp: () => boolean
}

// Patterns and presets look at the start of a line: enough to tell a trace's lines, and a
// long line cannot cost more than this.
const MATCH_CHARS = 4096
const NEWLINE = Buffer.from('\n')

interface Pending {
  readonly first: LogRecord
  readonly parts: Buffer[]
  last: LogRecord
  lines: number
  bytes: number
  state: number
  // When its last line came, for the idle flush.
  at: number
}

// One sink's grouping of one container's lines, with the range of stored lines each record
// settles (see EventLines): lines are fed in sequence order, and records come out in the order
// their events end.
export class EventStage {
  readonly #settings: EventSettings
  readonly #grouping: GroupingSettings | undefined
  readonly #out: StageOutput
  readonly #delivered: StreamMarks
  // Both keys always there: deleting one would turn the object into a slow dictionary.
  readonly #pending: Record<StreamName, Pending | undefined> = { stdout: undefined, stderr: undefined }
  // Records so far settle everything before #acked; #next is the next sequence to be fed.
  #acked: number
  #next: number
  #timer: NodeJS.Timeout | undefined

  constructor (settings: EventSettings, start: number, delivered: StreamMarks, out: StageOutput) {
    this.#settings = settings
    this.#grouping = settings.grouping
    this.#out = out
    this.#delivered = delivered
    this.#acked = start
    this.#next = start
  }

  feed (record: LogRecord): void {
    const grouping = this.#grouping
    if (grouping === undefined) {
      this.#out.emit(this.#settings.parse?.(record) ?? record)
      return
    }
    const pending = this.#pending[record.stream]
    if (record.sequence < (this.#delivered[record.stream] ?? 0)) {
      this.#next = record.sequence + 1
      if (this.#pending.stdout === undefined && this.#pending.stderr === undefined) this.#settleSkipped()
      return
    }
    if (pending !== undefined) {
      const state = pending.last.complete ? grouping.matcher.join(pending.state, textOf(record)) : pending.state
      if (state !== NEW) {
        if (pending.lines < grouping.maxLines && pending.bytes + 1 + record.line.length <= grouping.maxBytes) {
          this.#append(pending, record, state)
          this.#next = record.sequence + 1
          if (state === END) this.#emit(pending)
          return
        }
        // At a bound: the event goes on in a record of its own, nothing lost.
        this.#emit(pending)
        this.#begin(record, state)
        return
      }
      this.#emit(pending)
      this.#begin(record, pending.state === LINE ? LINE : grouping.matcher.begin(textOf(record)))
      return
    }
    this.#begin(record, grouping.matcher.begin(textOf(record)))
  }

  // Lines before `to` will never be fed (given up, or gone from the store): the events so far
  // end here, since joining across the hole would make one of lines that never followed.
  gap (to: number): void {
    this.flush()
    this.#acked = Math.max(this.#acked, to)
    this.#next = Math.max(this.#next, to)
  }

  // No line will come for now (the container's streams have all ended): every event is sent.
  flush (): void {
    for (const pending of this.#inOrder()) this.#emit(pending)
  }

  close (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #begin (record: LogRecord, state: number): void {
    const pending: Pending = { first: record, parts: [record.line], last: record, lines: 1, bytes: record.line.length, state, at: Date.now() }
    this.#pending[record.stream] = pending
    this.#next = record.sequence + 1
    if (state === END) this.#emit(pending)
    else this.#arm((this.#grouping as GroupingSettings).flushMs)
  }

  #append (pending: Pending, record: LogRecord, state: number): void {
    // A line cut at partial-max-bytes goes on in the next record: no newline between them.
    if (pending.last.complete) pending.parts.push(NEWLINE)
    pending.parts.push(record.line)
    pending.bytes += record.line.length + 1
    pending.lines++
    pending.last = record
    pending.state = state
    pending.at = Date.now()
  }

  #emit (pending: Pending): void {
    const stream = pending.first.stream
    this.#pending[stream] = undefined
    const other = this.#pending[stream === 'stdout' ? 'stderr' : 'stdout']
    const ackFrom = this.#acked
    const ackTo = other === undefined ? this.#next : Math.min(this.#next, other.first.sequence)
    this.#acked = ackTo
    const { first, last } = pending
    const record: LogRecord = {
      stream,
      time: first.time,
      line: pending.parts.length === 1 ? first.line : Buffer.concat(pending.parts),
      complete: last.complete,
      sequence: first.sequence,
      container: first.container,
      event: { lines: pending.lines, last: last.sequence, ackFrom, ackTo },
    }
    this.#out.emit(this.#settings.parse?.(record) ?? record)
  }

  #settleSkipped (): void {
    if (this.#next <= this.#acked) return
    this.#out.settle(this.#acked, this.#next)
    this.#acked = this.#next
  }

  // Earliest first, so that the ranges they settle follow each other.
  #inOrder (): Pending[] {
    const { stdout, stderr } = this.#pending
    if (stdout === undefined) return stderr === undefined ? [] : [stderr]
    if (stderr === undefined) return [stdout]
    return stdout.first.sequence < stderr.first.sequence ? [stdout, stderr] : [stderr, stdout]
  }

  // One timer for both streams, re-armed when it fires rather than on every line.
  #arm (ms: number): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => this.#idle(), ms)
    this.#timer.unref()
  }

  #idle (): void {
    this.#timer = undefined
    const flushMs = (this.#grouping as GroupingSettings).flushMs
    if (!this.#out.caughtUp()) {
      if (this.#inOrder().length > 0) this.#arm(flushMs)
      return
    }
    const now = Date.now()
    let wait = Infinity
    for (const pending of this.#inOrder()) {
      const idle = now - pending.at
      if (idle >= flushMs) this.#emit(pending)
      else wait = Math.min(wait, flushMs - idle)
    }
    if (wait !== Infinity) this.#arm(wait)
  }
}

function textOf (record: LogRecord): string {
  return record.line.toString('utf8', 0, Math.min(record.line.length, MATCH_CHARS))
}

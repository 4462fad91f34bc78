import { isUtf8 } from 'node:buffer'
import { timeNanoOf, type ContainerMeta, type JsonFields, type LogRecord, type StreamName, type TimeHalves } from '../src/record.js'

// The JSON every sink writes by default: ECS-compatible field names, so Elasticsearch users get
// them for free, with nanosecond timestamps:
//   {"@timestamp":"…","message":"…","stream":"stdout","container":{…},…,"event":{"sequence":N}}
// An event of several lines (multiline grouping) adds "lines":K to "event"; parse=json adds the
// line's own fields after the record's (src/events/json.ts).
// Written straight into the caller's Buffer, since this runs once per line per sink: building a
// string per record and encoding it again cost about three times as much. Everything after the
// message up to the sequence is the same for every line of a container and stream, so it is
// encoded once.

const MESSAGE_OPEN = Buffer.from('Z","message":"')
// With multiline grouping, how many stored lines the record joins: "event":{"sequence":N,"lines":K}.
const LINES_OPEN = Buffer.from(',"lines":')

// The longest a record can be apart from its message and container part: the timestamp (a
// 6-digit year at most), the sequence, an event's line count, the stream and the punctuation.
const FIXED_BYTES = 150
// A message byte becomes at most 6 bytes (\u001f), and a UTF-16 unit of a decoded line at most 3.
const MESSAGE_EXPANSION = 6

const tails = new WeakMap<ContainerMeta, Record<StreamName, Buffer>>()
// A batch is one container's: the last lookup is nearly always the next one.
let lastMeta: ContainerMeta | undefined
let lastTails: Record<StreamName, Buffer> | undefined

function tailsOf (meta: ContainerMeta): Record<StreamName, Buffer> {
  if (meta === lastMeta && lastTails !== undefined) return lastTails
  let tail = tails.get(meta)
  if (tail === undefined) {
    const container = {
      id: meta.id,
      name: meta.name,
      image: { name: meta.imageName, id: meta.imageId },
      labels: meta.labels,
    }
    let part = `"container":${JSON.stringify(container)}`
    if (Object.keys(meta.env).length > 0) part += `,"env":${JSON.stringify(meta.env)}`
    if (meta.tag !== undefined) part += `,"tag":${JSON.stringify(meta.tag)}`
    part += `,"host":${JSON.stringify({ name: meta.hostName })}`
    tail = {
      stdout: Buffer.from(`","stream":"stdout",${part},"event":{"sequence":`),
      stderr: Buffer.from(`","stream":"stderr",${part},"event":{"sequence":`),
    }
    tails.set(meta, tail)
  }
  lastMeta = meta
  lastTails = tail
  return tail
}

const NS_PER_S = 1_000_000_000n
const TWO_32 = 4294967296

// The second of the last timestamp written: its start as 32-bit halves, and the record's opening
// up to its fraction of a second. Lines come in time order, many per second, so most records
// find their second here and need no BigInt and no Date. A record with a logger's time
// (parse-json-promote=time) writes two, each with a second of its own.
class SecondCache {
  hi = 0
  lo = 0
  text = Buffer.alloc(0)

  // The nanoseconds of `time` in this second, after moving to its second when it is another.
  nanos (time: TimeHalves): number {
    let nanos = (time.hi - this.hi) * TWO_32 + (time.lo - this.lo)
    if (nanos < 0 || nanos >= 1e9 || this.text.length === 0) {
      const t = timeNanoOf(time)
      let seconds = t / NS_PER_S
      if (t % NS_PER_S < 0n) seconds -= 1n
      const start = BigInt.asUintN(64, seconds * NS_PER_S)
      this.hi = Number(start >> 32n)
      this.lo = Number(start & 0xffffffffn)
      this.text = Buffer.from(`{"@timestamp":"${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.`)
      nanos = (time.hi - this.hi) * TWO_32 + (time.lo - this.lo)
    }
    return nanos
  }
}

const recordSecond = new SecondCache()
const createdSecond = new SecondCache()

// Writes `digits` decimal digits of value (zero-padded) ending just before `end`.
function writePadded (buf: Buffer, end: number, value: number, digits: number): void {
  for (let i = end - 1; i >= end - digits; i--) {
    // Integer division while the value fits 31 bits (always, for nanoseconds).
    const next = value < 0x80000000 ? (value / 10) | 0 : Math.floor(value / 10)
    buf[i] = 0x30 + (value - next * 10)
    value = next
  }
}

function writeInteger (buf: Buffer, at: number, value: number): number {
  let digits = 1
  for (let limit = 10; value >= limit && digits < 16; limit *= 10) digits++
  writePadded(buf, at + digits, value, digits)
  return at + digits
}

const HEX = Buffer.from('0123456789abcdef')
// What JSON.stringify writes for a byte: 0 for one kept as it is, else its escape letter (0x75,
// 'u', for \u00XX), or NON_ASCII for a byte of a multi-byte character (or of invalid UTF-8).
const NON_ASCII = 1
const ESCAPE = new Uint8Array(256).fill(NON_ASCII, 0x80)
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 0x75
ESCAPE[0x08] = 0x62
ESCAPE[0x09] = 0x74
ESCAPE[0x0a] = 0x6e
ESCAPE[0x0c] = 0x66
ESCAPE[0x0d] = 0x72
ESCAPE[0x22] = 0x22
ESCAPE[0x5c] = 0x5c

// The message as JSON.stringify(line.toString('utf8')) would give it, without its quotes.
// Valid UTF-8 passes through as bytes; a line that is not valid UTF-8 takes the decoder's way,
// replacement characters included.
function writeMessage (buf: Buffer, at: number, line: Buffer): number {
  // Most lines need no escape at all: one scan, then one copy.
  const length = line.length
  let clean = 0
  while (clean < length && ESCAPE[line[clean] as number] === 0) clean++
  if (clean === length) {
    buf.set(line, at)
    return at + clean
  }
  const start = at
  let nonAscii = false
  for (let i = 0; i < length; i++) {
    const b = line[i] as number
    const escape = ESCAPE[b] as number
    if (escape === 0) {
      buf[at++] = b
    } else if (escape === NON_ASCII) {
      nonAscii = true
      buf[at++] = b
    } else if (escape === 0x75) {
      buf[at] = 0x5c
      buf[at + 1] = 0x75
      buf[at + 2] = 0x30
      buf[at + 3] = 0x30
      buf[at + 4] = HEX[b >> 4] as number
      buf[at + 5] = HEX[b & 15] as number
      at += 6
    } else {
      buf[at] = 0x5c
      buf[at + 1] = escape
      at += 2
    }
  }
  if (nonAscii && !isUtf8(line)) {
    const json = JSON.stringify(line.toString('utf8'))
    return start + buf.write(json.slice(1, -1), start)
  }
  return at
}

const RECORD_OPEN_LENGTH = '{"@timestamp":"'.length

// Writes a time as RFC 3339 with nanoseconds, up to its Z, after the record's opening when
// `open`.
function writeTime (buf: Buffer, at: number, time: TimeHalves, open: boolean): number {
  const cache = open ? recordSecond : createdSecond
  const nanos = cache.nanos(time)
  const text = open ? cache.text : cache.text.subarray(RECORD_OPEN_LENGTH)
  buf.set(text, at)
  at += text.length
  writePadded(buf, at + 9, nanos, 9)
  return at + 9
}

// Writes the record at `at`, which must have room for it; returns the end.
function writeRecord (buf: Buffer, at: number, record: LogRecord, tail: Buffer): number {
  const json = record.json
  at = writeTime(buf, at, json?.time ?? record.time, true)
  // A loop beats TypedArray#set's call for a few bytes.
  for (let i = 0; i < MESSAGE_OPEN.length; i++) buf[at + i] = MESSAGE_OPEN[i] as number
  at += MESSAGE_OPEN.length
  at = writeMessage(buf, at, json?.message ?? record.line)
  buf.set(tail, at)
  at += tail.length
  at = writeInteger(buf, at, record.sequence)
  if (record.event !== undefined) {
    buf.set(LINES_OPEN, at)
    at = writeInteger(buf, at + LINES_OPEN.length, record.event.lines)
  }
  if (json !== undefined) return writeJsonFields(buf, at, record, json)
  buf[at] = 0x7d
  buf[at + 1] = 0x7d
  return at + 2
}

const CREATED_OPEN = Buffer.from(',"created":"')
const ORIGINAL_OPEN = Buffer.from(',"original":"')

// parse=json: the rest of "event", then log.level and the line's own fields.
function writeJsonFields (buf: Buffer, at: number, record: LogRecord, json: JsonFields): number {
  if (json.time !== undefined) {
    buf.set(CREATED_OPEN, at)
    at = writeTime(buf, at + CREATED_OPEN.length, record.time, false)
    buf[at++] = 0x5a
    buf[at++] = 0x22
  }
  if (json.original) {
    buf.set(ORIGINAL_OPEN, at)
    at = writeMessage(buf, at + ORIGINAL_OPEN.length, record.line)
    buf[at++] = 0x22
  }
  buf[at++] = 0x7d
  if (json.level !== undefined) {
    buf[at++] = 0x2c
    buf.set(json.level, at)
    at += json.level.length
  }
  const members = json.members
  if (json.under !== undefined) {
    buf[at++] = 0x2c
    buf.set(json.under, at)
    at += json.under.length
    buf.set(members, at)
    at += members.length
  } else if (members.length > 0) {
    buf[at++] = 0x2c
    buf.set(members.subarray(1, members.length - 1), at)
    at += members.length - 2
  }
  buf[at++] = 0x7d
  return at
}

// What parse=json adds to a record at most, besides what FIXED_BYTES covers.
function jsonBytes (record: LogRecord): number {
  const json = record.json
  if (json === undefined) return 0
  return 64 + json.members.length + (json.under?.length ?? 0) + (json.level?.length ?? 0) +
    (json.message?.length ?? 0) * MESSAGE_EXPANSION + (json.original ? record.line.length * MESSAGE_EXPANSION : 0)
}

// A body of records and whatever a sink puts around them (separators, action lines), built in
// one Buffer. Sized from the batch up front, so it normally allocates once and never copies.
export class RecordBodyWriter {
  #buf: Buffer
  #at = 0

  constructor (batch: readonly LogRecord[], extraPerRecord = 0) {
    let estimate = 16
    // Both streams' tails have the same length.
    for (const record of batch) estimate += FIXED_BYTES + extraPerRecord + tailsOf(record.container).stdout.length + record.line.length + (record.json?.members.length ?? 0)
    this.#buf = Buffer.allocUnsafe(estimate)
  }

  get length (): number {
    return this.#at
  }

  #reserve (bytes: number): void {
    const need = this.#at + bytes
    if (need <= this.#buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(need, this.#buf.length * 2))
    this.#buf.copy(grown, 0, 0, this.#at)
    this.#buf = grown
  }

  byte (value: number): void {
    this.#reserve(1)
    this.#buf[this.#at++] = value
  }

  text (value: string): void {
    this.#reserve(value.length * 3)
    this.#at += this.#buf.write(value, this.#at)
  }

  record (record: LogRecord): void {
    const tails = tailsOf(record.container)
    const tail = record.stream === 'stdout' ? tails.stdout : tails.stderr
    this.#reserve(FIXED_BYTES + tail.length + record.line.length * MESSAGE_EXPANSION + jsonBytes(record))
    this.#at = writeRecord(this.#buf, this.#at, record, tail)
  }

  // The bytes written so far; the writer must not be used after.
  finish (): Buffer {
    return this.#buf.subarray(0, this.#at)
  }
}

import type { StreamName, TimeHalves } from '../record.js'

// The entry ReadLogs sends back, written straight into the caller's buffer: the adapter keeps
// only source, time and line, and this runs once per stored line, where protobufjs' Writer
// allocations cost more than the rest of the line's path. The bytes are the same protobuf
// (fields in number order, as Go writes them); test/store/stored-entry.test.ts checks them against
// protobufjs' decoder.
const SOURCE_FIELD: Record<StreamName, Buffer> = {
  stdout: Buffer.from([0x0a, 0x06, ...Buffer.from('stdout')]),
  stderr: Buffer.from([0x0a, 0x06, ...Buffer.from('stderr')]),
}
const TIME_TAG = 0x10
const LINE_TAG = 0x1a

function varint32Length (value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5
}

function writeVarint32 (buf: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  buf[at++] = value
  return at
}

// int64 as protobuf writes it: two's complement, 7 bits a byte, up to 10 bytes, from the
// 32-bit halves as protobufjs' LongBits does: BigInt arithmetic per byte would cost more than
// the rest of the entry.
function writeVarint64 (buf: Buffer, at: number, time: TimeHalves): number {
  let { lo, hi } = time
  while (hi !== 0 || lo >= 0x80) {
    buf[at++] = (lo & 0x7f) | 0x80
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  buf[at++] = lo
  return at
}

function varint64Length (time: TimeHalves): number {
  let { lo, hi } = time
  let n = 1
  while (hi !== 0 || lo >= 0x80) {
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
    n++
  }
  return n
}

export function storedEntryLength (time: TimeHalves, lineBytes: number): number {
  const timeField = time.hi === 0 && time.lo === 0 ? 0 : 1 + varint64Length(time)
  const lineField = lineBytes === 0 ? 0 : 1 + varint32Length(lineBytes) + lineBytes
  return 8 + timeField + lineField
}

// Writes source, time_nano and line (plus a trailing '\n' when `newline`) at `at`; returns the
// end offset. proto3 leaves zero values out, as Go does.
export function writeStoredEntry (buf: Buffer, at: number, stream: StreamName, time: TimeHalves, line: Buffer, newline: boolean): number {
  // TypedArray#set: Buffer#copy's argument handling cost more than the copy of a short line.
  buf.set(SOURCE_FIELD[stream], at)
  at += 8
  if (time.hi !== 0 || time.lo !== 0) {
    buf[at++] = TIME_TAG
    at = writeVarint64(buf, at, time)
  }
  const lineBytes = line.length + (newline ? 1 : 0)
  if (lineBytes > 0) {
    buf[at++] = LINE_TAG
    at = writeVarint32(buf, at, lineBytes)
    buf.set(line, at)
    at += line.length
    if (newline) buf[at++] = 0x0a
  }
  return at
}

export interface StoredEntry {
  readonly stream: StreamName
  // A view of the buffer, without the '\n' a complete line was stored with.
  readonly line: Buffer
  readonly complete: boolean
}

// Where the last varint read ended: kept here, not in a returned object, since this runs twice
// for every record a sink reads back from disk.
let varintEnd = 0

function readVarint (buf: Buffer, at: number, end: number): number {
  let value = 0
  // A running factor, not 2 ** shift: Math.pow per byte was most of the read-back's cost.
  let factor = 1
  while (at < end) {
    const b = buf[at++] as number
    value += (b & 0x7f) * factor
    if (b < 0x80) {
      varintEnd = at
      return value
    }
    factor *= 0x80
  }
  throw new Error('stored entry: varint runs past its record')
}

// Reads back what writeStoredEntry wrote between start and end. The store wrote it, so anything
// else is a damaged file, and throws.
export function readStoredEntry (buf: Buffer, start: number, end: number): StoredEntry {
  if (end - start < 8 || buf[start] !== 0x0a || buf[start + 1] !== 0x06) throw new Error('stored entry: no source field')
  const stream: StreamName = buf[start + 5] === 0x65 ? 'stderr' : 'stdout'
  let at = start + 8
  if (buf[at] === TIME_TAG) {
    readVarint(buf, at + 1, end)
    at = varintEnd
  }
  if (at >= end) return { stream, line: buf.subarray(at, at), complete: false }
  if (buf[at] !== LINE_TAG) throw new Error('stored entry: unexpected field')
  const length = readVarint(buf, at + 1, end)
  const next = varintEnd
  if (next + length !== end) throw new Error('stored entry: line length does not match its record')
  const complete = length > 0 && buf[end - 1] === 0x0a
  return { stream, line: buf.subarray(next, complete ? end - 1 : end), complete }
}

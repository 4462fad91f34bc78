import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

// The wire codec for the daemon's LogEntry (proto/entry.proto). time_nano is an int64 of
// nanoseconds (about 1.7e18, past 2^53): it is carried as its two 32-bit halves, which is what
// the decoder yields and the store writes, and becomes a bigint only where a sink needs one.
// line stays bytes, since a container may write anything, invalid UTF-8 included.

export type StreamName = 'stdout' | 'stderr'

// time_nano as unsigned 32-bit halves of its two's complement.
export interface TimeHalves {
  readonly hi: number
  readonly lo: number
}

export interface LogEntry {
  readonly source: string
  readonly time: TimeHalves
  readonly line: Buffer
  readonly partial: boolean
  readonly partialId: string
  readonly partialLast: boolean
  readonly partialOrdinal: number
}

interface LongLike { low: number, high: number }

// protobufjs camel-cases field names (time_nano → timeNano) unless told to keep them.
interface DecodedEntry {
  source: string
  timeNano: LongLike | number
  line: Uint8Array
  partial: boolean
  partialLogMetadata?: { last: boolean, id: string, ordinal: number } | null
}

const protoPath = fileURLToPath(new URL('../../proto/entry.proto', import.meta.url))
const emptyLine = Buffer.alloc(0)
const LogEntryType = protobuf.loadSync(protoPath).lookupType('logdriver.LogEntry')

function halvesOf (value: LongLike | number): TimeHalves {
  if (typeof value === 'number') return timeHalves(BigInt(value))
  return { hi: value.high >>> 0, lo: value.low >>> 0 }
}

export function timeNanoOf (time: TimeHalves): bigint {
  return BigInt.asIntN(64, (BigInt(time.hi) << 32n) | BigInt(time.lo))
}

// Throws on bytes that are not a LogEntry; callers treat that as a corrupt frame. `length`
// decodes a frame in place from a reader over the whole read buffer, without a view per frame.
export function decodeLogEntry (payload: Uint8Array | protobuf.Reader, length?: number): LogEntry {
  const message = LogEntryType.decode(payload, length) as unknown as DecodedEntry
  const meta = message.partialLogMetadata
  // proto3 omits an empty line; protobufjs then hands back its shared empty array.
  const line = message.line.length === 0 ? emptyLine : message.line
  return {
    source: message.source,
    time: halvesOf(message.timeNano),
    // protobufjs hands back Buffer views when it reads from a Buffer.
    line: Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength),
    partial: message.partial,
    partialId: meta?.id ?? '',
    partialLast: meta?.last ?? false,
    partialOrdinal: meta?.ordinal ?? 0,
  }
}

// The entry ReadLogs sends back, written straight into the caller's buffer: the adapter keeps
// only source, time and line, and this runs once per stored line, where protobufjs' Writer
// allocations cost more than the rest of the line's path. The bytes are the same protobuf
// (fields in number order, as Go writes them); test/log-entry.test.ts checks them against
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

export function timeHalves (value: bigint): TimeHalves {
  const v = BigInt.asUintN(64, value)
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) }
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
  SOURCE_FIELD[stream].copy(buf, at)
  at += 8
  if (time.hi !== 0 || time.lo !== 0) {
    buf[at++] = TIME_TAG
    at = writeVarint64(buf, at, time)
  }
  const lineBytes = line.length + (newline ? 1 : 0)
  if (lineBytes > 0) {
    buf[at++] = LINE_TAG
    at = writeVarint32(buf, at, lineBytes)
    at += line.copy(buf, at)
    if (newline) buf[at++] = 0x0a
  }
  return at
}

// Encodes a full entry as the daemon writes it to the FIFO; used by tests and benchmarks to act
// as the daemon.
export function encodeDaemonEntry (entry: LogEntry): Uint8Array {
  return LogEntryType.encode({
    source: entry.source,
    timeNano: { low: entry.time.lo | 0, high: entry.time.hi | 0 },
    line: entry.line,
    partial: entry.partial,
    partialLogMetadata: entry.partial
      ? { last: entry.partialLast, id: entry.partialId, ordinal: entry.partialOrdinal }
      : null,
  }).finish()
}

export function frame (payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.byteLength)
  out.writeUInt32BE(payload.byteLength, 0)
  out.set(payload, 4)
  return out
}

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
const emptyLine: Buffer = Buffer.alloc(0)
const LogEntryType = protobuf.loadSync(protoPath).lookupType('logdriver.LogEntry')

function halvesOf (value: LongLike | number): TimeHalves {
  if (typeof value === 'number') return timeHalves(BigInt(value))
  return { hi: value.high >>> 0, lo: value.low >>> 0 }
}

export function timeNanoOf (time: TimeHalves): bigint {
  return BigInt.asIntN(64, (BigInt(time.hi) << 32n) | BigInt(time.lo))
}

// Decodes one frame's LogEntry from buf[start, start + length); throws on bytes that are not a
// LogEntry, which callers treat as a corrupt frame. The daemon's frames are read by hand: fields
// 1 to 5 with the wire types of proto/entry.proto, straight into the entry, with the line as a
// view of the read buffer. That costs about a fifth of protobufjs' generic decode, and this runs
// once per line. Anything else (a field this code does not know, an unexpected wire type, a
// malformed varint) goes to protobufjs and the schema, which decides.
export function decodeLogEntry (buf: Buffer, start = 0, length = buf.length - start): LogEntry {
  return decodeKnownFields(buf, start, start + length) ?? decodeWithSchema(buf, start, length)
}

export function decodeWithSchema (buf: Buffer, start = 0, length = buf.length - start): LogEntry {
  const message = LogEntryType.decode(buf.subarray(start, start + length)) as unknown as DecodedEntry
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

const WIRE_VARINT = 0
const WIRE_BYTES = 2
const SOURCE_BYTES = 6
// The decoder's cursor, module-level so the hot path allocates nothing but the entry: a varint
// read returns its low 32 bits and leaves the high ones in varintHi.
let pos = 0
let varintHi = 0

// Reads a varint of up to 10 bytes ending before `end`; -1 when it is malformed or cut short.
function readVarint (buf: Buffer, end: number): number {
  let lo = 0
  let hi = 0
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) return -1
    const b = buf[pos++] as number
    if (shift < 28) {
      lo |= (b & 0x7f) << shift
    } else if (shift === 28) {
      lo |= (b & 0x0f) << 28
      hi = (b & 0x7f) >> 4
    } else {
      hi |= (b & 0x7f) << (shift - 32)
    }
    if (b < 0x80) {
      varintHi = hi >>> 0
      return lo >>> 0
    }
  }
  return -1
}

function isSource (buf: Buffer, at: number, name: Buffer): boolean {
  for (let i = 0; i < SOURCE_BYTES; i++) if (buf[at + i] !== name[i]) return false
  return true
}

const STDOUT = Buffer.from('stdout')
const STDERR = Buffer.from('stderr')

function decodeKnownFields (buf: Buffer, start: number, end: number): LogEntry | undefined {
  let source = ''
  let hi = 0
  let lo = 0
  let line = emptyLine
  let partial = false
  let partialId = ''
  let partialLast = false
  let partialOrdinal = 0
  pos = start
  while (pos < end) {
    const tag = readVarint(buf, end)
    if (tag < 0 || varintHi !== 0) return undefined
    const wire = tag & 7
    const field = tag >>> 3
    if (wire === WIRE_VARINT && (field === 2 || field === 4)) {
      const value = readVarint(buf, end)
      if (value < 0) return undefined
      if (field === 2) {
        lo = value
        hi = varintHi
      } else {
        partial = value !== 0 || varintHi !== 0
      }
      continue
    }
    if (wire !== WIRE_BYTES || field < 1 || field > 5 || field === 2 || field === 4) return undefined
    const length = readVarint(buf, end)
    if (length < 0 || varintHi !== 0 || length > end - pos) return undefined
    const at = pos
    pos += length
    if (field === 1) {
      source = length === SOURCE_BYTES && isSource(buf, at, STDOUT)
        ? 'stdout'
        : length === SOURCE_BYTES && isSource(buf, at, STDERR) ? 'stderr' : buf.toString('utf8', at, pos)
    } else if (field === 3) {
      line = length === 0 ? emptyLine : buf.subarray(at, pos)
    } else {
      const meta = decodeMetadata(buf, at, pos)
      if (meta === undefined) return undefined
      partialLast = meta.last
      partialId = meta.id
      partialOrdinal = meta.ordinal
      pos = at + length
    }
  }
  return { source, time: { hi, lo }, line, partial, partialId, partialLast, partialOrdinal }
}

function decodeMetadata (buf: Buffer, start: number, end: number): { last: boolean, id: string, ordinal: number } | undefined {
  let last = false
  let id = ''
  let ordinal = 0
  pos = start
  while (pos < end) {
    const tag = readVarint(buf, end)
    if (tag < 0 || varintHi !== 0) return undefined
    if (tag === (1 << 3 | WIRE_VARINT) || tag === (3 << 3 | WIRE_VARINT)) {
      const value = readVarint(buf, end)
      if (value < 0) return undefined
      if (tag === (1 << 3 | WIRE_VARINT)) last = value !== 0 || varintHi !== 0
      else ordinal = value | 0
    } else if (tag === (2 << 3 | WIRE_BYTES)) {
      const length = readVarint(buf, end)
      if (length < 0 || varintHi !== 0 || length > end - pos) return undefined
      id = buf.toString('utf8', pos, pos + length)
      pos += length
    } else {
      return undefined
    }
  }
  return { last, id, ordinal }
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

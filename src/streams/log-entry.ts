import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { timeHalves, type TimeHalves } from '../record.js'

// The decoder of the daemon's LogEntry (proto/entry.proto), as the FIFO carries it: time_nano
// as its 32-bit halves and the line as bytes (src/record.ts says why).

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

const protoPath = fileURLToPath(new URL('../../../proto/entry.proto', import.meta.url))
const emptyLine: Buffer = Buffer.alloc(0)
const LogEntryType = protobuf.loadSync(protoPath).lookupType('logdriver.LogEntry')

function halvesOf (value: LongLike | number): TimeHalves {
  if (typeof value === 'number') return timeHalves(BigInt(value))
  return { hi: value.high >>> 0, lo: value.low >>> 0 }
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

// What a frame's bytes say about being one the daemon wrote, before anything is decoded.
export const SHAPE_OK = 0
export const SHAPE_BAD = 1
export const SHAPE_NEED = 2
export type Shape = typeof SHAPE_OK | typeof SHAPE_BAD | typeof SHAPE_NEED

// The daemon's adapter writes source, time_nano, then line, partial and partial_log_metadata
// when they are set, in field order (Go marshals by field number), and nothing else; a newer
// daemon may add fields after them (attrs is 6). The shape check holds a frame to that: fields
// in that order, each known one once with its wire type, source "stdout" or "stderr", both
// source and time present, and the fields tiling the frame exactly. Bytes from inside a line or
// a frame whose length is wrong almost never pass; and the check costs a few steps per field,
// never the frame's length, so resync can afford it at every offset (issue 13: protobufjs
// decoding 1 MiB candidates at each offset of 10 MB of garbage stalled the plugin for seconds).
const MAX_FIELDS = 64
const FIELD_SOURCE = 1
const FIELD_TIME = 2
const FIELD_LINE = 3
const FIELD_PARTIAL = 4
const FIELD_METADATA = 5
const WIRE_FIXED64 = 1
const WIRE_FIXED32 = 5
// Where the last field that fits the daemon's shape ended: a frame whose length prefix is wrong
// still has whole fields, and they end where the next frame begins.
export let shapeEnd = 0
// Where the line the check last saw lies (both 0 when there was none).
export let shapeLineStart = 0
export let shapeLineEnd = 0

// Checks buf[start, end) as a LogEntry; only buf[.., available) is there so far. NEED means
// nothing is wrong yet but the rest is still to come. `knownOnly` refuses fields past 5, for a
// frame whose length is in doubt: what follows it must not pass for fields of its own.
export function daemonEntryShape (buf: Buffer, start: number, end: number, available: number, knownOnly = false): Shape {
  const limit = Math.min(end, available)
  let last = 0
  let fields = 0
  let seenTime = false
  let seenPartial = false
  pos = start
  shapeEnd = start
  shapeLineStart = shapeLineEnd = 0
  while (pos < end) {
    if (pos >= limit) return SHAPE_NEED
    if (++fields > MAX_FIELDS) return SHAPE_BAD
    const tag = readVarint(buf, limit)
    if (tag < 0) return pos >= limit && limit < end ? SHAPE_NEED : SHAPE_BAD
    if (varintHi !== 0) return SHAPE_BAD
    const field = tag >>> 3
    const wire = tag & 7
    if (field === 0 || field < last || (field === last && field <= FIELD_METADATA) || (knownOnly && field > FIELD_METADATA)) return SHAPE_BAD
    if (last === 0 && field !== FIELD_SOURCE) return SHAPE_BAD
    if (field > FIELD_TIME && !seenTime) return SHAPE_BAD
    last = field
    const expected = field === FIELD_TIME || field === FIELD_PARTIAL ? WIRE_VARINT : field <= FIELD_METADATA ? WIRE_BYTES : -1
    if (expected >= 0 && wire !== expected) return SHAPE_BAD
    if (wire === WIRE_VARINT) {
      const value = readVarint(buf, limit)
      if (value < 0) return pos >= limit && limit < end ? SHAPE_NEED : SHAPE_BAD
      if (field === FIELD_PARTIAL) {
        if (value > 1 || varintHi !== 0) return SHAPE_BAD
        seenPartial = true
      }
      if (field === FIELD_TIME) seenTime = true
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      pos += wire === WIRE_FIXED64 ? 8 : 4
    } else if (wire === WIRE_BYTES) {
      const length = readVarint(buf, limit)
      if (length < 0) return pos >= limit && limit < end ? SHAPE_NEED : SHAPE_BAD
      if (varintHi !== 0 || length > end - pos) return SHAPE_BAD
      const at = pos
      pos += length
      if (field === FIELD_SOURCE) {
        if (length !== SOURCE_BYTES) return SHAPE_BAD
        if (at + SOURCE_BYTES > limit) return prefixOf(buf, at, limit) ? SHAPE_NEED : SHAPE_BAD
        if (!isSource(buf, at, STDOUT) && !isSource(buf, at, STDERR)) return SHAPE_BAD
      } else if (field === FIELD_LINE) {
        shapeLineStart = at
        shapeLineEnd = pos
      } else if (field === FIELD_METADATA) {
        if (!seenPartial) return SHAPE_BAD
        if (pos > limit) return SHAPE_NEED
        if (!metadataShape(buf, at, pos)) return SHAPE_BAD
      }
    } else {
      return SHAPE_BAD
    }
    if (pos > end) return SHAPE_BAD
    if (pos <= limit) shapeEnd = pos
  }
  if (!seenTime) return SHAPE_BAD
  return end > available ? SHAPE_NEED : SHAPE_OK
}

// The bytes of a source name so far are the start of "stdout" or "stderr".
function prefixOf (buf: Buffer, at: number, limit: number): boolean {
  let out = true
  let err = true
  for (let i = 0; at + i < limit; i++) {
    out &&= buf[at + i] === STDOUT[i]
    err &&= buf[at + i] === STDERR[i]
  }
  return out || err
}

function metadataShape (buf: Buffer, start: number, end: number): boolean {
  let last = 0
  const outer = pos
  pos = start
  let ok = true
  while (ok && pos < end) {
    const tag = readVarint(buf, end)
    const field = tag >>> 3
    const wire = tag & 7
    if (tag < 0 || varintHi !== 0 || field <= last || field === 0) { ok = false; break }
    last = field
    if (field === 2) {
      const length = readVarint(buf, end)
      ok = wire === WIRE_BYTES && length >= 0 && varintHi === 0 && length <= end - pos
      pos += length
    } else if (field === 1 || field === 3) {
      ok = wire === WIRE_VARINT && readVarint(buf, end) >= 0 && (field === 3 || varintHi === 0)
    } else {
      ok = false
    }
  }
  pos = outer
  return ok
}

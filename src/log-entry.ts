import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

// The wire codec for the daemon's LogEntry (proto/entry.proto). time_nano is an int64 of
// nanoseconds (about 1.7e18, past 2^53), so it is carried as a bigint; line stays bytes, since
// a container may write anything, invalid UTF-8 included.

export type StreamName = 'stdout' | 'stderr'

export interface LogEntry {
  readonly source: string
  readonly timeNano: bigint
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

function toBigInt (value: LongLike | number): bigint {
  if (typeof value === 'number') return BigInt(value)
  return (BigInt(value.high) << 32n) | BigInt(value.low >>> 0)
}

function toLongBits (value: bigint): LongLike {
  return { low: Number(BigInt.asIntN(32, value)), high: Number(BigInt.asIntN(32, value >> 32n)) }
}

// Throws on bytes that are not a LogEntry; callers treat that as a corrupt frame.
export function decodeLogEntry (payload: Uint8Array): LogEntry {
  const message = LogEntryType.decode(payload) as unknown as DecodedEntry
  const meta = message.partialLogMetadata
  // proto3 omits an empty line; protobufjs then hands back its shared empty array.
  const line = message.line.length === 0 ? emptyLine : message.line
  return {
    source: message.source,
    timeNano: toBigInt(message.timeNano),
    line: Buffer.from(line.buffer, line.byteOffset, line.byteLength),
    partial: message.partial,
    partialId: meta?.id ?? '',
    partialLast: meta?.last ?? false,
    partialOrdinal: meta?.ordinal ?? 0,
  }
}

// Encodes the entry ReadLogs sends back: the adapter keeps only source, time and line.
export function encodeLogEntry (source: StreamName, timeNano: bigint, line: Uint8Array): Uint8Array {
  return LogEntryType.encode({ source, timeNano: toLongBits(timeNano), line }).finish()
}

// Encodes a full entry as the daemon writes it to the FIFO; used by tests and benchmarks to act
// as the daemon.
export function encodeDaemonEntry (entry: LogEntry): Uint8Array {
  return LogEntryType.encode({
    source: entry.source,
    timeNano: toLongBits(entry.timeNano),
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

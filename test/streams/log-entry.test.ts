import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeLogEntry, decodeWithSchema, type LogEntry } from '../../src/streams/log-entry.js'

// The FIFO decoder reads the daemon's fields by hand for speed and hands anything else to
// protobufjs; either way the entry must be what protobufjs makes of the same bytes.
function varint (value: bigint): number[] {
  const out: number[] = []
  let v = BigInt.asUintN(64, value)
  do {
    const low = Number(v & 0x7fn)
    v >>= 7n
    out.push(v === 0n ? low : low | 0x80)
  } while (v !== 0n)
  return out
}

function bytesField (field: number, bytes: Buffer | number[]): number[] {
  return [...varint(BigInt(field << 3 | 2)), ...varint(BigInt(bytes.length)), ...bytes]
}

function varintField (field: number, value: bigint): number[] {
  return [...varint(BigInt(field << 3)), ...varint(value)]
}

function decodedBoth (payload: number[]): [LogEntry | Error, LogEntry | Error] {
  const buf = Buffer.from([0xee, 0xee, ...payload, 0xee])
  const run = (decode: typeof decodeLogEntry): LogEntry | Error => {
    try {
      return decode(buf, 2, payload.length)
    } catch (err) {
      return err as Error
    }
  }
  return [run(decodeLogEntry), run(decodeWithSchema)]
}

test('the FIFO decoder reads every entry as protobufjs does: known fields, any order, unknown fields, bad bytes', () => {
  const meta = (last: boolean, id: string, ordinal: bigint): number[] =>
    [...(last ? varintField(1, 1n) : []), ...bytesField(2, Buffer.from(id)), ...varintField(3, ordinal)]
  const payloads: number[][] = [
    [],
    [...bytesField(1, Buffer.from('stdout')), ...varintField(2, 1_764_460_123_456_789_123n), ...bytesField(3, Buffer.from('hello\n'))],
    [...bytesField(1, Buffer.from('stderr')), ...varintField(2, -1n), ...bytesField(3, Buffer.alloc(20_000, 0x61))],
    [...bytesField(1, Buffer.from('stdout')), ...varintField(2, 127n), ...varintField(4, 1n), ...bytesField(5, meta(true, 'abc123', 7n))],
    [...bytesField(1, Buffer.from('stdout')), ...varintField(4, 1n), ...bytesField(5, meta(false, 'ïd', -3n)), ...bytesField(3, [0xff, 0x00])],
    // Fields out of order, the source given twice, and a source neither stdout nor stderr.
    [...bytesField(3, Buffer.from('x')), ...varintField(2, 9_223_372_036_854_775_807n), ...bytesField(1, Buffer.from('stdout')), ...bytesField(1, Buffer.from('stderr'))],
    [...bytesField(1, Buffer.from('stdin?'))],
    [...bytesField(1, Buffer.from('s'))],
    // Unknown fields (attrs, field 6, from newer daemons), and a known field with another wire type.
    [...bytesField(1, Buffer.from('stdout')), ...bytesField(6, bytesField(1, Buffer.from('k'))), ...bytesField(3, Buffer.from('y'))],
    [...bytesField(1, Buffer.from('stdout')), ...varintField(9, 5n), 0x3d, 1, 2, 3, 4],
    [...bytesField(1, Buffer.from('stdout')), ...bytesField(2, Buffer.from('12345678'))],
    // Malformed: a length past the end, a cut-off varint, an over-long varint, an end group.
    [...bytesField(1, Buffer.from('stdout')), 0x1a, 0x10, 0x41],
    [...bytesField(1, Buffer.from('stdout')), 0x10, 0x80, 0x80],
    [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    [0x0c],
  ]
  for (const [i, payload] of payloads.entries()) {
    const [fast, schema] = decodedBoth(payload)
    if (schema instanceof Error) {
      assert.ok(fast instanceof Error, `payload ${i}: protobufjs refused it (${schema.message}), the FIFO decoder did not`)
    } else {
      assert.ok(!(fast instanceof Error), `payload ${i}: ${String(fast)}`)
      assert.deepEqual({ ...fast, line: Buffer.from(fast.line) }, { ...schema, line: Buffer.from(schema.line) }, `payload ${i}`)
    }
  }
})

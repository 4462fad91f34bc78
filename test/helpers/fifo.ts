import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { timeHalves } from '../../src/record.js'
import type { LogEntry } from '../../src/streams/log-entry.js'

// A FIFO written the way dockerd writes it: created with mkfifo and opened O_RDWR by the writer
// before the plugin opens it (protocol.md, Q2), so the reader sees data, then EOF on close.
export class DaemonFifo {
  readonly path: string
  readonly #dir: string
  #fd: number | undefined

  constructor () {
    this.#dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-fifo-'))
    this.path = path.join(this.#dir, 'fifo')
    execFileSync('mkfifo', ['-m', '0700', this.path])
    this.#fd = fs.openSync(this.path, fs.constants.O_RDWR)
  }

  // Writes through the thread pool: a write larger than the pipe must not block the event loop
  // the reader under test runs on.
  async write (bytes: Uint8Array): Promise<void> {
    if (this.#fd === undefined) throw new Error('closed')
    let written = 0
    while (written < bytes.length) {
      written += await new Promise<number>((resolve, reject) => {
        fs.write(this.#fd as number, bytes, written, bytes.length - written, null, (err, n) => err === null ? resolve(n) : reject(err))
      })
    }
  }

  close (): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd)
    this.#fd = undefined
  }

  remove (): void {
    this.close()
    fs.rmSync(this.#dir, { recursive: true, force: true })
  }
}

let sequence = 0
export function daemonFrame (line: string | Buffer, fields: Partial<LogEntry> = {}): Buffer {
  return frame(encodeDaemonEntry({
    source: 'stdout',
    time: timeHalves(1_764_460_000_000_000_000n + BigInt(sequence++)),
    line: typeof line === 'string' ? Buffer.from(line) : line,
    partial: false,
    partialId: '',
    partialLast: false,
    partialOrdinal: 0,
    ...fields,
  }))
}

const LogEntryType = protobuf.loadSync(fileURLToPath(new URL('../../../proto/entry.proto', import.meta.url))).lookupType('logdriver.LogEntry')

// A full entry as the daemon encodes it (protobuf, through the schema).
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

// The daemon's framing: a 4-byte big-endian length, then the entry.
export function frame (payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.byteLength)
  out.writeUInt32BE(payload.byteLength, 0)
  out.set(payload, 4)
  return out
}

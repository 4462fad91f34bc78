import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { encodeDaemonEntry, frame, timeHalves, type LogEntry } from '../../src/log-entry.js'

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

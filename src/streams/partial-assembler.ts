import type { LogLine, StreamName, TimeHalves } from '../record.js'
import type { LogEntry } from './log-entry.js'

interface Pending {
  id: string
  time: TimeHalves
  chunks: Buffer[]
  bytes: number
}

// Joins the daemon's 16 KiB chunks back into lines. Chunks of one line share
// partial_log_metadata.id; `partial` is true on all of them, the final one included, which is
// marked by `last` (protocol.md, trap 6). A sequence can end without `last` (the container's
// final bytes had no newline), and stdout and stderr sequences interleave, so there is one
// pending line per stream. Memory is bounded by maxBytes per stream: a longer line is handed on
// in pieces marked incomplete, which keeps docker logs byte-exact.
export class PartialAssembler {
  readonly #maxBytes: number
  readonly #emit: (line: LogLine) => void
  readonly #pending = new Map<StreamName, Pending>()

  constructor (maxBytes: number, emit: (line: LogLine) => void) {
    this.#maxBytes = maxBytes
    this.#emit = emit
  }

  push (stream: StreamName, entry: LogEntry): void {
    const pending = this.#pending.get(stream)
    if (!entry.partial) {
      // Daemons before 18.06 sent partial chunks without metadata and ended the line with a
      // non-partial entry.
      if (pending !== undefined && pending.id === '') {
        this.#append(pending, entry.line)
        this.#flush(stream, pending, true)
        return
      }
      if (pending !== undefined) this.#flush(stream, pending, false)
      this.#emit({ stream, time: entry.time, line: entry.line, complete: true })
      return
    }
    let current = pending
    if (current !== undefined && current.id !== entry.partialId) {
      this.#flush(stream, current, false)
      current = undefined
    }
    if (current === undefined) {
      current = { id: entry.partialId, time: entry.time, chunks: [], bytes: 0 }
      this.#pending.set(stream, current)
    }
    this.#append(current, entry.line)
    if (entry.partialLast) {
      this.#flush(stream, current, true)
    } else if (current.bytes >= this.#maxBytes) {
      this.#emit({ stream, time: current.time, line: this.#take(current), complete: false })
    }
  }

  // At EOF: what is still pending never got its `last` chunk.
  end (): void {
    for (const [stream, pending] of this.#pending) this.#flush(stream, pending, false)
  }

  #append (pending: Pending, line: Buffer): void {
    if (line.length === 0) return
    // The chunk may be a view of the FIFO read buffer; keep a copy of what is retained.
    pending.chunks.push(Buffer.from(line))
    pending.bytes += line.length
  }

  #take (pending: Pending): Buffer {
    const line = pending.chunks.length === 1 ? pending.chunks[0] ?? Buffer.alloc(0) : Buffer.concat(pending.chunks, pending.bytes)
    pending.chunks = []
    pending.bytes = 0
    return line
  }

  #flush (stream: StreamName, pending: Pending, complete: boolean): void {
    this.#pending.delete(stream)
    if (pending.bytes === 0 && !complete) return
    this.#emit({ stream, time: pending.time, line: this.#take(pending), complete })
  }
}

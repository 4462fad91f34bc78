import fs from 'node:fs/promises'
import type { LogLine } from '../record.js'
import { RECORD_OVERHEAD, type ContainerLog } from './container-log.js'
import { readStoredEntry } from './stored-entry.js'

export interface StoredLine extends LogLine {
  readonly sequence: number
}

export interface ReadResult {
  readonly lines: StoredLine[]
  // Records before the first line that are no longer on disk (the ring removed them).
  readonly missing: number
}

const READ_CHUNK = 1024 * 1024

// Reads a container's records back from disk in order, from a sequence on: how a sink that fell
// behind catches up. It keeps its place between reads, so reading on costs no search.
export class RecordReader {
  readonly #log: ContainerLog
  #handle: fs.FileHandle | undefined
  #segment = -1
  #offset = 0
  #sequence = -1

  constructor (log: ContainerLog) {
    this.#log = log
  }

  // Up to `maxRecords` records (and about `maxBytes` of lines) from `from` on, as far as they
  // are on disk; fewer at the end of the store.
  async read (from: number, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    this.#log.flush()
    let missing = 0
    if (from !== this.#sequence) missing = await this.#seek(from)
    const lines: StoredLine[] = []
    let bytes = 0
    while (lines.length < maxRecords && bytes < maxBytes && this.#sequence <= this.#log.lastSequence) {
      const segments = this.#log.segments()
      const index = segments.findIndex((s) => s.number === this.#segment)
      const segment = segments[index]
      const next = segments[index + 1]
      if (segment === undefined) {
        // The ring removed the segment under us: go on from the oldest one left.
        missing += await this.#seek(this.#sequence)
        if (this.#segment < 0) break
        continue
      }
      if (this.#offset >= segment.size) {
        if (next === undefined) break
        await this.#open(next.number)
        continue
      }
      const want = Math.min(READ_CHUNK, segment.size - this.#offset)
      const chunk = Buffer.allocUnsafe(want)
      const { bytesRead } = await (this.#handle as fs.FileHandle).read(chunk, 0, want, this.#offset)
      let at = 0
      while (bytesRead - at >= RECORD_OVERHEAD && lines.length < maxRecords && bytes < maxBytes) {
        const length = chunk.readUInt32BE(at)
        const end = at + length + RECORD_OVERHEAD
        if (end > bytesRead) break
        const entry = readStoredEntry(chunk, at + 12, at + 12 + length)
        lines.push({ ...entry, time: { hi: chunk.readUInt32BE(at + 4), lo: chunk.readUInt32BE(at + 8) }, sequence: this.#sequence++ })
        bytes += entry.line.length
        at = end
      }
      if (at === 0) throw new Error(`local store: a record at ${this.#offset} of segment ${this.#segment} does not fit in ${READ_CHUNK} bytes`)
      this.#offset += at
    }
    return { lines, missing }
  }

  async close (): Promise<void> {
    await this.#handle?.close()
    this.#handle = undefined
    this.#segment = -1
    this.#sequence = -1
  }

  // Puts the reader at `from`, or at the oldest record left when `from` is gone; says how many
  // records were gone.
  async #seek (from: number): Promise<number> {
    const segments = this.#log.segments()
    let index = segments.length - 1
    while (index > 0 && (segments[index] as { number: number }).number > from) index--
    const segment = segments[index]
    if (segment === undefined) {
      await this.close()
      return 0
    }
    await this.#open(segment.number)
    if (from < segment.number) return segment.number - from
    // Hop over the records before `from` by their lengths.
    const head = Buffer.alloc(4)
    while (this.#sequence < from && this.#offset + RECORD_OVERHEAD <= segment.size) {
      await (this.#handle as fs.FileHandle).read(head, 0, 4, this.#offset)
      this.#offset += head.readUInt32BE(0) + RECORD_OVERHEAD
      this.#sequence++
    }
    return 0
  }

  async #open (segment: number): Promise<void> {
    await this.#handle?.close()
    this.#handle = await fs.open(this.#log.segmentPath(segment), 'r')
    this.#segment = segment
    this.#offset = 0
    this.#sequence = segment
  }
}

import fs from 'node:fs/promises'
import type { ContainerMeta, LogRecord } from '../record.js'
import { readUint32, RECORD_OVERHEAD, type ContainerLog } from './container-log.js'
import { readStoredEntry } from './stored-entry.js'

export interface ReadResult {
  readonly records: LogRecord[]
  // Records before the first one that are no longer on disk (the ring removed them).
  readonly missing: number
}

const READ_CHUNK = 1024 * 1024
const NO_BYTES = Buffer.alloc(0)

// Reads a container's records back from disk in order, from a sequence on, as the records its
// sinks receive: how a sink that fell behind catches up. It keeps its place, and the chunk it
// read last, between reads: reading on costs no search, and each byte comes from the file once
// (reading a fresh chunk for every batch read eight times what the batch held).
export class RecordReader {
  readonly #log: ContainerLog
  readonly #container: ContainerMeta
  #handle: fs.FileHandle | undefined
  #segment = -1
  // Where the next record starts in the segment, and its sequence.
  #offset = 0
  #sequence = -1
  // Bytes [#chunkStart, #chunkStart + #chunk.length) of the segment. The records handed out
  // are views of it, so a chunk is never refilled, only replaced.
  #chunk = NO_BYTES
  #chunkStart = 0

  constructor (log: ContainerLog, container: ContainerMeta) {
    this.#log = log
    this.#container = container
  }

  // Up to `maxRecords` records (and about `maxBytes` of lines) from `from` on, as far as they
  // are on disk; fewer at the end of the store.
  async read (from: number, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    this.#log.flush()
    let missing = 0
    if (from !== this.#sequence) missing = await this.#seek(from)
    const records: LogRecord[] = []
    let bytes = 0
    while (records.length < maxRecords && bytes < maxBytes && this.#sequence <= this.#log.lastSequence) {
      bytes += this.#parse(records, maxRecords, maxBytes - bytes)
      if (records.length >= maxRecords || bytes >= maxBytes) break
      const segments = this.#log.segments()
      const index = segments.findIndex((s) => s.number === this.#segment)
      const segment = segments[index]
      if (segment === undefined) {
        // The ring removed the segment under us: go on from the oldest one left.
        missing += await this.#seek(this.#sequence)
        if (this.#segment < 0) break
        continue
      }
      if (this.#offset < segment.size) {
        await this.#load(segment.size)
        continue
      }
      const next = segments[index + 1]
      if (next === undefined) break
      await this.#open(next.number)
    }
    return { records, missing }
  }

  async close (): Promise<void> {
    await this.#handle?.close()
    this.#handle = undefined
    this.#segment = -1
    this.#sequence = -1
    this.#chunk = NO_BYTES
  }

  // Takes the whole records the chunk holds from the reader's offset on, within the limits;
  // returns their line bytes.
  #parse (records: LogRecord[], maxRecords: number, maxBytes: number): number {
    const chunk = this.#chunk
    let at = this.#offset - this.#chunkStart
    let bytes = 0
    while (chunk.length - at >= RECORD_OVERHEAD && records.length < maxRecords && bytes < maxBytes) {
      const length = readUint32(chunk, at)
      const end = at + length + RECORD_OVERHEAD
      if (end > chunk.length) break
      const entry = readStoredEntry(chunk, at + 12, at + 12 + length)
      records.push({
        stream: entry.stream,
        time: { hi: readUint32(chunk, at + 4), lo: readUint32(chunk, at + 8) },
        line: entry.line,
        complete: entry.complete,
        sequence: this.#sequence++,
        container: this.#container,
      })
      bytes += entry.line.length
      at = end
    }
    this.#offset = this.#chunkStart + at
    return bytes
  }

  // The length of the record at the reader's offset, when the chunk holds its header.
  #headerLength (): number | undefined {
    const at = this.#offset - this.#chunkStart
    return at >= 0 && this.#chunk.length - at >= RECORD_OVERHEAD ? readUint32(this.#chunk, at) : undefined
  }

  // Reads a new chunk from the reader's offset: READ_CHUNK bytes, or the whole record at the
  // offset when that is longer.
  async #load (segmentSize: number): Promise<void> {
    const length = this.#headerLength()
    const need = length === undefined ? RECORD_OVERHEAD : length + RECORD_OVERHEAD
    const damaged = (): Error => new Error(`local store: the record at ${this.#offset} of segment ${this.#segment} runs past the end of its file`)
    if (segmentSize - this.#offset < need) throw damaged()
    const want = Math.max(need, Math.min(READ_CHUNK, segmentSize - this.#offset))
    const chunk = Buffer.allocUnsafe(want)
    const { bytesRead } = await (this.#handle as fs.FileHandle).read(chunk, 0, want, this.#offset)
    if (bytesRead < need) throw damaged()
    this.#chunk = chunk.subarray(0, bytesRead)
    this.#chunkStart = this.#offset
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
    while (this.#sequence < from && this.#offset + RECORD_OVERHEAD <= segment.size) {
      let length = this.#headerLength()
      if (length === undefined) {
        await this.#load(segment.size)
        length = this.#headerLength() as number
      }
      this.#offset += length + RECORD_OVERHEAD
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
    this.#chunk = NO_BYTES
    this.#chunkStart = 0
  }
}

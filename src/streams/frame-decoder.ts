import { decodeLogEntry, type LogEntry } from './log-entry.js'

// The daemon never writes a frame larger than about 16.5 KiB (a 16 KiB chunk plus metadata);
// anything far beyond that is corruption, not data (protocol.md, item 20).
export const MAX_FRAME_BYTES = 1024 * 1024

// Every frame the daemon writes starts with field 1 (source), length 6, "stdout" or "stderr":
// the adapter always sets it and Go marshals fields in number order. Checking it as soon as the
// header arrives lets a garbage length be rejected at once instead of waiting for its bytes.
const SOURCE_PREFIX = Buffer.from([0x0a, 0x06, 0x73, 0x74, 0x64])
const PREFIX_BYTES = 8

export interface CorruptRegion {
  readonly offset: number
  readonly skippedBytes: number
  readonly reason: string
}

export interface FrameSink {
  entry: (entry: LogEntry) => void
  corrupt: (region: CorruptRegion) => void
}

function plausibleStart (buf: Buffer, at: number): boolean {
  for (let i = 0; i < SOURCE_PREFIX.length; i++) {
    if (buf[at + i] !== SOURCE_PREFIX[i]) return false
  }
  const a = buf[at + 5]; const b = buf[at + 6]; const c = buf[at + 7]
  return (a === 0x6f && b === 0x75 && c === 0x74) || (a === 0x65 && b === 0x72 && c === 0x72)
}

// Splits the FIFO byte stream into LogEntry frames: 4-byte big-endian length + protobuf. Frames
// may arrive split across reads or several per read. There is no resync marker in the protocol,
// so after a corrupt frame the decoder slides forward a byte at a time until a frame that is
// plausible and decodes again, and reports the skipped region once.
export class FrameDecoder {
  readonly #sink: FrameSink
  #pending: Buffer = Buffer.alloc(0)
  #consumed = 0
  #corruptStart = -1
  #corruptReason = ''

  constructor (sink: FrameSink) {
    this.#sink = sink
  }

  push (chunk: Buffer): void {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const end = this.#scan(buf, false)
    this.#consumed += end
    // Copy the leftover so a small tail does not pin the whole read buffer.
    this.#pending = end === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(end))
  }

  // At EOF whatever is left is a frame the daemon never finished (or garbage): scan it with no
  // hope of more bytes, then report what could not be decoded.
  end (): void {
    const buf = this.#pending
    const end = this.#scan(buf, true)
    this.#consumed += end
    this.#pending = Buffer.alloc(0)
    if (end < buf.length) this.#markCorrupt(this.#consumed, `truncated frame at end of stream (${buf.length - end} bytes)`)
    this.#consumed += buf.length - end
    this.#closeCorrupt()
  }

  #scan (buf: Buffer, final: boolean): number {
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      const available = buf.length - off - 4
      if (len > MAX_FRAME_BYTES) {
        this.#markCorrupt(this.#consumed + off, `frame length ${len} exceeds the ${MAX_FRAME_BYTES}-byte cap`)
        off += 1
        continue
      }
      if (available >= Math.min(len, PREFIX_BYTES)) {
        if (len < PREFIX_BYTES || !plausibleStart(buf, off + 4)) {
          this.#markCorrupt(this.#consumed + off, 'frame does not start with a stdout/stderr source field')
          off += 1
          continue
        }
      } else if (!final) {
        break
      }
      if (available < len) {
        if (!final) break
        this.#markCorrupt(this.#consumed + off, `truncated frame at end of stream (${available} of ${len} bytes)`)
        off += 1
        continue
      }
      let entry: LogEntry
      try {
        entry = decodeLogEntry(buf, off + 4, len)
      } catch (err) {
        this.#markCorrupt(this.#consumed + off, `frame is not a LogEntry: ${(err as Error).message}`)
        off += 1
        continue
      }
      this.#closeCorrupt(this.#consumed + off)
      this.#sink.entry(entry)
      off += 4 + len
    }
    return off
  }

  #markCorrupt (offset: number, reason: string): void {
    if (this.#corruptStart >= 0) return
    this.#corruptStart = offset
    this.#corruptReason = reason
  }

  #closeCorrupt (at = this.#consumed): void {
    if (this.#corruptStart < 0) return
    const region = { offset: this.#corruptStart, skippedBytes: at - this.#corruptStart, reason: this.#corruptReason }
    this.#corruptStart = -1
    this.#sink.corrupt(region)
  }
}

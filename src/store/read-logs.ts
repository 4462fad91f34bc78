import fs from 'node:fs/promises'
import { RECORD_OVERHEAD, type ContainerLog } from './container-log.js'

// ReadLogs from the local store: tail, since, until and follow, as frames the daemon decodes
// (4-byte big-endian length + LogEntry). Lines were stored with their '\n' already appended
// when complete, so docker logs gives back exactly what the container wrote.

export interface ReadConfig {
  readonly since: bigint | undefined
  readonly until: bigint | undefined
  readonly tail: number
  readonly follow: boolean
}

interface Cursor {
  segment: number
  offset: number
}

// A reader's memory is one chunk of the file and the frames made from it, whatever the store's
// size: a chunk's frames are yielded before the next is read, and a slow client's backpressure
// stops the reading. So 500 concurrent `docker logs` cost 500 small chunks, not 500 copies of
// what they read.
const READ_CHUNK = 64 * 1024
const TRAILER_BLOCK = 64 * 1024

// Where the last `tail` records start, walking segment trailers backwards from the end.
async function tailStart (log: ContainerLog, tail: number): Promise<Cursor> {
  const segments = log.segments()
  let remaining = tail
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]
    if (segment === undefined) continue
    let handle: fs.FileHandle
    try {
      handle = await fs.open(log.segmentPath(segment.number), 'r')
    } catch {
      continue
    }
    try {
      let position = (await handle.stat()).size
      let block = Buffer.alloc(0)
      let blockStart = position
      while (position > 0) {
        if (position - 4 < blockStart) {
          blockStart = Math.max(0, position - TRAILER_BLOCK)
          block = Buffer.alloc(position - blockStart)
          await handle.read(block, 0, block.length, blockStart)
        }
        const length = block.readUInt32BE(position - 4 - blockStart)
        const start = position - length - RECORD_OVERHEAD
        if (start < 0) break
        position = start
        if (--remaining === 0) return { segment: segment.number, offset: position }
      }
    } finally {
      await handle.close()
    }
  }
  return { segment: segments[0]?.number ?? 0, offset: 0 }
}

function endCursor (log: ContainerLog): Cursor {
  const last = log.segments().at(-1)
  return { segment: last?.number ?? 0, offset: last?.size ?? 0 }
}

// The frames of the whole records in buf[0, filled) that the config selects, and where the
// first record that is not whole starts.
function framesOf (buf: Buffer, filled: number, config: ReadConfig): { frames: Buffer | undefined, consumed: number } {
  let frameBytes = 0
  let p = 0
  for (; filled - p >= RECORD_OVERHEAD; p += buf.readUInt32BE(p) + RECORD_OVERHEAD) {
    const length = buf.readUInt32BE(p)
    if (p + length + RECORD_OVERHEAD > filled) break
    if (selected(buf.readBigInt64BE(p + 4), config)) frameBytes += length + 4
  }
  if (frameBytes === 0) return { frames: undefined, consumed: p }
  const frames = Buffer.allocUnsafe(frameBytes)
  let out = 0
  for (let q = 0; q < p; q += buf.readUInt32BE(q) + RECORD_OVERHEAD) {
    const length = buf.readUInt32BE(q)
    if (!selected(buf.readBigInt64BE(q + 4), config)) continue
    frames.writeUInt32BE(length, out)
    buf.copy(frames, out + 4, q + 12, q + 12 + length)
    out += length + 4
  }
  return { frames, consumed: p }
}

function selected (timeNano: bigint, config: ReadConfig): boolean {
  return (config.since === undefined || timeNano >= config.since) && (config.until === undefined || timeNano <= config.until)
}

// Reads from the cursor to the current end of the store, advancing the cursor.
async function * readForward (log: ContainerLog, cursor: Cursor, config: ReadConfig): AsyncGenerator<Buffer> {
  log.flush()
  let buf = Buffer.allocUnsafe(READ_CHUNK)
  for (;;) {
    const segments = log.segments()
    const index = segments.findIndex((s) => s.number >= cursor.segment)
    const segment = segments[index]
    if (segment === undefined) break
    if (segment.number !== cursor.segment) {
      // The ring dropped the segment the cursor was in.
      cursor.segment = segment.number
      cursor.offset = 0
    }
    // Once a newer segment exists this one is sealed; its size read after that is final.
    const sealed = index < segments.length - 1
    let handle: fs.FileHandle
    try {
      handle = await fs.open(log.segmentPath(segment.number), 'r')
    } catch {
      if (!sealed) break
      cursor.segment = segment.number + 1
      cursor.offset = 0
      continue
    }
    try {
      const size = (await handle.stat()).size
      // buf[0, filled) holds the file's bytes from cursor.offset: the start of a record that
      // did not fit in the last chunk.
      let filled = 0
      while (cursor.offset + filled < size) {
        if (filled >= 4) {
          // A record larger than the buffer gets a buffer of its size, for as long as it is read.
          const need = buf.readUInt32BE(0) + RECORD_OVERHEAD
          if (cursor.offset + need > size) break
          if (need > buf.length) buf = Buffer.concat([buf.subarray(0, filled)], need)
        }
        const want = Math.min(buf.length - filled, size - cursor.offset - filled)
        const { bytesRead } = await handle.read(buf, filled, want, cursor.offset + filled)
        if (bytesRead === 0) break
        filled += bytesRead
        const { frames, consumed } = framesOf(buf, filled, config)
        cursor.offset += consumed
        buf.copy(buf, 0, consumed, filled)
        filled -= consumed
        if (buf.length > READ_CHUNK && filled < READ_CHUNK) buf = Buffer.concat([buf.subarray(0, filled)], READ_CHUNK)
        if (frames !== undefined) yield frames
      }
    } finally {
      await handle.close()
    }
    if (!sealed) break
    cursor.segment = segment.number + 1
    cursor.offset = 0
  }
}

function waitForChange (log: ContainerLog, signal: AbortSignal, untilMs: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      log.off('append', done)
      log.off('idle', done)
      signal.removeEventListener('abort', done)
      if (timer !== undefined) clearTimeout(timer)
      resolve()
    }
    const timer = untilMs === undefined ? undefined : setTimeout(done, Math.max(0, untilMs - Date.now()) + 1)
    log.once('append', done)
    log.once('idle', done)
    signal.addEventListener('abort', done, { once: true })
  })
}

export async function * readLogs (log: ContainerLog, config: ReadConfig, signal: AbortSignal): AsyncGenerator<Buffer> {
  let cursor: Cursor
  if (config.tail === 0) cursor = endCursor(log)
  else if (config.tail > 0) cursor = await tailStart(log, config.tail)
  else cursor = { segment: log.segments()[0]?.number ?? 0, offset: 0 }
  // Follow ends when the container's logging stops, as json-file does: docker logs -f must not
  // hang after the container exits (protocol.md, item 25).
  const follow = config.follow && log.active
  const untilMs = config.until === undefined ? undefined : Number(config.until / 1_000_000n)
  yield * readForward(log, cursor, config)
  while (follow && !signal.aborted) {
    if (untilMs !== undefined && Date.now() > untilMs) break
    const wasActive = log.active
    if (!wasActive) break
    await waitForChange(log, signal, untilMs)
    yield * readForward(log, cursor, config)
  }
  if (follow && !signal.aborted) yield * readForward(log, cursor, config)
}

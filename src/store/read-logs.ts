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

const READ_CHUNK = 1024 * 1024
const YIELD_BYTES = 256 * 1024
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

// Reads from the cursor to the current end of the store, advancing the cursor.
async function * readForward (log: ContainerLog, cursor: Cursor, config: ReadConfig): AsyncGenerator<Buffer> {
  log.flush()
  let out: Buffer[] = []
  let outBytes = 0
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
      let carry = Buffer.alloc(0)
      while (cursor.offset + carry.length < size) {
        const want = Math.min(READ_CHUNK, size - cursor.offset - carry.length)
        const chunk = Buffer.allocUnsafe(want)
        const { bytesRead } = await handle.read(chunk, 0, want, cursor.offset + carry.length)
        if (bytesRead === 0) break
        const buf = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        let p = 0
        while (buf.length - p >= RECORD_OVERHEAD) {
          const length = buf.readUInt32BE(p)
          const end = p + length + RECORD_OVERHEAD
          if (end > buf.length) break
          const timeNano = buf.readBigInt64BE(p + 4)
          if ((config.since === undefined || timeNano >= config.since) && (config.until === undefined || timeNano <= config.until)) {
            const frame = Buffer.allocUnsafe(length + 4)
            frame.writeUInt32BE(length, 0)
            buf.copy(frame, 4, p + 12, p + 12 + length)
            out.push(frame)
            outBytes += frame.length
          }
          p = end
        }
        cursor.offset += p
        carry = buf.subarray(p)
        if (outBytes >= YIELD_BYTES) {
          yield Buffer.concat(out, outBytes)
          out = []
          outBytes = 0
        }
        if (carry.length > READ_CHUNK * 2) break
      }
    } finally {
      await handle.close()
    }
    if (!sealed) break
    cursor.segment = segment.number + 1
    cursor.offset = 0
  }
  if (outBytes > 0) yield Buffer.concat(out, outBytes)
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

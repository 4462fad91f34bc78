import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { FrameDecoder, type CorruptRegion } from './frame-decoder.js'
import type { LogEntry } from './log-entry.js'

export interface FifoReaderEvents {
  entry: [LogEntry]
  corrupt: [CorruptRegion]
  error: [Error]
  end: []
}

// While a clean stop waits for the rest of a frame the daemon is still writing.
const BOUNDARY_POLL_MS = 5
// libuv reads a ready socket up to 32 times in a row, 64 KiB each: a FIFO full of garbage could
// give the decoder 2 MiB in one turn of the event loop. Past one read in a turn the FIFO
// waits for the next turn, and the other containers and the daemon's calls get theirs.
const TURN_MAX_BYTES = 64 * 1024

// Reads one FIFO without the libuv thread pool: a blocking read on a FIFO parks one of its four
// threads, and with a few idle containers the plugin stops reading everything (protocol.md,
// trap 11; nodejs/node#23220). An O_NONBLOCK fd in a net.Socket is event-driven instead.
// Opened read-only, so EOF arrives once the daemon closes its end (trap 12).
export class FifoReader extends EventEmitter<FifoReaderEvents> {
  readonly path: string
  #socket: net.Socket | undefined
  #decoder: FrameDecoder | undefined
  // Bytes taken from the pipe, for /metrics.
  bytesRead = 0
  #paused = false
  #ended = false
  #turnBytes = 0
  #yielding = false

  constructor (path: string) {
    super()
    this.path = path
  }

  // Returns false when the FIFO is already gone: the daemon unlinks it after StopLogging, so a
  // late open means a stream that has finished (trap 27).
  open (): boolean {
    let fd: number
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
    // The path may have been replaced since StartLogging looked at it: what was opened is what counts.
    if (!fs.fstatSync(fd).isFIFO()) {
      fs.closeSync(fd)
      throw new Error(`${this.path} is not a FIFO`)
    }
    // Linux reports no hang-up to a reader that opened a FIFO while no writer had it open, not
    // until a writer has come and gone (fs/pipe.c, fifo_open), so after a restart a FIFO whose
    // daemon end closed while the plugin was down never ended (issue 13). A write end opened and
    // closed here is that writer: EOF comes once no writer is left, at once if there is none.
    // The daemon holds its end from before StartLogging (protocol.md, Q2): a live stream reads on.
    try {
      fs.closeSync(fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK))
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
    const decoder = new FrameDecoder({
      entry: (entry) => this.emit('entry', entry),
      corrupt: (region) => this.emit('corrupt', region),
    })
    this.#decoder = decoder
    const socket = new net.Socket({ fd, readable: true, writable: false })
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length
      decoder.push(chunk)
      this.#turnBytes += chunk.length
      if (this.#turnBytes >= TURN_MAX_BYTES && !this.#yielding) this.#yieldTurn(socket)
    })
    socket.on('error', (err) => this.emit('error', err))
    socket.on('close', () => {
      if (this.#ended) return
      this.#ended = true
      decoder.end()
      this.emit('end')
    })
    if (this.#paused) socket.pause()
    return true
  }

  pause (): void {
    if (this.#paused) return
    this.#paused = true
    this.#socket?.pause()
  }

  resume (): void {
    if (!this.#paused) return
    this.#paused = false
    if (!this.#yielding) this.#socket?.resume()
  }

  #yieldTurn (socket: net.Socket): void {
    this.#yielding = true
    socket.pause()
    setImmediate(() => {
      this.#turnBytes = 0
      this.#yielding = false
      if (!this.#paused && !this.#ended) socket.resume()
    })
  }

  // Plugin shutdown: stop reading on a frame boundary if that comes before `deadline`, so that
  // the next process picks the stream up in step (a FIFO cannot be given bytes back, and the
  // next process would skip the rest of a frame half read here: one line lost). What the socket
  // has buffered goes to the decoder, then the rest of the frame is read to its last byte and no
  // further, through a second descriptor.
  async detach (deadline: number): Promise<void> {
    const socket = this.#socket
    const decoder = this.#decoder
    if (socket === undefined || decoder === undefined || this.#ended) return
    this.#ended = true
    let fd: number | undefined
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
    } catch {
      // Gone already: what is left of the frame went with it.
    }
    socket.pause()
    while (socket.read() !== null) { /* each read() emits 'data', which feeds the decoder */ }
    socket.destroy()
    try {
      const buf = Buffer.allocUnsafe(64 * 1024)
      for (;;) {
        const left = decoder.bytesToBoundary()
        if (left <= 0 || fd === undefined) break
        let read: number
        try {
          read = fs.readSync(fd, buf, 0, Math.min(left, buf.length), null)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadline) break
          await sleep(BOUNDARY_POLL_MS)
          continue
        }
        if (read === 0) break
        this.bytesRead += read
        decoder.push(Buffer.from(buf.subarray(0, read)))
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd)
      this.emit('end')
    }
  }
}

import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import { FrameDecoder, type CorruptRegion } from './frame-decoder.js'
import type { LogEntry } from './log-entry.js'

export interface FifoReaderEvents {
  entry: [LogEntry]
  corrupt: [CorruptRegion]
  error: [Error]
  end: []
}

// Reads one FIFO without the libuv thread pool: a blocking read on a FIFO parks one of its four
// threads, and with a few idle containers the plugin stops reading everything (protocol.md,
// trap 11; nodejs/node#23220). An O_NONBLOCK fd in a net.Socket is event-driven instead.
// Opened read-only, so EOF arrives once the daemon closes its end (trap 12).
export class FifoReader extends EventEmitter<FifoReaderEvents> {
  readonly path: string
  #socket: net.Socket | undefined
  // Bytes taken from the pipe, for /metrics.
  bytesRead = 0
  #paused = false
  #ended = false

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
    const decoder = new FrameDecoder({
      entry: (entry) => this.emit('entry', entry),
      corrupt: (region) => this.emit('corrupt', region),
    })
    const socket = new net.Socket({ fd, readable: true, writable: false })
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length
      decoder.push(chunk)
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
    this.#socket?.resume()
  }

  close (): void {
    this.#socket?.destroy()
  }
}

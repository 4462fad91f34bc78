import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

// A pino logger whose lines a test reads back as objects, for what the plugin logs and counts.
export function capturedLog (): { log: Logger, lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { log: pino({ level: 'debug' }, sink), lines }
}

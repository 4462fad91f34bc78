import fs from 'node:fs'
import path from 'node:path'
import type { StreamMarks } from '../events/event-stage.js'
import type { StreamName } from '../record.js'

const FILE = 'positions.json'
// Saving after every batch would cost a write and a rename per batch per sink; a crash instead
// resends at most this much (delivery is at least once).
const SAVE_DELAY_MS = 200

const STREAMS: readonly StreamName[] = ['stdout', 'stderr']

// A stream's mark is kept beside its sink's position, under a key no sink name has: a version
// that does not know marks reads the position alone.
function markKey (sink: string, stream: StreamName): string {
  return `${sink} ${stream}`
}

// Where each sink of one container stands: the sequence of the first record it has not had
// acknowledged, and with multiline grouping the streams' marks past it. Kept in the container's
// store directory, so it lives and goes with its records.
export class Positions {
  readonly #file: string
  readonly #values: Map<string, number>
  #timer: NodeJS.Timeout | undefined

  constructor (dir: string) {
    this.#file = path.join(dir, FILE)
    this.#values = new Map(Object.entries(readPositions(this.#file)))
  }

  get (sink: string): number | undefined {
    return this.#values.get(sink)
  }

  // Only those past the position mean anything.
  marks (sink: string): StreamMarks {
    const next = this.#values.get(sink) ?? 0
    const marks: { stdout?: number, stderr?: number } = {}
    for (const stream of STREAMS) {
      const mark = this.#values.get(markKey(sink, stream))
      if (mark !== undefined && mark > next) marks[stream] = mark
    }
    return marks
  }

  set (sink: string, next: number, marks: StreamMarks = {}): void {
    this.#values.set(sink, next)
    for (const stream of STREAMS) {
      const mark = marks[stream]
      const key = markKey(sink, stream)
      if (mark !== undefined && mark > next) this.#values.set(key, mark)
      else this.#values.delete(key)
    }
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.save(), SAVE_DELAY_MS)
      this.#timer.unref()
    }
  }

  // Written whole and renamed into place, so a crash leaves the old positions or the new.
  save (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const tmp = `${this.#file}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#values)), { mode: 0o600 })
    fs.renameSync(tmp, this.#file)
  }
}

// The positions saved in a container's directory; none when it has none (or they cannot be
// read, which only costs resending).
export function readPositions (file: string): Record<string, number> {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'))
    if (typeof parsed !== 'object' || parsed === null) return {}
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => Number.isSafeInteger(e[1])))
  } catch {
    return {}
  }
}

export function positionsFile (dir: string): string {
  return path.join(dir, FILE)
}

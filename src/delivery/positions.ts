import fs from 'node:fs'
import path from 'node:path'

const FILE = 'positions.json'
// Saving after every batch would cost a write and a rename per batch per sink; a crash instead
// resends at most this much (delivery is at least once).
const SAVE_DELAY_MS = 200

// Where each sink of one container stands: the sequence of the first record it has not had
// acknowledged. Kept in the container's store directory, so it lives and goes with its records.
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

  set (sink: string, next: number): void {
    this.#values.set(sink, next)
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

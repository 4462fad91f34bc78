import type { Logger } from 'pino'
import type { DropReason, SinkCounters } from './stats.js'

const DROP_LOG_INTERVAL_MS = 10_000
// Reasons may carry a backend's error text; past this many distinct ones the rest are counted
// together, so a backend answering with ever-different bodies cannot grow the map for ever.
const MAX_DROP_REASONS = 256
const OTHER_REASONS = '(other reasons)'

interface DropEntry {
  readonly sink: string
  readonly reason: string
  total: number
  unlogged: number
  loggedAt: number
  context: Record<string, unknown>
  timer: NodeJS.Timeout | undefined
}

export interface DropTotal {
  readonly sink: string
  readonly reason: string
  readonly total: number
}

// Drops are counted by sink and reason, and logged at most once per interval per reason so an
// unhealthy backend cannot flood the daemon's log; what an interval held back is logged at its
// end, so the logged counts always add up to the total. The same call counts them by their
// bounded kind in the sink's counters, which /metrics shows.
export class DropCounter {
  readonly #counts = new Map<string, DropEntry>()
  readonly #log: Logger

  constructor (log: Logger) {
    this.#log = log
  }

  add (counters: SinkCounters, kind: DropReason, reason: string, count: number, context: Record<string, unknown>): void {
    counters.droppedRecords[kind] += count
    const sink = counters.sink
    let key = `${sink}\u0000${reason}`
    let entry = this.#counts.get(key)
    if (entry === undefined) {
      if (this.#counts.size >= MAX_DROP_REASONS) {
        key = `${sink}\u0000${OTHER_REASONS}`
        reason = OTHER_REASONS
      }
      entry = this.#counts.get(key) ?? { sink, reason, total: 0, unlogged: 0, loggedAt: 0, context, timer: undefined }
      this.#counts.set(key, entry)
    }
    entry.total += count
    entry.unlogged += count
    entry.context = context
    const wait = entry.loggedAt + DROP_LOG_INTERVAL_MS - Date.now()
    if (wait <= 0) {
      this.#report(entry)
    } else if (entry.timer === undefined) {
      const held = entry
      held.timer = setTimeout(() => this.#report(held), wait)
      held.timer.unref()
    }
  }

  #report (entry: DropEntry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    entry.timer = undefined
    if (entry.unlogged === 0) return
    this.#log.error({ ...entry.context, sink: entry.sink, reason: entry.reason, dropped: entry.unlogged, droppedTotal: entry.total }, 'records dropped')
    entry.unlogged = 0
    entry.loggedAt = Date.now()
  }

  // At shutdown: what an interval still holds back is logged now.
  flush (): void {
    for (const entry of this.#counts.values()) this.#report(entry)
  }

  totals (): DropTotal[] {
    return [...this.#counts.values()].map(({ sink, reason, total }) => ({ sink, reason, total }))
  }
}

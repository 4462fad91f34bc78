import type { ContainerMeta } from '../record.js'

// What the engine tells operators, counted where it happens (the runner's outcomes, the queue
// hand-off, the drop counter): /metrics and the status view read these, never a count of
// their own. Labels stay bounded whatever the backends answer: a backend's words go to the log
// and the status view, and only these classes become label values.

// How a batch that was not delivered at once failed, from the Outcome the sink gave: transient
// (a retry outcome), throttled (a retry with the backend's Retry-After), partial (some records
// refused for now), too-large (sent again in halves), refused (dropped as the backend will
// never take it), sink-bug (the sink threw).
export const RETRY_CLASSES = ['transient', 'throttled', 'partial', 'too-large', 'sink-bug'] as const
export type RetryClass = typeof RETRY_CLASSES[number]
export const ERROR_CLASSES = [...RETRY_CLASSES, 'refused'] as const
export type ErrorClass = typeof ERROR_CLASSES[number]

// Why records were given up: refused (the backend refused the batch), record-refused (it refused
// those records of a batch), too-large (one line larger than the backend takes), buffer-full
// (buffer-full=drop-oldest), evicted (gone from the local store before delivery).
export const DROP_REASONS = ['refused', 'record-refused', 'too-large', 'buffer-full', 'evicted'] as const
export type DropReason = typeof DROP_REASONS[number]

function zeroes<K extends string> (keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>
}

// One sink's counts: of all containers together, or of one container when metrics carry
// container labels (LOGRELAY_METRICS_CONTAINER_LABELS).
export class SinkCounters {
  readonly sink: string
  // Set only when the counts are this container's alone.
  readonly container: ContainerMeta | undefined
  handedRecords = 0
  handedBytes = 0
  deliveredRecords = 0
  deliveredBytes = 0
  readonly retriedRecords = zeroes(RETRY_CLASSES)
  readonly backendErrors = zeroes(ERROR_CLASSES)
  readonly droppedRecords = zeroes(DROP_REASONS)
  readonly #stats: DeliveryStats | undefined

  constructor (sink: string, container?: ContainerMeta, stats?: DeliveryStats) {
    this.sink = sink
    this.container = container
    this.#stats = stats
  }

  // One request's outcome is known: for the latency and batch size histograms, which exist only
  // while metrics are served.
  request (seconds: number, records: number): void {
    this.#stats?.observeRequest?.(this, seconds, records)
  }
}

// How long a finished container's series stay: long enough for a few scrapes to see its last
// counts, short enough that containers coming and going do not pile series up.
const SERIES_LINGER_MS = 5 * 60_000

export type RequestObserver = (counters: SinkCounters, seconds: number, records: number) => void

// Every sink's counters in the plugin, by sink (and container, when asked for).
export class DeliveryStats {
  readonly containerLabels: boolean
  // Set by the metrics registry: histograms cost nothing while no one scrapes them.
  observeRequest: RequestObserver | undefined
  readonly #counters = new Map<string, SinkCounters>()
  // How many containers' deliveries count into each.
  readonly #users = new Map<SinkCounters, number>()
  // Per-container counters no delivery uses any more, and since when.
  readonly #idleSince = new Map<string, number>()

  constructor (containerLabels: boolean) {
    this.containerLabels = containerLabels
  }

  // The counters a container's delivery to `sink` counts into, until it calls release().
  acquire (sink: string, container: ContainerMeta): SinkCounters {
    const key = this.containerLabels ? `${sink}\u0000${container.id}` : sink
    let counters = this.#counters.get(key)
    if (counters === undefined) {
      counters = new SinkCounters(sink, this.containerLabels ? container : undefined, this)
      this.#counters.set(key, counters)
    }
    this.#users.set(counters, (this.#users.get(counters) ?? 0) + 1)
    this.#idleSince.delete(key)
    return counters
  }

  // A container's delivery finished. Its own series go SERIES_LINGER_MS later; a sink's
  // series across containers stay for the plugin's life.
  release (counters: SinkCounters): void {
    const users = (this.#users.get(counters) ?? 1) - 1
    this.#users.set(counters, users)
    if (users > 0 || counters.container === undefined) return
    this.#idleSince.set(`${counters.sink}\u0000${counters.container.id}`, Date.now())
  }

  all (now = Date.now()): Iterable<SinkCounters> {
    for (const [key, since] of this.#idleSince) {
      if (now - since < SERIES_LINGER_MS) continue
      this.#idleSince.delete(key)
      const counters = this.#counters.get(key)
      if (counters !== undefined) this.#users.delete(counters)
      this.#counters.delete(key)
    }
    return this.#counters.values()
  }
}

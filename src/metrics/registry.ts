import { createRequire } from 'node:module'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SinkBacklog } from '../delivery/delivery.js'
import { DROP_REASONS, ERROR_CLASSES, RETRY_CLASSES, type DeliveryStats, type SinkCounters } from '../delivery/stats.js'
import type { StreamTotals } from '../protocol/driver.js'

// The Prometheus metrics, read from the engine's own state at each scrape: the sinks'
// counters (src/delivery/stats.ts), their positions in the store for the backlog, the streams'
// reads and the store's size. Nothing is counted twice; the only values recorded for the
// metrics alone are the request histograms, observed by the runner while metrics are served.

export interface MetricsSource {
  readonly stats: DeliveryStats
  readonly readsInProgress: number
  readonly activeStreams: number
  streamTotals: () => StreamTotals
  backlogs: () => Iterable<SinkBacklog>
  storeBytes: () => number
  storeEvictions: () => Readonly<Record<string, number>>
}

// prom-client's default metrics of the Node.js process, but its GC duration histogram: that one
// observes every garbage collection, and cost 5 to 15% of the plugin's CPU per line
// (bench/metrics.ts), against nothing measurable for all the others, which work only when
// scraped. collectDefaultMetrics cannot leave one out, so each is registered by its own module.
const PROCESS_METRICS = ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'eventLoopLag', 'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version']
type DefaultMetric = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void
const require = createRequire(import.meta.url)

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const BATCH_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000]

interface Backlog { records: number, bytes: number, ageSeconds: number }

export function metricsRegistry (source: MetricsSource): Registry {
  const registry = new Registry()
  const registers = [registry]
  const stats = source.stats
  const sinkLabels = stats.containerLabels ? ['sink', 'container'] as const : ['sink'] as const
  const labelsOf = (c: SinkCounters): Record<string, string> =>
    c.container === undefined ? { sink: c.sink } : { sink: c.sink, container: c.container.name }

  // Counters whose totals the engine keeps: each scrape sets them from those totals.
  const sinkCounter = (name: string, help: string, value: (c: SinkCounters) => number): void => {
    new Counter({ name, help, labelNames: sinkLabels, registers, collect () {
      this.reset()
      for (const c of stats.all()) this.inc(labelsOf(c), value(c))
    } })
  }
  const sinkCounterBy = <K extends string>(name: string, help: string, label: string, keys: readonly K[], values: (c: SinkCounters) => Readonly<Record<K, number>>): void => {
    new Counter({ name, help, labelNames: [...sinkLabels, label], registers, collect () {
      this.reset()
      for (const c of stats.all()) {
        const counts = values(c)
        for (const key of keys) this.inc({ ...labelsOf(c), [label]: key }, counts[key])
      }
    } })
  }
  sinkCounter('logrelay_sink_handed_records_total', 'Records handed to the sink (taken into its queue, from the FIFO or read back from the store).', (c) => c.handedRecords)
  sinkCounter('logrelay_sink_handed_bytes_total', 'Bytes of lines handed to the sink.', (c) => c.handedBytes)
  sinkCounter('logrelay_sink_delivered_records_total', 'Records the backend acknowledged.', (c) => c.deliveredRecords)
  sinkCounter('logrelay_sink_delivered_bytes_total', 'Bytes of lines the backend acknowledged.', (c) => c.deliveredBytes)
  sinkCounterBy('logrelay_sink_retried_records_total', `Records sent again, by why (class: ${RETRY_CLASSES.join(', ')}).`, 'class', RETRY_CLASSES, (c) => c.retriedRecords)
  sinkCounterBy('logrelay_sink_dropped_records_total', `Records given up, by why (reason: ${DROP_REASONS.join(', ')}); the log and npm run status have the backend's words.`, 'reason', DROP_REASONS, (c) => c.droppedRecords)
  sinkCounterBy('logrelay_sink_backend_errors_total', `Requests the backend did not fully accept, by class (${ERROR_CLASSES.join(', ')}).`, 'class', ERROR_CLASSES, (c) => c.backendErrors)

  // The backlog as the engine stands, summed over containers (the age: the oldest's) unless
  // the series are per container.
  const backlogs = (): Map<SinkCounters, Backlog> => {
    const now = Date.now()
    const out = new Map<SinkCounters, Backlog>()
    for (const c of stats.all()) out.set(c, { records: 0, bytes: 0, ageSeconds: 0 })
    for (const b of source.backlogs()) {
      const entry = out.get(b.counters)
      if (entry === undefined) continue
      entry.records += b.records
      entry.bytes += b.bytes
      if (b.oldestMs !== undefined) entry.ageSeconds = Math.max(entry.ageSeconds, Math.max(0, now - b.oldestMs) / 1000)
    }
    return out
  }
  const backlogGauge = (name: string, help: string, value: (b: Backlog) => number): void => {
    new Gauge({ name, help, labelNames: sinkLabels, registers, collect () {
      this.reset()
      for (const [c, b] of backlogs()) this.set(labelsOf(c), value(b))
    } })
  }
  backlogGauge('logrelay_sink_backlog_records', 'Records not yet delivered or dropped: from the sink\'s position to the end of the local store.', (b) => b.records)
  backlogGauge('logrelay_sink_backlog_bytes', 'Bytes on disk not yet delivered, from the segment holding the sink\'s position (so to within one segment).', (b) => b.bytes)
  backlogGauge('logrelay_sink_backlog_oldest_age_seconds', 'How old the oldest undelivered record is (its timestamp to now); 0 with no backlog.', (b) => b.ageSeconds)

  // Per sink only, even with container labels: a histogram's series are never removed.
  const latency = new Histogram({ name: 'logrelay_sink_request_duration_seconds', help: 'How long one request to the backend took, whatever its outcome.', labelNames: ['sink'], buckets: LATENCY_BUCKETS, registers })
  const batch = new Histogram({ name: 'logrelay_sink_batch_records', help: 'Records in one request to the backend.', labelNames: ['sink'], buckets: BATCH_BUCKETS, registers })
  stats.observeRequest = (c, seconds, records) => {
    latency.observe({ sink: c.sink }, seconds)
    batch.observe({ sink: c.sink }, records)
  }

  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({ name, help, registers, collect () { this.set(value()) } })
  }
  const counter = (name: string, help: string, value: () => number): void => {
    new Counter({ name, help, registers, collect () {
      this.reset()
      this.inc(value())
    } })
  }
  gauge('logrelay_active_streams', 'FIFOs being read (one per container start, and per docker logs on a stopped container).', () => source.activeStreams)
  counter('logrelay_fifo_read_bytes_total', 'Bytes read from the FIFOs.', () => source.streamTotals().bytes)
  counter('logrelay_fifo_frames_total', 'Frames (LogEntry messages) decoded from the FIFOs.', () => source.streamTotals().frames)
  counter('logrelay_fifo_corrupt_regions_total', 'Corrupt regions skipped in the FIFOs (each logged with LOGRELAY_ERR_FIFO_FRAME).', () => source.streamTotals().corruptRegions)
  counter('logrelay_fifo_corrupt_bytes_total', 'Bytes skipped in corrupt regions.', () => source.streamTotals().corruptBytes)
  gauge('logrelay_store_bytes', 'Bytes the local store holds on disk (containers not open this run: as of the last sweep, every minute).', () => source.storeBytes())
  new Counter({ name: 'logrelay_store_evictions_total', help: 'Stopped containers removed from the local store, by reason (retention, total-size).', labelNames: ['reason'], registers, collect () {
    this.reset()
    for (const [reason, count] of Object.entries(source.storeEvictions())) this.inc({ reason }, count)
  } })
  gauge('logrelay_read_logs_in_progress', 'docker logs reads being served (follows included).', () => source.readsInProgress)

  for (const name of PROCESS_METRICS) (require(`prom-client/lib/metrics/${name}.js`) as DefaultMetric)(registry, { eventLoopMonitoringPrecision: 10 })
  return registry
}

import type { DropReason, RetryClass } from '../delivery/stats.js'
import type { LogDriver } from './driver.js'

// GET /logrelay/status on the plugin's socket (root's, like every call the daemon makes): what
// `npm run status` prints. The numbers are the engine's, as /metrics reads them.

export interface SinkStatus {
  readonly sink: string
  readonly backlogRecords: number
  readonly backlogBytes: number
  // null with no backlog (or while its oldest line is being read back from disk).
  readonly oldestAgeSeconds: number | null
  readonly lastError: { readonly reason: string, readonly at: string } | null
}

export interface ContainerStatus {
  readonly id: string
  readonly name: string
  // Files open: 0 once the container has stopped and only its backlog is left.
  readonly streams: number
  readonly sinks: readonly SinkStatus[]
}

export interface SinkTotals {
  readonly sink: string
  readonly container: string | null
  readonly handedRecords: number
  readonly deliveredRecords: number
  readonly retriedRecords: Readonly<Record<RetryClass, number>>
  readonly droppedRecords: Readonly<Record<DropReason, number>>
}

export interface PluginStatus {
  readonly pid: number
  readonly uptimeSeconds: number
  readonly containers: readonly ContainerStatus[]
  readonly sinks: readonly SinkTotals[]
}

export function pluginStatus (driver: LogDriver, now = Date.now()): PluginStatus {
  const containers = driver.containers().map(({ container, streams, backlogs }) => ({
    id: container.id,
    name: container.name,
    streams,
    sinks: backlogs.map((b) => ({
      sink: b.sink,
      backlogRecords: b.records,
      backlogBytes: b.bytes,
      oldestAgeSeconds: b.records === 0 || b.oldestMs === undefined ? null : Math.max(0, Math.round((now - b.oldestMs) / 100) / 10),
      lastError: b.lastError === undefined ? null : { reason: b.lastError.reason, at: new Date(b.lastError.at).toISOString() },
    })),
  }))
  containers.sort((a, b) => a.name.localeCompare(b.name))
  const sinks = [...driver.stats.all()].map((c) => ({
    sink: c.sink,
    container: c.container?.name ?? null,
    handedRecords: c.handedRecords,
    deliveredRecords: c.deliveredRecords,
    retriedRecords: { ...c.retriedRecords },
    droppedRecords: { ...c.droppedRecords },
  }))
  return { pid: process.pid, uptimeSeconds: Math.round(process.uptime()), containers, sinks }
}

import type { SinkBacklog } from '../delivery/delivery.js'

export interface Health {
  readonly healthy: boolean
  // Why not, one sentence each, for a person reading `curl` output.
  readonly reasons: readonly string[]
}

export interface HealthSource {
  // The plugin's Unix socket is listening and still in place: the daemon can reach it.
  readonly serving: () => boolean
  readonly backlogs: () => Iterable<SinkBacklog>
  readonly maxBacklogAgeMs: number
}

// /healthz, for host monitoring that cannot scrape: healthy while the plugin serves its socket
// and no sink's oldest undelivered line is older than LOGRELAY_HEALTH_MAX_BACKLOG_AGE. A sink
// that is merely behind is fine; one whose backlog stops moving ages past the bound.
export function health (source: HealthSource, now = Date.now()): Health {
  const reasons: string[] = []
  if (!source.serving()) reasons.push('the plugin is not serving its socket: the daemon cannot reach it')
  const limit = source.maxBacklogAgeMs / 1000
  for (const b of source.backlogs()) {
    if (b.oldestMs === undefined) continue
    const age = (now - b.oldestMs) / 1000
    if (age <= limit) continue
    const last = b.lastError === undefined ? '' : `; last error: ${b.lastError.reason}`
    reasons.push(`sink ${b.sink} of container ${b.container.name} (${b.container.id.slice(0, 12)}) is stuck: its oldest undelivered line is ${Math.round(age)} s old, past LOGRELAY_HEALTH_MAX_BACKLOG_AGE (${limit} s), with ${b.records} lines waiting${last}`)
  }
  return { healthy: reasons.length === 0, reasons }
}

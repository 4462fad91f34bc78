import type { ContainerMeta, LogRecord } from './container-info.js'

// The JSON every sink writes by default: ECS-compatible field names, so Elasticsearch users get
// them for free, with nanosecond timestamps. Built as a string: the container part is the same
// for every line of a container, so it is serialised once and reused.

const containerJson = new WeakMap<ContainerMeta, string>()

function containerPart (meta: ContainerMeta): string {
  let part = containerJson.get(meta)
  if (part === undefined) {
    const container = {
      id: meta.id,
      name: meta.name,
      image: { name: meta.imageName, id: meta.imageId },
      labels: meta.labels,
    }
    part = `"container":${JSON.stringify(container)}`
    if (Object.keys(meta.env).length > 0) part += `,"env":${JSON.stringify(meta.env)}`
    if (meta.tag !== undefined) part += `,"tag":${JSON.stringify(meta.tag)}`
    part += `,"host":${JSON.stringify({ name: meta.hostName })}`
    containerJson.set(meta, part)
  }
  return part
}

const NS_PER_S = 1_000_000_000n

// The date-and-seconds part of the last timestamp formatted. Lines come in time order, many per
// second, and Date#toISOString was the largest single cost of a record (about a third).
let cachedSeconds = -1n
let cachedPrefix = ''

// RFC 3339 in UTC with all nine fractional digits, from the daemon's int64 nanoseconds.
export function rfc3339Nano (timeNano: bigint): string {
  const seconds = timeNano / NS_PER_S
  const nanos = Number(timeNano - seconds * NS_PER_S)
  if (seconds !== cachedSeconds) {
    cachedPrefix = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
    cachedSeconds = seconds
  }
  return `${cachedPrefix}.${String(nanos).padStart(9, '0')}Z`
}

export function recordJson (record: LogRecord): string {
  return `{"@timestamp":"${rfc3339Nano(record.timeNano)}","message":${JSON.stringify(record.line.toString('utf8'))},"stream":"${record.stream}",${containerPart(record.container)},"event":{"sequence":${record.sequence}}}`
}

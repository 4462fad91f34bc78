import { timeNanoOf, type LogRecord } from '../../src/record.js'

// The shared record JSON as its definition says, built the slow and obvious way: an object in
// field order through JSON.stringify. The byte encoder in sinks/record-json.ts must match it for
// every line, escapes, multi-byte characters and invalid UTF-8 included.
export function referenceRecordJson (record: LogRecord): string {
  const t = timeNanoOf(record.time)
  let seconds = t / 1_000_000_000n
  if (t % 1_000_000_000n < 0n) seconds -= 1n
  const nanos = t - seconds * 1_000_000_000n
  const meta = record.container
  const doc: Record<string, unknown> = {
    '@timestamp': `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`,
    message: record.line.toString('utf8'),
    stream: record.stream,
    container: { id: meta.id, name: meta.name, image: { name: meta.imageName, id: meta.imageId }, labels: meta.labels },
  }
  if (Object.keys(meta.env).length > 0) doc['env'] = meta.env
  if (meta.tag !== undefined) doc['tag'] = meta.tag
  doc['host'] = { name: meta.hostName }
  doc['event'] = record.event === undefined ? { sequence: record.sequence } : { sequence: record.sequence, lines: record.event.lines }
  return JSON.stringify(doc)
}

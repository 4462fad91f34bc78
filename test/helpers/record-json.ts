import { timeNanoOf, type LogRecord, type TimeHalves } from '../../src/record.js'

// The shared record JSON as its definition says, built the slow and obvious way: an object in
// field order through JSON.stringify. The byte encoder in sinks/record-json.ts must match it for
// every line, escapes, multi-byte characters and invalid UTF-8 included.
function rfc3339 (time: TimeHalves): string {
  const t = timeNanoOf(time)
  let seconds = t / 1_000_000_000n
  if (t % 1_000_000_000n < 0n) seconds -= 1n
  const nanos = t - seconds * 1_000_000_000n
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${String(nanos).padStart(9, '0')}Z`
}

// parse=json's part: the line's fields after the record's own, under their key or merged.
export function referenceRecordJson (record: LogRecord): string {
  const meta = record.container
  const json = record.json
  const doc: Record<string, unknown> = {
    '@timestamp': rfc3339(json?.time ?? record.time),
    message: (json?.message ?? record.line).toString('utf8'),
    stream: record.stream,
    container: { id: meta.id, name: meta.name, image: { name: meta.imageName, id: meta.imageId }, labels: meta.labels },
  }
  if (Object.keys(meta.env).length > 0) doc['env'] = meta.env
  if (meta.tag !== undefined) doc['tag'] = meta.tag
  doc['host'] = { name: meta.hostName }
  const event: Record<string, unknown> = { sequence: record.sequence }
  if (record.event !== undefined) event['lines'] = record.event.lines
  if (json?.time !== undefined) event['created'] = rfc3339(record.time)
  if (json?.original === true) event['original'] = record.line.toString('utf8')
  doc['event'] = event
  if (json?.level !== undefined) Object.assign(doc, JSON.parse(`{${json.level.toString()}}`))
  if (json !== undefined) {
    if (json.under !== undefined) Object.assign(doc, JSON.parse(`{${json.under.toString()}${json.members.toString()}}`))
    else if (json.members.length > 0) Object.assign(doc, JSON.parse(json.members.toString()))
  }
  return JSON.stringify(doc)
}

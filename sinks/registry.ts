import type { Logger } from 'pino'
import { integer, list, size } from '../src/options/kinds.js'
import type { AnySpec, Options } from '../src/options/schema.js'
import type { ContainerMeta } from '../src/record.js'
import { elasticsearchSink } from './elasticsearch.js'
import { httpSink } from './http.js'
import { kafkaSink } from './kafka.js'
import type { BatchLimits, Sink, SinkDefinition } from './sink.js'

export const sinkDefinitions: readonly SinkDefinition[] = [elasticsearchSink, httpSink, kafkaSink]

export function findSink (name: string): SinkDefinition | undefined {
  return sinkDefinitions.find((d) => d.name === name)
}

const sinkNames = (): string => sinkDefinitions.map((d) => d.name).join(', ')

export const sinkSelectOption = {
  name: 'sink',
  kind: list({ accepts: sinkNames(), check: (v) => findSink(v) !== undefined }),
  default: '',
  description: `Where to ship lines besides the local store: a comma-separated list of ${sinkNames()}. Empty keeps them in the local store only.`,
}

// Batching is the engine's, but each sink declares its own defaults and gets its own names.
function batchSchema (d: SinkDefinition) {
  return {
    maxRecords: { name: `${d.prefix}-batch-max-records`, kind: integer(1, 1_000_000), default: String(d.batchDefaults.maxRecords), description: `The most records in one ${d.name} batch.` },
    maxBytes: { name: `${d.prefix}-batch-max-bytes`, kind: size(1024), default: d.batchDefaults.maxBytes, description: `The most bytes of lines in one ${d.name} batch.` },
    timeoutMs: { name: `${d.prefix}-batch-timeout-ms`, kind: integer(0, 3_600_000), default: String(d.batchDefaults.timeoutMs), description: `How long a ${d.name} batch waits to fill before it is sent anyway (linger).` },
    concurrency: { name: `${d.prefix}-concurrency`, kind: integer(1, 64), default: String(d.batchDefaults.concurrency), description: `How many ${d.name} batches of one container may be in flight at once.` },
  } satisfies Record<string, AnySpec>
}

export function sinkLogOptions (): AnySpec[] {
  return sinkDefinitions.flatMap((d) => [...d.options, ...Object.values(batchSchema(d))])
}

export interface OpenedSink {
  readonly sink: Sink
  readonly limits: BatchLimits
}

// The container's sinks, opened in the order given. If one refuses its options, those already
// opened are closed again before the error reaches `docker run`.
export function openSinks (options: Options, container: ContainerMeta, log: Logger): OpenedSink[] {
  const opened: OpenedSink[] = []
  try {
    for (const name of options.read({ sink: sinkSelectOption }).sink) {
      const definition = findSink(name)
      if (definition === undefined) continue
      opened.push({ sink: definition.open(options, container, log), limits: options.read(batchSchema(definition)) })
    }
  } catch (err) {
    for (const { sink } of opened) void sink.close()
    throw err
  }
  return opened
}

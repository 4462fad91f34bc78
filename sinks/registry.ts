import type { Logger } from 'pino'
import type { ContainerInfo } from '../src/container-info.js'
import { integer, list, size } from '../src/option-types.js'
import type { OptionSpec, Options } from '../src/settings.js'
import type { BatchLimits } from '../src/sink-runner.js'
import { elasticsearchSink } from './elasticsearch.js'
import { httpSink } from './http.js'
import { kafkaSink } from './kafka.js'
import type { Sink } from './sink.js'

// name → { options, batch defaults, open }. Adding a sink is one module and one line below.
export interface SinkDefinition {
  // The value of `--log-opt sink=`.
  readonly name: string
  // Its log-opts are named `<prefix>-*` (es-url, kafka-topic, http-url).
  readonly prefix: string
  readonly options: readonly OptionSpec[]
  readonly batchDefaults: { readonly maxRecords: number, readonly maxBytes: string, readonly timeoutMs: number, readonly concurrency: number }
  // Called at StartLogging, so it must not do network I/O: a backend that is down must never
  // refuse a container start. It throws a PluginError for options that cannot work (the user
  // reads it in `docker run`), and shares its clients per connection config.
  open: (options: Options, info: ContainerInfo, log: Logger) => Sink
  // Closes every shared client at plugin shutdown.
  closeAll: () => Promise<void>
}

export const sinkDefinitions: readonly SinkDefinition[] = [elasticsearchSink, httpSink, kafkaSink]

export function findSink (name: string): SinkDefinition | undefined {
  return sinkDefinitions.find((d) => d.name === name)
}

const sinkNames = (): string => sinkDefinitions.map((d) => d.name).join(', ') || '(none built in yet)'

export const sinkSelectOption: OptionSpec = {
  name: 'sink',
  kind: list({ accepts: sinkNames(), check: (v) => findSink(v) !== undefined }),
  default: '',
  description: `Where to ship lines besides the local store: a comma-separated list of ${sinkNames()}. Empty keeps them in the local store only.`,
}

// Batching is the runner's, but each sink declares its own defaults and gets its own names.
function batchOptions (d: SinkDefinition): OptionSpec[] {
  return [
    { name: `${d.prefix}-batch-max-records`, kind: integer(1, 1_000_000), default: String(d.batchDefaults.maxRecords), description: `The most records in one ${d.name} batch.` },
    { name: `${d.prefix}-batch-max-bytes`, kind: size(1024), default: d.batchDefaults.maxBytes, description: `The most bytes of lines in one ${d.name} batch.` },
    { name: `${d.prefix}-batch-timeout-ms`, kind: integer(0, 3_600_000), default: String(d.batchDefaults.timeoutMs), description: `How long a ${d.name} batch waits to fill before it is sent anyway (linger).` },
    { name: `${d.prefix}-concurrency`, kind: integer(1, 64), default: String(d.batchDefaults.concurrency), description: `How many ${d.name} batches of one container may be in flight at once.` },
  ]
}

export function sinkLogOptions (): OptionSpec[] {
  return sinkDefinitions.flatMap((d) => [...d.options, ...batchOptions(d)])
}

export function batchLimits (d: SinkDefinition, options: Options): BatchLimits {
  return {
    maxRecords: options.number(`${d.prefix}-batch-max-records`),
    maxBytes: options.number(`${d.prefix}-batch-max-bytes`),
    timeoutMs: options.number(`${d.prefix}-batch-timeout-ms`),
    concurrency: options.number(`${d.prefix}-concurrency`),
  }
}

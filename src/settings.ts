import os from 'node:os'
import { BUFFER_FULL_POLICIES } from './delivery/delivery.js'
import { eventLogOptions } from './events/options.js'
import { LOG_LEVELS } from './logger.js'
import { PluginError } from './errors.js'
import { absolutePath, bool, duration, integer, isLoopback, list, listenAddress, oneOf, regex, size, text, type ListenAddress } from './options/kinds.js'
import { Options, parseValue, specsOf, type AnySpec, type OptionSpec } from './options/schema.js'
import { sinkLogOptions, sinkSelectOption } from '../sinks/registry.js'
import { containerTemplate } from '../sinks/templates.js'

// The schemas of everything an operator sets: the log-opts every container takes whatever its
// sinks, and the settings of the plugin process itself.

export const coreLogOptions = {
  storeMaxBytes: { name: 'store-max-bytes', kind: size(64 * 1024), default: '128m', description: 'The most the local store keeps for one container; the oldest lines go first.' },
  partialMaxBytes: { name: 'partial-max-bytes', kind: size(16 * 1024), default: '1m', description: 'Lines the daemon split at 16 KiB are joined up to this size before they are stored and shipped; a longer line is kept in pieces of this size.' },
  bufferMaxBytes: { name: 'buffer-max-bytes', kind: size(1024 * 1024), default: '1g', description: 'The most undelivered lines one container may keep on disk for its sinks (beyond store-max-bytes); at the bound, buffer-full decides.' },
  bufferFull: { name: 'buffer-full', kind: oneOf(BUFFER_FULL_POLICIES), default: 'block', description: 'When the undelivered backlog is at its bound: block pauses the FIFO (the daemon then blocks the container, or drops with mode=non-blocking; when the container exits, the daemon gives up what it still holds after 10 s); drop-oldest gives up the oldest undelivered lines, counted and logged.' },
  queueMaxRecords: { name: 'queue-max-records', kind: integer(1, 10_000_000), default: '10000', description: 'How many lines one sink holds in memory for one container (batches being built and in flight); the rest wait on disk.' },
  queueMaxBytes: { name: 'queue-max-bytes', kind: size(64 * 1024), default: '16m', description: 'How many bytes of lines one sink holds in memory for one container.' },
  tag: { name: 'tag', kind: containerTemplate, description: 'A tag added to every record, a template over the container as in docker.' },
  labels: { name: 'labels', kind: list(), default: '', description: 'Container labels to add to every record (comma-separated keys).' },
  labelsRegex: { name: 'labels-regex', kind: regex, description: 'Container labels whose keys match this regular expression are added to every record.' },
  env: { name: 'env', kind: list(), default: '', description: 'Container environment variables to add to every record (comma-separated names).' },
  envRegex: { name: 'env-regex', kind: regex, description: 'Container environment variables whose names match this regular expression are added to every record.' },
} satisfies Record<string, AnySpec>

// Every log-opt a container may give, in the order the README's table lists them.
export const logOptionSpecs: readonly AnySpec[] = [sinkSelectOption, ...specsOf(coreLogOptions), ...specsOf(eventLogOptions), ...sinkLogOptions()]

const DEFAULT_SOCKET = '/run/docker/plugins/logrelay.sock'

type SettingSpec<T> = OptionSpec<T> & { readonly env: string }

// Settings of the plugin process itself: env only, never per container.
export const pluginSettings = {
  socket: { name: 'socket', env: 'LOGRELAY_SOCKET', kind: absolutePath('a Unix socket'), default: DEFAULT_SOCKET, description: 'The Unix socket the plugin serves; the daemon finds a legacy plugin named NAME at /run/docker/plugins/NAME.sock.' },
  stateDir: { name: 'state-dir', env: 'LOGRELAY_STATE_DIR', kind: absolutePath('a directory the plugin can write'), default: '/var/lib/logrelay', description: 'Where the local store and the list of open FIFOs live.' },
  storeTotalMaxBytes: { name: 'store-total-max-bytes', env: 'LOGRELAY_STORE_TOTAL_MAX_BYTES', kind: size(1024 * 1024), default: '2g', description: 'The most the local store keeps for all containers; past it, the stopped containers written longest ago are removed first.' },
  bufferTotalMaxBytes: { name: 'buffer-total-max-bytes', env: 'LOGRELAY_BUFFER_TOTAL_MAX_BYTES', kind: size(16 * 1024 * 1024), default: '8g', description: 'The most undelivered lines all containers together may keep on disk for their sinks; at the bound, each container\'s buffer-full decides.' },
  storeRetentionMs: { name: 'store-retention', env: 'LOGRELAY_STORE_RETENTION', kind: duration(60_000), default: '7d', description: 'Stopped containers not written for this long are removed from the local store (the daemon never says when a container is removed).' },
  logLevel: { name: 'log-level', env: 'LOG_LEVEL', kind: oneOf(LOG_LEVELS), default: 'info', description: "The plugin's own log level." },
  hostName: { name: 'host-name', env: 'LOGRELAY_HOST_NAME', kind: text, description: 'The host.name written in every record; the machine\'s host name by default.' },
  metricsAddr: { name: 'metrics-addr', env: 'LOGRELAY_METRICS_ADDR', kind: listenAddress, description: 'Where to serve Prometheus /metrics and /healthz over HTTP; unset serves nothing. A managed plugin is on the host network, so this is an address of the host; a non-loopback one needs LOGRELAY_METRICS_ALLOW_REMOTE=true.' },
  metricsAllowRemote: { name: 'metrics-allow-remote', env: 'LOGRELAY_METRICS_ALLOW_REMOTE', kind: bool, default: 'false', description: 'Let LOGRELAY_METRICS_ADDR be an address other hosts can reach (the metrics name containers and sinks, and have no authentication).' },
  healthMaxBacklogAgeMs: { name: 'health-max-backlog-age', env: 'LOGRELAY_HEALTH_MAX_BACKLOG_AGE', kind: duration(1000), default: '5m', description: '/healthz answers 503 once a sink\'s oldest undelivered line is older than this (the sink is stuck: its backend is down or refuses).' },
  metricsContainerLabels: { name: 'metrics-container-labels', env: 'LOGRELAY_METRICS_CONTAINER_LABELS', kind: bool, default: 'false', description: 'Give the per-sink metrics a container label (the container\'s name), one series per container and sink; off, they are per sink, so thousands of short-lived containers cannot grow the series count.' },
} satisfies Record<string, SettingSpec<unknown>>

export const pluginSettingSpecs: readonly SettingSpec<unknown>[] = Object.values(pluginSettings)

export interface PluginSettings {
  readonly socket: string
  readonly stateDir: string
  readonly storeTotalMaxBytes: number
  readonly storeRetentionMs: number
  readonly bufferTotalMaxBytes: number
  readonly hostName: string
  readonly metricsAddr: ListenAddress | undefined
  readonly metricsContainerLabels: boolean
  readonly healthMaxBacklogAgeMs: number
}

// The socket alone, which the plugin needs before anything else: with it, even a plugin whose
// other settings are wrong can listen and say so.
export function pluginSocket (env: NodeJS.ProcessEnv): string {
  const raw = env[pluginSettings.socket.env]
  return raw === undefined || raw === '' ? DEFAULT_SOCKET : raw
}

export function readPluginSettings (env: NodeJS.ProcessEnv): PluginSettings {
  const values = new Map<string, unknown>()
  for (const spec of pluginSettingSpecs) {
    const given = env[spec.env]
    const raw = given === undefined || given === '' ? spec.default : given
    values.set(spec.name, raw === undefined ? undefined : parseValue(spec, raw, 'plugin setting', spec.env))
  }
  const settings = new Options(values).read(pluginSettings)
  const metrics = settings.metricsAddr
  if (metrics !== undefined && !isLoopback(metrics.host) && !settings.metricsAllowRemote) {
    throw new PluginError('LOGRELAY_ERR_ENV_INVALID',
      `invalid plugin setting ${pluginSettings.metricsAddr.env}="${env[pluginSettings.metricsAddr.env] ?? ''}" (${metrics.host} is not a loopback address): expected 127.0.0.1, ::1 or localhost, unless ${pluginSettings.metricsAllowRemote.env}=true lets other hosts read the metrics`)
  }
  return Object.freeze({
    socket: settings.socket,
    stateDir: settings.stateDir,
    storeTotalMaxBytes: settings.storeTotalMaxBytes,
    storeRetentionMs: settings.storeRetentionMs,
    bufferTotalMaxBytes: settings.bufferTotalMaxBytes,
    hostName: settings.hostName ?? os.hostname(),
    metricsAddr: metrics,
    metricsContainerLabels: settings.metricsContainerLabels,
    healthMaxBacklogAgeMs: settings.healthMaxBacklogAgeMs,
  })
}

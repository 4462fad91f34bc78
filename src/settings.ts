import os from 'node:os'
import { PluginError } from './errors.js'
import { LOG_LEVELS } from './logger.js'
import { duration, integer, list, oneOf, regex, size, text, type OptionKind, type OptionValue } from './option-types.js'

// Two string maps configure logrelay: the plugin's env (config.json, `docker plugin set`) gives
// defaults, and a container's log-opts override them. Every log-opt has an env twin named
// LOGRELAY_<NAME> (kebab → upper snake), so an operator can set any default host-wide.

export interface OptionSpec {
  readonly name: string
  readonly kind: OptionKind
  readonly default?: string
  readonly description: string
  // The value may carry a credential (a header list): error messages name the option but never
  // repeat the value, since `docker run` shows them and the daemon logs them.
  readonly sensitive?: boolean
}

export function envName (option: string): string {
  return `LOGRELAY_${option.toUpperCase().replace(/-/g, '_')}`
}

// The daemon consumes these itself and passes them through in Info.Config; `cache-*` is merged
// in from daemon.json even when the user never set it (protocol.md, traps 24 and 26).
const DAEMON_OWNED = new Set(['mode', 'max-buffer-size'])
function daemonOwned (name: string): boolean {
  return DAEMON_OWNED.has(name) || name.startsWith('cache-')
}

export const coreLogOptions: readonly OptionSpec[] = [
  { name: 'store-max-bytes', kind: size(64 * 1024), default: '128m', description: 'The most the local store keeps for one container; the oldest lines go first.' },
  { name: 'partial-max-bytes', kind: size(16 * 1024), default: '1m', description: 'Lines the daemon split at 16 KiB are joined up to this size before they are stored and shipped; a longer line is kept in pieces of this size.' },
  { name: 'queue-max-records', kind: integer(1, 10_000_000), default: '10000', description: 'How many lines one sink may hold for one container before the FIFO is paused (the daemon then blocks the container, or drops with mode=non-blocking).' },
  { name: 'queue-max-bytes', kind: size(64 * 1024), default: '16m', description: 'How many bytes of lines one sink may hold for one container before the FIFO is paused.' },
  { name: 'tag', kind: text, description: 'A tag added to every record, a template as in docker: {{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}}, {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}, {{.Command}}.' },
  { name: 'labels', kind: list(), default: '', description: 'Container labels to add to every record (comma-separated keys).' },
  { name: 'labels-regex', kind: regex, description: 'Container labels whose keys match this regular expression are added to every record.' },
  { name: 'env', kind: list(), default: '', description: 'Container environment variables to add to every record (comma-separated names).' },
  { name: 'env-regex', kind: regex, description: 'Container environment variables whose names match this regular expression are added to every record.' },
]

export interface PluginSettings {
  readonly socket: string
  readonly stateDir: string
  readonly storeTotalMaxSize: number
  readonly storeRetentionMs: number
  readonly hostName: string
}

const DEFAULT_SOCKET = '/run/docker/plugins/logrelay.sock'

// Settings of the plugin process itself: env only, never per container.
export const pluginSettingSpecs: readonly (OptionSpec & { env: string })[] = [
  { name: 'socket', env: 'LOGRELAY_SOCKET', kind: text, default: DEFAULT_SOCKET, description: 'The Unix socket the plugin serves; the daemon finds a legacy plugin named NAME at /run/docker/plugins/NAME.sock.' },
  { name: 'state-dir', env: 'LOGRELAY_STATE_DIR', kind: text, default: '/var/lib/logrelay', description: 'Where the local store and the list of open FIFOs live.' },
  { name: 'store-total-max-bytes', env: 'LOGRELAY_STORE_TOTAL_MAX_BYTES', kind: size(1024 * 1024), default: '2g', description: 'The most the local store keeps for all containers; past it, the stopped containers written longest ago are removed first.' },
  { name: 'store-retention', env: 'LOGRELAY_STORE_RETENTION', kind: duration(60_000), default: '7d', description: 'Stopped containers not written for this long are removed from the local store (the daemon never says when a container is removed).' },
  { name: 'log-level', env: 'LOG_LEVEL', kind: oneOf(LOG_LEVELS), default: 'info', description: "The plugin's own log level." },
  { name: 'host-name', env: 'LOGRELAY_HOST_NAME', kind: text, description: 'The host.name written in every record; the machine\'s host name by default.' },
]

// `shown` is the name the user set: the log-opt, or the plugin env variable.
function parseValue (spec: OptionSpec, raw: string, source: 'log-opt' | 'plugin setting', shown: string): OptionValue {
  try {
    return spec.kind.parse(raw)
  } catch (err) {
    const given = spec.sensitive === true ? ' (value not shown)' : `="${raw}"`
    throw new PluginError(source === 'log-opt' ? 'LOGRELAY_ERR_OPT_INVALID' : 'LOGRELAY_ERR_ENV_INVALID',
      `invalid ${source} ${shown}${given} (${(err as Error).message}): expected ${spec.kind.accepts}`)
  }
}

// The socket alone, which the plugin needs before anything else: with it, even a plugin whose
// other settings are wrong can listen and say so.
export function pluginSocket (env: NodeJS.ProcessEnv): string {
  const raw = env['LOGRELAY_SOCKET']
  return raw === undefined || raw === '' ? DEFAULT_SOCKET : raw
}

export function readPluginSettings (env: NodeJS.ProcessEnv): PluginSettings {
  const values = new Map<string, OptionValue>()
  for (const spec of pluginSettingSpecs) {
    const raw = env[spec.env] ?? spec.default
    values.set(spec.name, raw === undefined || raw === '' ? undefined : parseValue(spec, raw, 'plugin setting', spec.env))
  }
  return Object.freeze({
    socket: values.get('socket') as string,
    stateDir: values.get('state-dir') as string,
    storeTotalMaxSize: values.get('store-total-max-bytes') as number,
    storeRetentionMs: values.get('store-retention') as number,
    hostName: (values.get('host-name') as string | undefined) ?? os.hostname(),
  })
}

// The typed view of one container's options, after defaults.
export class Options {
  readonly #values: ReadonlyMap<string, OptionValue>

  constructor (values: ReadonlyMap<string, OptionValue>) {
    this.#values = values
  }

  #get (name: string): OptionValue {
    if (!this.#values.has(name)) throw new Error(`option ${name} is not defined`)
    return this.#values.get(name)
  }

  string (name: string): string | undefined {
    const value = this.#get(name)
    return typeof value === 'string' ? value : undefined
  }

  number (name: string): number {
    const value = this.#get(name)
    if (typeof value !== 'number') throw new Error(`option ${name} is not a number`)
    return value
  }

  boolean (name: string): boolean {
    return this.#get(name) === true
  }

  list (name: string): readonly string[] {
    const value = this.#get(name)
    return Array.isArray(value) ? value as readonly string[] : []
  }

  regex (name: string): RegExp | undefined {
    const value = this.#get(name)
    return value instanceof RegExp ? value : undefined
  }

  // The raw strings that identify a connection, for sharing one client among containers.
  key (names: readonly string[]): string {
    return JSON.stringify(names.map((n) => {
      const v = this.#get(n)
      return v instanceof RegExp ? v.source : v
    }))
  }
}

// Env defaults are checked once at start, so a bad `docker plugin set` fails the plugin's start
// with a clear message rather than every container's.
export function readOptionDefaults (specs: readonly OptionSpec[], env: NodeJS.ProcessEnv): ReadonlyMap<string, string> {
  const defaults = new Map<string, string>()
  for (const spec of specs) {
    const raw = env[envName(spec.name)]
    // config.json lists every setting, most with an empty value meaning "not set".
    if (raw !== undefined && raw !== '') {
      parseValue(spec, raw, 'plugin setting', envName(spec.name))
      defaults.set(spec.name, raw)
    } else if (spec.default !== undefined) {
      defaults.set(spec.name, spec.default)
    }
  }
  return defaults
}

export function parseOptions (specs: readonly OptionSpec[], config: Readonly<Record<string, string>> | null,
  defaults: ReadonlyMap<string, string>): Options {
  const byName = new Map(specs.map((s) => [s.name, s]))
  const given = config ?? {}
  const unknown = Object.keys(given).filter((k) => !byName.has(k) && !daemonOwned(k)).sort()
  if (unknown.length > 0) {
    const accepted = specs.map((s) => s.name).join(', ')
    throw new PluginError('LOGRELAY_ERR_OPT_UNKNOWN',
      `unknown log-opt ${unknown.map((k) => `"${k}"`).join(', ')}: logrelay accepts ${accepted} (and the daemon's own mode, max-buffer-size, cache-*)`)
  }
  const values = new Map<string, OptionValue>()
  for (const spec of specs) {
    const raw = given[spec.name]
    if (raw !== undefined) {
      values.set(spec.name, parseValue(spec, raw, 'log-opt', spec.name))
    } else {
      const fallback = defaults.get(spec.name)
      values.set(spec.name, fallback === undefined || fallback === '' ? undefined : spec.kind.parse(fallback))
    }
  }
  return new Options(values)
}

import { errorMessage, PluginError } from '../errors.js'
import { readBoundedFile } from './files.js'
import { echo, type OptionKind } from './kinds.js'

// Two string maps configure logrelay: the plugin's env (config.json, `docker plugin set`) gives
// defaults, and a container's log-opts override them. Every log-opt has an env twin named
// LOGRELAY_<NAME> (kebab → upper snake), so an operator can set any default host-wide. Each
// part declares its options as a schema (key → spec) and reads them back typed with
// Options#read: defaults are applied here, once, and never repeated by the reader.

export interface OptionSpec<T> {
  readonly name: string
  readonly kind: OptionKind<T>
  readonly default?: string
  readonly description: string
  // The value may carry a credential (a header list): error messages name the option but never
  // repeat the value, since `docker run` shows them and the daemon logs them.
  readonly sensitive?: boolean
}

export type AnySpec = OptionSpec<unknown>
export type OptionSchema = Readonly<Record<string, AnySpec>>

type ValueOf<S> = S extends OptionSpec<infer T> ? T : never

// A spec with a default always has a value; one without may be unset.
export type OptionValues<S extends OptionSchema> = {
  readonly [K in keyof S]: S[K] extends { readonly default: string } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined
}

export function specsOf (schema: OptionSchema): AnySpec[] {
  return Object.values(schema)
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

export type ValueSource = 'log-opt' | 'plugin setting'

// `shown` is the name the user set: the log-opt, or the plugin env variable.
export function parseValue (spec: AnySpec, raw: string, source: ValueSource, shown: string): unknown {
  try {
    return spec.kind.parse(raw)
  } catch (err) {
    const given = spec.sensitive === true ? ' (value not shown)' : `=${echo(spec.kind.show?.(raw) ?? raw)}`
    throw new PluginError(source === 'log-opt' ? 'LOGRELAY_ERR_OPT_INVALID' : 'LOGRELAY_ERR_ENV_INVALID',
      `invalid ${source} ${shown}${given} (${(err as Error).message}): expected ${spec.kind.accepts}`)
  }
}

// The contents of a file an option names, read by loadOptions. `setBy` names the option as the
// user set it, for an error about the contents: "log-opt x-file" or "plugin setting LOGRELAY_X_FILE".
export interface OptionFile {
  readonly path: string
  readonly text: string
  readonly setBy: string
}

// The parsed values of one container's options (or of the plugin's settings), after defaults,
// and the contents of the files they name.
export class Options {
  readonly #values: ReadonlyMap<string, unknown>
  readonly #files: ReadonlyMap<string, OptionFile>

  constructor (values: ReadonlyMap<string, unknown>, files: ReadonlyMap<string, OptionFile> = new Map()) {
    this.#values = values
    this.#files = files
  }

  read<S extends OptionSchema> (schema: S): OptionValues<S> {
    const out: Record<string, unknown> = {}
    for (const [key, spec] of Object.entries(schema)) {
      if (!this.#values.has(spec.name)) throw new Error(`option ${spec.name} was not parsed`)
      out[key] = this.#values.get(spec.name)
    }
    // Each value was parsed by its spec's own kind, and every spec with a default has a value.
    return out as OptionValues<S>
  }

  // The file a file option names, or undefined when the option is not set.
  file (spec: OptionSpec<string>): OptionFile | undefined {
    const path = this.#values.get(spec.name)
    if (path === undefined) return undefined
    const file = this.#files.get(spec.name)
    if (file === undefined) throw new Error(`the file of option ${spec.name} was not read (loadOptions reads them)`)
    return file
  }
}

// Env defaults are checked once at start, so a bad `docker plugin set` is reported with its
// setting's name (main.ts) rather than as some container's log-opt.
export function readOptionDefaults (specs: readonly AnySpec[], env: NodeJS.ProcessEnv): ReadonlyMap<string, string> {
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

function parseValues (specs: readonly AnySpec[], config: Readonly<Record<string, string>> | null,
  defaults: ReadonlyMap<string, string>): Map<string, unknown> {
  const byName = new Map(specs.map((s) => [s.name, s]))
  const given = config ?? {}
  const unknown = Object.keys(given).filter((k) => !byName.has(k) && !daemonOwned(k)).sort()
  if (unknown.length > 0) {
    const accepted = specs.map((s) => s.name).join(', ')
    throw new PluginError('LOGRELAY_ERR_OPT_UNKNOWN',
      `unknown log-opt ${unknown.map((k) => `"${k}"`).join(', ')}: logrelay accepts ${accepted} (and the daemon's own mode, max-buffer-size, cache-*)`)
  }
  const values = new Map<string, unknown>()
  for (const spec of specs) {
    const raw = given[spec.name]
    const fallback = defaults.get(spec.name)
    if (raw !== undefined) values.set(spec.name, parseValue(spec, raw, 'log-opt', spec.name))
    else values.set(spec.name, fallback === undefined ? undefined : spec.kind.parse(fallback))
  }
  return values
}

// The values alone, for what needs no file (a default, a test of the schemas).
export function parseOptions (specs: readonly AnySpec[], config: Readonly<Record<string, string>> | null,
  defaults: ReadonlyMap<string, string>): Options {
  return new Options(parseValues(specs, config, defaults))
}

// parseOptions, and the files the options name read without blocking the event loop (files.ts),
// all at once. A file that cannot be read fails like a value that does not parse.
export async function loadOptions (specs: readonly AnySpec[], config: Readonly<Record<string, string>> | null,
  defaults: ReadonlyMap<string, string>): Promise<Options> {
  const values = parseValues(specs, config, defaults)
  const files = new Map<string, OptionFile>()
  await Promise.all(specs.map(async (spec) => {
    const path = values.get(spec.name)
    if (spec.kind.file === undefined || typeof path !== 'string') return
    const setBy = config?.[spec.name] === undefined ? `plugin setting ${envName(spec.name)}` : `log-opt ${spec.name}`
    try {
      files.set(spec.name, { path, text: (await readBoundedFile(path, spec.kind.file.maxBytes)).toString('utf8'), setBy })
    } catch (err) {
      throw new PluginError('LOGRELAY_ERR_OPT_FILE', `cannot read ${setBy}=${echo(path)} (${errorMessage(err)}): expected ${spec.kind.accepts}`, { cause: err })
    }
  }))
  return new Options(values, files)
}

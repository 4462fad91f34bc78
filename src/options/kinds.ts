import { isIP } from 'node:net'
import v8 from 'node:v8'

// Parsers for option values. Log-opts and plugin env values are always strings; each kind turns
// one into a typed value or throws a sentence saying what is wrong, and says what it accepts,
// which ends up in front of the user in `docker run`.

export interface OptionKind<T> {
  readonly accepts: string
  readonly parse: (raw: string) => T
  // How a value is echoed in an error, for kinds whose values may hold a credential.
  readonly show?: (raw: string) => string
  // The value is the path of a file the plugin reads (schema.ts, loadOptions), up to this size.
  readonly file?: { readonly maxBytes: number }
}

// How a value is echoed in an error: quoted and escaped (a line break would split the message
// `docker run` prints), and cut short, since a log-opt may be megabytes long.
const ECHO_CHARS = 120
export function echo (raw: string): string {
  return raw.length <= ECHO_CHARS ? JSON.stringify(raw) : `${JSON.stringify(raw.slice(0, ECHO_CHARS))}... (${raw.length} characters)`
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 }
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

// No option is a place for a line break or another control character: in a header, a request
// line or a log line it would split what it is written into (tabs are fine).
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/

function checkNoControl (raw: string): void {
  if (CONTROL.test(raw)) throw new Error('it holds a control character (a line break, say)')
}

export const text: OptionKind<string> = {
  accepts: 'text without control characters',
  parse: (raw) => {
    checkNoControl(raw)
    return raw
  },
}

export function integer (min: number, max: number): OptionKind<number> {
  return {
    accepts: `a whole number from ${min} to ${max}`,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw)) throw new Error('not a whole number')
      const value = Number(raw)
      if (value < min || value > max) throw new Error('out of range')
      return value
    },
  }
}

// Past this a size is a typo, not a disk: it also keeps `1` followed by hundreds of zeros from
// becoming Infinity.
const MAX_SIZE = 2 ** 50

// Sizes as docker writes them (max-size=20m): a number with an optional k, m, g or t (binary).
export function size (min: number): OptionKind<number> {
  return {
    accepts: `a size such as 512k, 64m or 2g, from ${min} bytes to ${MAX_SIZE / 1024 ** 4}t`,
    parse: (raw) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
      const unit = SIZE_UNITS[(match?.[2] ?? 'x').toLowerCase()]
      if (match === null || unit === undefined) throw new Error('not a size')
      const value = Math.floor(Number(match[1]) * unit)
      if (value < min) throw new Error('too small')
      if (!(value <= MAX_SIZE)) throw new Error('too large')
      return value
    },
  }
}

const MAX_DURATION_MS = 100 * 365 * 86_400_000

export function duration (minMs: number): OptionKind<number> {
  return {
    accepts: `a duration such as 500ms, 30s, 5m, 12h or 7d, from ${minMs} ms to ${MAX_DURATION_MS / 86_400_000}d`,
    parse: (raw) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim())
      const unit = DURATION_UNITS[match?.[2] ?? '']
      if (match === null || unit === undefined) throw new Error('not a duration')
      const value = Math.round(Number(match[1]) * unit)
      if (value < minMs) throw new Error('too short')
      if (!(value <= MAX_DURATION_MS)) throw new Error('too long')
      return value
    },
  }
}

// The values come back with their literal type, so a reader needs no cast to switch on them.
export function oneOf<const V extends readonly string[]> (values: V): OptionKind<V[number]> {
  return {
    accepts: `one of ${values.join(', ')}`,
    parse: (raw) => {
      const value = values.find((v) => v === raw)
      if (value === undefined) throw new Error('not an accepted value')
      return value
    },
  }
}

export const bool: OptionKind<boolean> = {
  accepts: 'true or false',
  parse: (raw) => {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new Error('not a boolean')
  },
}

// Comma-separated; empty items are dropped, so "a,,b" and "" are fine.
export function list (item?: { accepts: string, check: (value: string) => boolean }): OptionKind<readonly string[]> {
  return {
    accepts: item === undefined ? 'a comma-separated list' : `a comma-separated list of ${item.accepts}`,
    parse: (raw) => {
      checkNoControl(raw)
      const values = raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
      const bad = item === undefined ? undefined : values.find((v) => !item.check(v))
      if (bad !== undefined) throw new Error(`${echo(bad)} is not accepted`)
      return values
    },
  }
}

// A regular expression from an option runs on what a container brings (label keys, env
// names): a backtracking one such as (a+)+$ holds the event loop for minutes on a key of 30
// characters, and with it every container. V8's linear-time engine (the l flag) never
// backtracks; what it cannot run (backreferences, lookarounds, very large repeats) is refused.
v8.setFlagsFromString('--enable-experimental-regexp-engine')

export const regex: OptionKind<RegExp> = {
  accepts: 'a regular expression without backreferences or lookarounds (it is matched in linear time)',
  parse: (raw) => {
    checkNoControl(raw)
    try {
      return new RegExp(raw, 'l')
    } catch {
      try {
        void new RegExp(raw)
      } catch {
        throw new Error('not a valid regular expression')
      }
      throw new Error('it cannot be matched in linear time (a backreference, a lookaround or a very large repeat)')
    }
  },
}

// Paths are the plugin's own filesystem (a managed plugin sees only what its config.json
// mounts), so a relative one would depend on the plugin's working directory.
export function absolutePath (what: string): OptionKind<string> {
  return {
    accepts: `an absolute path to ${what}`,
    parse: (raw) => {
      checkNoControl(raw)
      if (!raw.startsWith('/')) throw new Error('not an absolute path')
      return raw
    },
  }
}

// CA bundles, keys, secrets and header lists are kilobytes; a file this large is a mistake.
export const FILE_MAX_BYTES = 1024 * 1024

// A file read at container start, whole: never a FIFO or a device (src/options/files.ts).
export function filePath (what: string): OptionKind<string> {
  return {
    ...absolutePath(`${what} the plugin can read (a regular file of at most ${FILE_MAX_BYTES / 1024 / 1024} MiB)`),
    file: { maxBytes: FILE_MAX_BYTES },
  }
}

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

// A TCP address to listen on: host:port, [v6]:port, or a bare port, which means 127.0.0.1.
// Hosts are IP literals or localhost: a name that resolves elsewhere must not widen a listener
// that is loopback-only by default. Port 0 takes any free port (the log says which).
export const listenAddress: OptionKind<ListenAddress> = {
  accepts: 'a port (for 127.0.0.1), or host:port with an IP address or localhost as host, such as 9464, 127.0.0.1:9464 or [::1]:9464',
  parse: (raw) => {
    const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|localhost)):)?(\d{1,5})$/.exec(raw.trim())
    if (match === null) throw new Error('not a port or host:port')
    const port = Number(match[3])
    if (port > 65535) throw new Error('the port is past 65535')
    const host = match[1] ?? match[2] ?? '127.0.0.1'
    if (match[2] !== undefined && match[2] !== 'localhost' && isIP(host) !== 4) throw new Error('not an IPv4 address')
    if (match[1] !== undefined && isIP(host) !== 6) throw new Error('not an IPv6 address')
    return { host, port }
  },
}

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))
}

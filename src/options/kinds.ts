import { isIP } from 'node:net'

// Parsers for option values. Log-opts and plugin env values are always strings; each kind turns
// one into a typed value or throws a sentence saying what is wrong, and says what it accepts,
// which ends up in front of the user in `docker run`.

export interface OptionKind<T> {
  readonly accepts: string
  readonly parse: (raw: string) => T
  // How a value is echoed in an error, for kinds whose values may hold a credential.
  readonly show?: (raw: string) => string
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export const text: OptionKind<string> = { accepts: 'any text', parse: (raw) => raw }

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

// Sizes as docker writes them (max-size=20m): a number with an optional k, m or g (binary).
export function size (min: number): OptionKind<number> {
  return {
    accepts: `a size such as 512k, 64m or 2g (at least ${min} bytes)`,
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
    accepts: `a duration such as 500ms, 30s, 5m, 12h or 7d${minMs > 0 ? ` (at least ${minMs} ms)` : ''}`,
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
      const values = raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
      const bad = item === undefined ? undefined : values.find((v) => !item.check(v))
      if (bad !== undefined) throw new Error(`"${bad}" is not accepted`)
      return values
    },
  }
}

export const regex: OptionKind<RegExp> = {
  accepts: 'a regular expression',
  parse: (raw) => {
    try {
      return new RegExp(raw)
    } catch {
      throw new Error('not a valid regular expression')
    }
  },
}

// A file read at container start from the plugin's own filesystem (a managed plugin sees only
// what its config.json mounts), so a relative path would depend on the plugin's working
// directory.
export const filePath: OptionKind<string> = {
  accepts: 'an absolute path to a file the plugin can read',
  parse: (raw) => {
    if (!raw.startsWith('/')) throw new Error('not an absolute path')
    return raw
  },
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

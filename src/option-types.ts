import fs from 'node:fs'
import { errorMessage, PluginError } from './errors.js'

// Parsers for option values. Log-opts and plugin env values are always strings; each parser
// turns one into a typed value or throws a sentence saying what is accepted, which ends up in
// front of the user in `docker run`.

export type OptionValue = string | number | boolean | readonly string[] | RegExp | undefined

export interface OptionKind {
  readonly accepts: string
  parse: (raw: string) => OptionValue
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

export const text: OptionKind = { accepts: 'any text', parse: (raw) => raw }

export function integer (min: number, max: number): OptionKind {
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

// Sizes as docker writes them (max-size=20m): a number with an optional k, m or g (binary).
export function size (min: number): OptionKind {
  return {
    accepts: `a size such as 512k, 64m or 2g (at least ${min} bytes)`,
    parse: (raw) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
      const unit = SIZE_UNITS[(match?.[2] ?? 'x').toLowerCase()]
      if (match === null || unit === undefined) throw new Error('not a size')
      const value = Math.floor(Number(match[1]) * unit)
      if (value < min) throw new Error('too small')
      return value
    },
  }
}

export function duration (minMs: number): OptionKind {
  return {
    accepts: `a duration such as 500ms, 30s, 5m, 12h or 7d${minMs > 0 ? ` (at least ${minMs} ms)` : ''}`,
    parse: (raw) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim())
      const unit = DURATION_UNITS[match?.[2] ?? '']
      if (match === null || unit === undefined) throw new Error('not a duration')
      const value = Math.round(Number(match[1]) * unit)
      if (value < minMs) throw new Error('too short')
      return value
    },
  }
}

export function oneOf (values: readonly string[]): OptionKind {
  return {
    accepts: `one of ${values.join(', ')}`,
    parse: (raw) => {
      if (!values.includes(raw)) throw new Error('not an accepted value')
      return raw
    },
  }
}

export const bool: OptionKind = {
  accepts: 'true or false',
  parse: (raw) => {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new Error('not a boolean')
  },
}

// Comma-separated; empty items are dropped, so "a,,b" and "" are fine.
export function list (item?: { accepts: string, check: (value: string) => boolean }): OptionKind {
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

export const regex: OptionKind = {
  accepts: 'a regular expression',
  parse: (raw) => {
    try {
      return new RegExp(raw)
    } catch {
      throw new Error('not a valid regular expression')
    }
  },
}

export const url: OptionKind = {
  accepts: 'an http:// or https:// URL',
  parse: (raw) => {
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new Error('not a URL')
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http or https')
    return raw
  },
}

// A file read at container start from the plugin's own filesystem (a managed plugin sees only
// what its config.json mounts), so a relative path would depend on the plugin's working
// directory.
export const filePath: OptionKind = {
  accepts: 'an absolute path to a file the plugin can read',
  parse: (raw) => {
    if (!raw.startsWith('/')) throw new Error('not an absolute path')
    return raw
  },
}

// Reads a file named by a filePath option. The path is no secret and is echoed; the contents
// (a key, a token) never are.
export function readOptionFile (name: string, path: string, accepts: string): string {
  try {
    return fs.readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err)
    throw new PluginError('LOGRELAY_ERR_OPT_FILE', `cannot read log-opt ${name}="${path}" (${code}): expected ${accepts}`, { cause: err })
  }
}

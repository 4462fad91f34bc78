import { PluginError } from '../errors.js'
import type { ReadConfig } from '../store/read-logs.js'

// The bodies of the daemon's requests, read without trusting them: a transport retry resends an
// empty body (protocol.md, trap 15), and nothing else checks what a client sends to the socket.

export function body (value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PluginError('LOGRELAY_ERR_REQ_BODY', 'empty or non-JSON request body (a transport retry by the daemon resends an empty body)')
  }
  return value as Record<string, unknown>
}

export function file (value: Record<string, unknown>): string {
  const f = value['File']
  if (typeof f !== 'string' || f === '') throw new PluginError('LOGRELAY_ERR_REQ_FIELD', 'the request has no File')
  return f
}

// Go's zero time.Time: the daemon's "unset" (protocol.md, item 31). since=0 is 1970, not unset.
const GO_ZERO_TIME = '0001-01-01T00:00:00Z'
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/

// RFC 3339 with up to nine fractional digits and any offset (older daemons send local time)
// to nanoseconds since the epoch, exactly: a JS Date would stop at milliseconds.
export function parseTime (value: unknown, field: string): bigint | undefined {
  if (value === undefined || value === null || value === '' || value === GO_ZERO_TIME) return undefined
  const match = typeof value === 'string' ? RFC3339.exec(value) : null
  if (match === null) throw new PluginError('LOGRELAY_ERR_READ_TIME', `Config.${field} is not an RFC 3339 time: ${JSON.stringify(value)}`)
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = match
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000
  let offsetSeconds = 0
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1
    offsetSeconds = sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60)
  }
  return BigInt(seconds - offsetSeconds) * 1_000_000_000n + BigInt(frac.padEnd(9, '0') || '0')
}

export function parseReadConfig (value: unknown): ReadConfig {
  const config = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
  const tail = typeof config['Tail'] === 'number' ? config['Tail'] : -1
  return {
    since: parseTime(config['Since'], 'Since'),
    until: parseTime(config['Until'], 'Until'),
    tail: Math.trunc(tail),
    follow: config['Follow'] === true,
  }
}

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

// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's days_from_civil): Date.UTC
// would read years 0 to 99 as 1900 to 1999.
function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146097 + dayOfEra - 719468
}

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

// RFC 3339 with up to nine fractional digits and any offset (older daemons send local time)
// to nanoseconds since the epoch, exactly: a JS Date would stop at milliseconds. Fields out of
// range (month 13, February 30, hour 24, offset +25:00) are refused as Go's time.Parse does,
// rather than rolled over into another date.
export function parseTime (value: unknown, field: string): bigint | undefined {
  if (value === undefined || value === null || value === '' || value === GO_ZERO_TIME) return undefined
  const match = typeof value === 'string' ? RFC3339.exec(value) : null
  if (match === null) throw new PluginError('LOGRELAY_ERR_READ_TIME', `Config.${field} is not an RFC 3339 time: ${JSON.stringify(value)}`)
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = match
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number]
  let offsetSeconds = 0
  let offsetInRange = true
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const [offsetHours, offsetMinutes] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))]
    offsetInRange = offsetHours <= 23 && offsetMinutes <= 59
    offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || !offsetInRange) {
    throw new PluginError('LOGRELAY_ERR_READ_TIME', `Config.${field} is not a valid date and time: ${JSON.stringify(value)}`)
  }
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds
  return BigInt(seconds) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'))
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

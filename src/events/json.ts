import { isUtf8 } from 'node:buffer'
import { timeHalves, type ContainerMeta, type JsonFields, type LogRecord, type TimeHalves } from '../record.js'

// parse=json: a line that is a JSON object has its fields put into the record, under
// parse-json-key or merged at the top level; a line that is not JSON, or not an object, is
// shipped as it is. The object is written back as the container wrote it, less the members
// taken out of it (its numbers keep every digit, and nothing is encoded twice); only a line
// with raw newlines or invalid UTF-8 is written again from what JSON.parse made of it.

export const PROMOTABLE = ['message', 'level', 'time'] as const
export type Promotable = typeof PROMOTABLE[number]

export function isPromotable (value: string): value is Promotable {
  return (PROMOTABLE as readonly string[]).includes(value)
}

export interface JsonSettings {
  // Undefined: merged at the top level, without overwriting the record's own fields.
  readonly key: string | undefined
  readonly promote: readonly Promotable[]
}

// The record's own top-level fields (sinks/record-json.ts). env and tag are the record's only
// when the container has them, log only when the level is promoted.
export const RECORD_FIELDS = ['@timestamp', 'message', 'stream', 'container', 'env', 'tag', 'host', 'event', 'log'] as const
const ALWAYS_OWN = new Set(['@timestamp', 'message', 'stream', 'container', 'host', 'event'])

// The names the common loggers give them: pino, bunyan, zap and logrus write msg, logback's JSON
// encoders and Python's json loggers message; pino and bunyan write numeric levels; ECS loggers
// write the dotted log.level.
const MESSAGE_KEYS = ['msg', 'message']
const LEVEL_KEYS = ['level', 'levelname', 'severity', 'log.level', 'lvl']
const TIME_KEYS = ['time', 'ts', '@timestamp', 'timestamp']
const NUMERIC_LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

// RFC 3339, as bunyan, logrus, zap's ISO encoder and logback write it; a time without a zone
// says nothing certain and is left alone.
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9})\d*)?(?:([Zz])|([+-])(\d\d):?(\d\d))$/

export function parseLoggerTime (value: unknown): TimeHalves | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) return undefined
    // Seconds (zap), milliseconds (pino), micro- or nanoseconds, told apart by size.
    const nanos = value < 1e11 ? BigInt(Math.round(value * 1e6)) * 1000n
      : value < 1e14 ? BigInt(Math.round(value * 1e3)) * 1000n
        : value < 1e17 ? BigInt(Math.round(value)) * 1000n
          : BigInt(Math.round(value))
    return timeHalves(nanos)
  }
  if (typeof value !== 'string') return undefined
  const m = RFC3339.exec(value)
  if (m === null) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined
  const offset = m[8] === undefined ? (Number(m[10]) * 60 + Number(m[11])) * (m[9] === '-' ? -1 : 1) : 0
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) - offset * 60_000
  return timeHalves(BigInt(ms) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0')))
}

function levelText (value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value.toLowerCase()
  if (typeof value === 'number' && Number.isFinite(value)) return NUMERIC_LEVELS[value] ?? String(value)
  return undefined
}

// A logger has a handful of levels: their "log":{"level":...} bytes are made once each.
const levelBytes = new Map<string, Buffer>()
function levelMember (level: string): Buffer {
  let bytes = levelBytes.get(level)
  if (bytes === undefined) {
    bytes = Buffer.from(`"log":${JSON.stringify({ level })}`)
    if (levelBytes.size < 256) levelBytes.set(level, bytes)
  }
  return bytes
}

const SPACE = new Uint8Array(256)
for (const b of [0x20, 0x09, 0x0a, 0x0d]) SPACE[b] = 1
const EMPTY = Buffer.alloc(0)
const OPEN_BRACE = Buffer.from('{')
const CLOSE_BRACE = Buffer.from('}')
const COMMA = Buffer.from(',')

function hasByte (line: Buffer, byte: number, start: number, end: number): boolean {
  const at = line.indexOf(byte, start)
  return at >= 0 && at <= end
}

function isOwn (key: string, meta: ContainerMeta, level: boolean): boolean {
  if (ALWAYS_OWN.has(key)) return true
  if (key === 'log') return level
  if (key === 'env') return Object.keys(meta.env).length > 0
  return key === 'tag' && meta.tag !== undefined
}

// The object's text without the members named in `taken`, cut from the text itself: writing
// the rest again with JSON.stringify cost as much as the parse, and would round big numbers.
// The text parsed already, so it is valid JSON. Undefined when a key has an escape (its text
// would not compare with its name).
function withoutMembers (line: Buffer, start: number, end: number, taken: readonly string[]): Buffer | undefined {
  const parts: Buffer[] = [OPEN_BRACE]
  let at = start + 1
  while (at < end) {
    while (at < end && SPACE[line[at] as number] === 1) at++
    if (at >= end) break
    const keyStart = at
    at++
    while (line[at] !== 0x22) {
      if (line[at] === 0x5c) return undefined
      at++
    }
    const key = line.toString('utf8', keyStart + 1, at)
    let depth = 0
    for (at++; at < end; at++) {
      const b = line[at] as number
      if (b === 0x22) {
        for (at++; line[at] !== 0x22; at++) if (line[at] === 0x5c) at++
      } else if (b === 0x7b || b === 0x5b) {
        depth++
      } else if (b === 0x7d || b === 0x5d) {
        depth--
      } else if (b === 0x2c && depth === 0) {
        break
      }
    }
    if (!taken.includes(key)) {
      if (parts.length > 1) parts.push(COMMA)
      parts.push(line.subarray(keyStart, at))
    }
    at++
  }
  parts.push(CLOSE_BRACE)
  return Buffer.concat(parts)
}

function restringified (object: Record<string, unknown>, taken: readonly string[]): Buffer {
  if (taken.length === 0) return Buffer.from(JSON.stringify(object))
  const kept: Record<string, unknown> = {}
  for (const key of Object.keys(object)) {
    if (taken.includes(key)) continue
    // Assigning __proto__ would set the prototype instead of keeping the field.
    if (key === '__proto__') Object.defineProperty(kept, key, { value: object[key], enumerable: true, writable: true, configurable: true })
    else kept[key] = object[key]
  }
  return Buffer.from(JSON.stringify(kept))
}

// The first of `keys` the object has with a value `read` accepts; the key goes to `taken`.
function promoted<T> (object: Record<string, unknown>, keys: readonly string[], read: (value: unknown) => T | undefined, taken: string[]): T | undefined {
  for (const key of keys) {
    if (!Object.hasOwn(object, key)) continue
    const value = read(object[key])
    if (value === undefined) continue
    taken.push(key)
    return value
  }
  return undefined
}

const asString = (value: unknown): string | undefined => typeof value === 'string' ? value : undefined

// Whether the bytes between a JSON object's braces hold any member.
function hasMembers (line: Buffer, start: number, end: number): boolean {
  for (let i = start + 1; i < end; i++) if (SPACE[line[i] as number] !== 1) return true
  return false
}

// What parse=json does to each record the stage sends. This runs once per line per sink: the
// record is built as a literal, since spreading one cost as much as the parse.
export function jsonParser (settings: JsonSettings): (record: LogRecord) => LogRecord {
  const under = settings.key === undefined ? undefined : Buffer.from(`${JSON.stringify(settings.key)}:`)
  const promoteMessage = settings.promote.includes('message')
  const promoteLevel = settings.promote.includes('level')
  const promoteTime = settings.promote.includes('time')
  return (record) => {
    const line = record.line
    let start = 0
    let end = line.length - 1
    while (start <= end && SPACE[line[start] as number] === 1) start++
    while (end > start && SPACE[line[end] as number] === 1) end--
    // Most lines of a JSON logger's neighbours are not JSON: two bytes tell, before any parse.
    if (line[start] !== 0x7b || line[end] !== 0x7d) return record
    let object: Record<string, unknown>
    try {
      object = JSON.parse(line.toString('utf8', start, end + 1)) as Record<string, unknown>
    } catch {
      return record
    }
    const taken: string[] = []
    const message = promoteMessage ? promoted(object, MESSAGE_KEYS, asString, taken) : undefined
    const level = promoteLevel ? promoted(object, LEVEL_KEYS, levelText, taken) : undefined
    const time = promoteTime ? promoted(object, TIME_KEYS, parseLoggerTime, taken) : undefined
    let hidden = false
    if (under === undefined) {
      for (const key of RECORD_FIELDS) {
        if (Object.hasOwn(object, key) && !taken.includes(key) && isOwn(key, record.container, level !== undefined)) {
          taken.push(key)
          hidden = true
        }
      }
    }
    let members: Buffer
    // Raw newlines would break an NDJSON body, and invalid UTF-8 has to be written replaced.
    const asWritten = !hasByte(line, 0x0a, start, end) && !hasByte(line, 0x0d, start, end) && isUtf8(line)
    if (under === undefined && (taken.length === 0 ? !hasMembers(line, start, end) : Object.keys(object).length === taken.length)) members = EMPTY
    else if (asWritten) members = taken.length === 0 ? line.subarray(start, end + 1) : withoutMembers(line, start, end, taken) ?? restringified(object, taken)
    else members = restringified(object, taken)
    const json: JsonFields = {
      members,
      under,
      message: message === undefined ? undefined : Buffer.from(message),
      level: level === undefined ? undefined : levelMember(level),
      time,
      original: hidden && message !== undefined,
    }
    return { stream: record.stream, time: record.time, line, complete: record.complete, sequence: record.sequence, container: record.container, event: record.event, json }
  }
}

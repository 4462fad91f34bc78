import { echo, integer, list, oneOf, regex, size, text, type OptionKind } from '../options/kinds.js'
import type { AnySpec, Options } from '../options/schema.js'
import { conflictingOptions } from '../../sinks/options.js'
import type { EventSettings } from './event-stage.js'
import { isPromotable, jsonParser, PROMOTABLE, RECORD_FIELDS } from './json.js'
import { MULTILINE_PRESETS, patternMatcher, presetMatcher, type MultilinePreset } from './presets.js'

// The log-opts that turn lines into events before any sink sees them: multiline grouping (a
// preset or a pattern, with its idle flush and bounds) and JSON parsing.

const presetList: OptionKind<readonly MultilinePreset[]> = {
  accepts: `none, or a comma-separated list of ${MULTILINE_PRESETS.join(', ')}`,
  parse: (raw) => {
    const names = raw.split(',').map((v) => v.trim()).filter((v) => v !== '')
    if (names.length === 1 && names[0] === 'none') return []
    const presets: MultilinePreset[] = []
    for (const name of names) {
      const preset = MULTILINE_PRESETS.find((p) => p === name)
      if (preset === undefined) throw new Error(`${echo(name)} is not a preset`)
      if (!presets.includes(preset)) presets.push(preset)
    }
    return presets
  },
}

const fieldKey: OptionKind<string> = {
  accepts: `a field name other than the record's own (${RECORD_FIELDS.join(', ')}); empty merges the fields at the top level`,
  parse: (raw) => {
    if ((RECORD_FIELDS as readonly string[]).includes(raw)) throw new Error('the record has a field of that name')
    return text.parse(raw)
  },
}

export const eventLogOptions = {
  multiline: { name: 'multiline', kind: presetList, default: 'none', description: 'Groups the lines of a stack trace into one record per event, for the traces of java (JVM languages: frames, Caused by:, ... N more), python (tracebacks, chained ones included), go (panics and goroutine dumps) and node (errors with their stacks, uncaught ones whole). A trace also takes the plain line just before it, the message a logger writes about the error. stdout and stderr are grouped apart; docker logs keeps every line as written.' },
  multilinePattern: { name: 'multiline-pattern', kind: regex, description: 'Instead of a preset: a regular expression the first line of every event matches (such as ^\\d{4}-\\d\\d-\\d\\d for lines that start with a date); a line that does not match joins the event before it. Matched against the first 4096 characters of a line.' },
  multilineFlushMs: { name: 'multiline-flush-ms', kind: integer(10, 600_000), default: '1000', description: 'How long an event waits for its next line before it is sent: the last event of a quiet container goes out after this.' },
  multilineMaxLines: { name: 'multiline-max-lines', kind: integer(2, 1_000_000), default: '1000', description: 'The most lines in one event; a longer one goes on in a record of its own (nothing is lost).' },
  multilineMaxBytes: { name: 'multiline-max-bytes', kind: size(1024), default: '512k', description: 'The most bytes in one event; a longer one goes on in a record of its own. A single longer line is a record by itself.' },
  parse: { name: 'parse', kind: oneOf(['none', 'json']), default: 'none', description: 'json: a line (or event) that is a JSON object has its fields put into the record, with their types, under parse-json-key or merged at the top level without overwriting the record\'s own; any other line is shipped as it is. Raw formats are left as they are.' },
  parseJsonKey: { name: 'parse-json-key', kind: fieldKey, default: '', description: 'With parse=json, the field that holds the line\'s fields; empty merges them at the top level (a field the record has already is left out of the merge, and kept in event.original when the message is promoted).' },
  parseJsonPromote: { name: 'parse-json-promote', kind: list({ accepts: PROMOTABLE.join(', '), check: isPromotable }), default: '', description: 'With parse=json, the fields of common loggers (pino, bunyan, zap, logrus, logback\'s JSON encoders, Python\'s json loggers) that become the record\'s own: message (msg, message) as message; level (level, levelname, severity, log.level; pino\'s numbers as names) as log.level; time (time, ts, @timestamp, timestamp: epoch numbers or RFC 3339) as @timestamp, the plugin\'s own time then in event.created.' },
} satisfies Record<string, AnySpec>

// What a container's options ask of its events, or undefined when they ask nothing.
export function eventSettings (options: Options): EventSettings | undefined {
  const o = options.read(eventLogOptions)
  if (o.multiline.length > 0 && o.multilinePattern !== undefined) {
    throw conflictingOptions(`multiline=${o.multiline.join(',')} and multiline-pattern are both set`, 'one of them (multiline=none with a pattern, where the plugin sets a preset)')
  }
  const matcher = o.multilinePattern !== undefined ? patternMatcher(o.multilinePattern) : o.multiline.length > 0 ? presetMatcher(o.multiline) : undefined
  const parse = o.parse === 'json' ? jsonParser({ key: o.parseJsonKey === '' ? undefined : o.parseJsonKey, promote: o.parseJsonPromote.filter(isPromotable) }) : undefined
  if (matcher === undefined && parse === undefined) return undefined
  return {
    grouping: matcher === undefined ? undefined : { matcher, flushMs: o.multilineFlushMs, maxLines: o.multilineMaxLines, maxBytes: o.multilineMaxBytes },
    parse,
  }
}

import { PluginError } from '../src/errors.js'
import type { ContainerMeta } from '../src/record.js'

// Names made from templates: an Elasticsearch index, a Kafka topic or key, the tag. Two kinds:
// the container's fields, as docker's own tag template offers them, rendered once at
// StartLogging; and date parts, taken from each record's own timestamp.

// The fields docker's `tag` template offers (daemon/logger/loginfo.go).
function templateFields (c: ContainerMeta): Record<string, string> {
  const imageId = c.imageId.replace(/^sha256:/, '')
  return {
    ID: c.id.slice(0, 12),
    FullID: c.id,
    Name: c.name,
    ImageID: imageId.slice(0, 12),
    ImageFullID: c.imageId,
    ImageName: c.imageName,
    DaemonName: c.daemonName,
    Command: c.command,
  }
}

const CONTAINER_FIELDS = '{{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}}, {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}, {{.Command}} or {{index .ContainerLabels "key"}}'

// A small subset of Go templates: {{.Field}} and {{index .ContainerLabels "key"}}. Anything else,
// an unterminated {{ included, fails StartLogging with the option's name rather than rendering
// something surprising. `escape` transforms only the container's values, never the template's
// own text: a name the user typed is checked as typed, while a value the container brings is
// made to fit.
export function renderTemplate (option: string, template: string, container: ContainerMeta, escape: (value: string) => string = (v) => v): string {
  const fields = templateFields(container)
  const rendered = template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_all, expr: string) => {
    const field = /^\.(\w+)$/.exec(expr)
    if (field !== null && field[1] !== undefined && field[1] in fields) return escape(fields[field[1]] ?? '')
    const label = /^index\s+\.ContainerLabels\s+"([^"]*)"$/.exec(expr)
    if (label !== null && label[1] !== undefined) return escape(container.allLabels[label[1]] ?? '')
    throw new PluginError('LOGRELAY_ERR_OPT_INVALID',
      `invalid log-opt ${option}="${template}" ({{${expr}}} is not known): expected a template of ${CONTAINER_FIELDS}`)
  })
  // What is left of the template's own text must hold no {{: it would be an action left open.
  if (template.replace(/\{\{\s*(.*?)\s*\}\}/g, '').includes('{{')) {
    throw new PluginError('LOGRELAY_ERR_OPT_INVALID',
      `invalid log-opt ${option}="${template}" (a {{ is not closed by }}): expected a template of ${CONTAINER_FIELDS}`)
  }
  return rendered
}

// Date parts in a name (an Elasticsearch index, say): strftime's letters, in UTC, taken from each
// record's own timestamp and never from the clock, so a retried record always lands in the same
// index as its first attempt (a deterministic _id only deduplicates within one index).

const DIRECTIVES = ['Y', 'm', 'd', 'H', 'G', 'V'] as const
type Directive = typeof DIRECTIVES[number]
export const TIME_DIRECTIVES = '%Y (year), %m (month), %d (day), %H (hour), %G and %V (ISO week year and week), %% (a %)'

type Part = { readonly text: string } | { readonly directive: Directive }

const NS_PER_HOUR = 3_600_000_000_000n
const MS_PER_DAY = 86_400_000

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

// ISO 8601 week: the week with the year's first Thursday is week 1, weeks start on Monday.
function isoWeek (date: Date): { year: number, week: number } {
  const day = (date.getUTCDay() + 6) % 7
  const thursday = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - day + 3))
  const year = thursday.getUTCFullYear()
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * MS_PER_DAY))
  return { year, week }
}

function format (part: Directive, date: Date): string {
  switch (part) {
    case 'Y': return pad(date.getUTCFullYear(), 4)
    case 'm': return pad(date.getUTCMonth() + 1, 2)
    case 'd': return pad(date.getUTCDate(), 2)
    case 'H': return pad(date.getUTCHours(), 2)
    case 'G': return pad(isoWeek(date).year, 4)
    case 'V': return pad(isoWeek(date).week, 2)
  }
}

function isDirective (c: string): c is Directive {
  return (DIRECTIVES as readonly string[]).includes(c)
}

function parse (option: string, template: string): Part[] {
  const parts: Part[] = []
  let text = ''
  for (let i = 0; i < template.length; i++) {
    const c = template[i]
    if (c !== '%') {
      text += c
      continue
    }
    const next = template[++i] ?? ''
    if (next === '%') {
      text += '%'
    } else if (isDirective(next)) {
      if (text !== '') parts.push({ text })
      text = ''
      parts.push({ directive: next })
    } else {
      throw new PluginError('LOGRELAY_ERR_OPT_INVALID',
        `invalid log-opt ${option}="${template}" (%${next} is not known): expected date parts ${TIME_DIRECTIVES}`)
    }
  }
  if (text !== '') parts.push({ text })
  return parts
}

// Compiles once per container; each record then costs one bigint division while the hour lasts.
export function compileTimeTemplate (option: string, template: string): (timeNano: bigint) => string {
  const parts = parse(option, template)
  if (parts.every((p) => 'text' in p)) {
    const constant = parts.map((p) => 'text' in p ? p.text : '').join('')
    return () => constant
  }
  let cachedHour = -1n
  let cached = ''
  return (timeNano) => {
    const hour = timeNano / NS_PER_HOUR
    if (hour !== cachedHour) {
      const date = new Date(Number(hour) * 3_600_000)
      cached = parts.map((p) => 'text' in p ? p.text : format(p.directive, date)).join('')
      cachedHour = hour
    }
    return cached
  }
}

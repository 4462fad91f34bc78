import { text, type OptionKind } from '../src/options/kinds.js'
import type { ContainerMeta } from '../src/record.js'

// Names made from templates: an Elasticsearch index, a Kafka topic or key, the tag. Two kinds:
// the container's fields, as docker's own tag template offers them, rendered once at
// StartLogging; and date parts, taken from each record's own timestamp.

// The fields docker's `tag` template offers (daemon/logger/loginfo.go).
const FIELDS = ['ID', 'FullID', 'Name', 'ImageID', 'ImageFullID', 'ImageName', 'DaemonName', 'Command'] as const
type Field = typeof FIELDS[number]

function isField (name: string): name is Field {
  return (FIELDS as readonly string[]).includes(name)
}

function templateFields (c: ContainerMeta): Record<Field, string> {
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

type TemplatePart = { readonly text: string } | { readonly field: Field } | { readonly label: string }

// A small subset of Go templates: {{.Field}} and {{index .ContainerLabels "key"}}. Anything else,
// an unterminated {{ included, is refused rather than rendering something surprising.
function parseContainerTemplate (template: string): TemplatePart[] {
  const parts: TemplatePart[] = []
  let at = 0
  for (let open = template.indexOf('{{'); open >= 0; open = template.indexOf('{{', at)) {
    if (open > at) parts.push({ text: template.slice(at, open) })
    const close = template.indexOf('}}', open + 2)
    if (close < 0) throw new Error('a {{ is not closed by }}')
    const expr = template.slice(open + 2, close).trim()
    const field = /^\.(\w+)$/.exec(expr)?.[1]
    const label = /^index\s+\.ContainerLabels\s+"([^"]*)"$/.exec(expr)?.[1]
    if (field !== undefined && isField(field)) parts.push({ field })
    else if (label !== undefined) parts.push({ label })
    else throw new Error(`{{${expr}}} is not known`)
    at = close + 2
  }
  if (at < template.length) parts.push({ text: template.slice(at) })
  return parts
}

const TEMPLATE_ACCEPTS = `a template of ${CONTAINER_FIELDS}`

// `escape` transforms only the container's values, never the template's own text: a name the
// user typed is checked as typed, while a value the container brings is made to fit.
// The template is an option value its kind has checked already.
export function renderTemplate (template: string, container: ContainerMeta, escape: (value: string) => string = (v) => v): string {
  const fields = templateFields(container)
  return parseContainerTemplate(template).map((p) => 'text' in p ? p.text : escape('field' in p ? fields[p.field] : container.allLabels[p.label] ?? '')).join('')
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

function parseTime (template: string): Part[] {
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
      throw new Error(`%${next} is not known`)
    }
  }
  if (text !== '') parts.push({ text })
  return parts
}

// Compiles once per container; each record then costs one bigint division while the hour lasts.
// The template's own text was checked by datedTemplate, and a container's values have their %
// doubled, so parsing cannot fail here.
export function compileTimeTemplate (template: string): (timeNano: bigint) => string {
  const parts = parseTime(template)
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

// The option kinds of templated names, so that a template that cannot render fails `docker run`
// (and a plugin default fails at start) whether or not the sink it belongs to is in use.
export const containerTemplate: OptionKind<string> = {
  accepts: TEMPLATE_ACCEPTS,
  parse: (raw) => {
    parseContainerTemplate(text.parse(raw))
    return raw
  },
}

// A name with date parts too (es-index): those are in the template's own text, never in the
// container's values (which are escaped), so checking the text checks them all.
export const datedTemplate: OptionKind<string> = {
  accepts: `date parts ${TIME_DIRECTIVES}, in ${TEMPLATE_ACCEPTS}`,
  parse: (raw) => {
    for (const part of parseContainerTemplate(text.parse(raw))) if ('text' in part) parseTime(part.text)
    return raw
  },
}

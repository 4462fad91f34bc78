import { PluginError } from './errors.js'
import type { Options } from './settings.js'
import type { StreamName, TimeHalves } from './log-entry.js'

// logger.Info as the daemon sends it: the Go struct has no JSON tags, so the keys are the Go
// field names. Config, ContainerArgs, ContainerEnv and ContainerLabels may be null.
export interface ContainerInfo {
  readonly Config: Readonly<Record<string, string>> | null
  readonly ContainerID: string
  readonly ContainerName: string
  readonly ContainerEntrypoint: string
  readonly ContainerArgs: readonly string[] | null
  readonly ContainerImageID: string
  readonly ContainerImageName: string
  readonly ContainerCreated: string
  readonly ContainerEnv: readonly string[] | null
  readonly ContainerLabels: Readonly<Record<string, string>> | null
  readonly LogPath: string
  readonly DaemonName: string
}

export interface ContainerMeta {
  readonly id: string
  readonly name: string
  readonly imageName: string
  readonly imageId: string
  readonly labels: Readonly<Record<string, string>>
  readonly env: Readonly<Record<string, string>>
  readonly tag: string | undefined
  readonly hostName: string
}

// One line as it leaves the container stream: partial chunks already joined, metadata attached.
export interface LogRecord {
  readonly stream: StreamName
  readonly time: TimeHalves
  readonly line: Buffer
  // false for a line that ended without a newline (the container's last bytes) or was cut at
  // partial-max-size; docker logs then gives back no '\n' after it.
  readonly complete: boolean
  readonly sequence: number
  readonly container: ContainerMeta
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringMap (value: unknown): Record<string, string> | null {
  if (!isRecord(value)) return null
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v
  return out
}

function stringList (value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null
}

function str (value: unknown): string {
  return typeof value === 'string' ? value : ''
}

export function parseContainerInfo (value: unknown): ContainerInfo {
  if (!isRecord(value) || typeof value['ContainerID'] !== 'string' || value['ContainerID'] === '') {
    throw new PluginError('LOGRELAY_ERR_REQ_FIELD', 'the request has no Info.ContainerID')
  }
  return {
    Config: stringMap(value['Config']),
    ContainerID: value['ContainerID'],
    ContainerName: str(value['ContainerName']),
    ContainerEntrypoint: str(value['ContainerEntrypoint']),
    ContainerArgs: stringList(value['ContainerArgs']),
    ContainerImageID: str(value['ContainerImageID']),
    ContainerImageName: str(value['ContainerImageName']),
    ContainerCreated: str(value['ContainerCreated']),
    ContainerEnv: stringList(value['ContainerEnv']),
    ContainerLabels: stringMap(value['ContainerLabels']),
    LogPath: str(value['LogPath']),
    DaemonName: str(value['DaemonName']),
  }
}

// The fields docker's own `tag` template offers (daemon/logger/loginfo.go).
function templateFields (info: ContainerInfo): Record<string, string> {
  const name = info.ContainerName.replace(/^\//, '')
  const imageId = info.ContainerImageID.replace(/^sha256:/, '')
  return {
    ID: info.ContainerID.slice(0, 12),
    FullID: info.ContainerID,
    Name: name,
    ImageID: imageId.slice(0, 12),
    ImageFullID: info.ContainerImageID,
    ImageName: info.ContainerImageName,
    DaemonName: info.DaemonName,
    Command: [info.ContainerEntrypoint, ...(info.ContainerArgs ?? [])].join(' ').trim(),
  }
}

// A small subset of Go templates: {{.Field}} and {{index .ContainerLabels "key"}}. Anything else
// fails StartLogging with the option's name rather than rendering something surprising.
// `escape` transforms only the container's values, never the template's own text: a name the
// user typed is checked as typed, while a value the container brings is made to fit.
export function renderTemplate (option: string, template: string, info: ContainerInfo, escape: (value: string) => string = (v) => v): string {
  const fields = templateFields(info)
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_all, expr: string) => {
    const field = /^\.(\w+)$/.exec(expr)
    if (field !== null && field[1] !== undefined && field[1] in fields) return escape(fields[field[1]] ?? '')
    const label = /^index\s+\.ContainerLabels\s+"([^"]*)"$/.exec(expr)
    if (label !== null && label[1] !== undefined) return escape(info.ContainerLabels?.[label[1]] ?? '')
    throw new PluginError('LOGRELAY_ERR_OPT_INVALID',
      `invalid log-opt ${option}="${template}" ({{${expr}}} is not known): expected a template of {{.ID}}, {{.FullID}}, {{.Name}}, {{.ImageID}}, {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}, {{.Command}} or {{index .ContainerLabels "key"}}`)
  })
}

function selectEntries (entries: Iterable<[string, string]>, keys: readonly string[], pattern: RegExp | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of entries) {
    if (keys.includes(k) || (pattern?.test(k) ?? false)) out[k] = v
  }
  return out
}

function envEntries (env: readonly string[] | null): [string, string][] {
  return (env ?? []).map((kv) => {
    const eq = kv.indexOf('=')
    return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)]
  })
}

export function containerMeta (info: ContainerInfo, options: Options, hostName: string): ContainerMeta {
  const tag = options.string('tag')
  return {
    id: info.ContainerID,
    name: info.ContainerName.replace(/^\//, ''),
    imageName: info.ContainerImageName,
    imageId: info.ContainerImageID,
    labels: selectEntries(Object.entries(info.ContainerLabels ?? {}), options.list('labels'), options.regex('labels-regex')),
    env: selectEntries(envEntries(info.ContainerEnv), options.list('env'), options.regex('env-regex')),
    tag: tag === undefined ? undefined : renderTemplate('tag', tag, info),
    hostName,
  }
}

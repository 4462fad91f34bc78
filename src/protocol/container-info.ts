import { PluginError } from '../errors.js'
import type { Options } from '../options/schema.js'
import type { ContainerMeta } from '../record.js'
import { coreLogOptions } from '../settings.js'
import { renderTemplate } from '../../sinks/templates.js'

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

// What the container's records carry, worked out once: the daemon's Info with the labels and
// environment the options select, and the tag rendered.
export function containerMeta (info: ContainerInfo, options: Options, hostName: string): ContainerMeta {
  const o = options.read(coreLogOptions)
  const allLabels = info.ContainerLabels ?? {}
  const meta: ContainerMeta = {
    id: info.ContainerID,
    name: info.ContainerName.replace(/^\//, ''),
    imageName: info.ContainerImageName,
    imageId: info.ContainerImageID,
    labels: selectEntries(Object.entries(allLabels), o.labels, o.labelsRegex),
    env: selectEntries(envEntries(info.ContainerEnv), o.env, o.envRegex),
    tag: undefined,
    hostName,
    allLabels,
    daemonName: info.DaemonName,
    command: [info.ContainerEntrypoint, ...(info.ContainerArgs ?? [])].join(' ').trim(),
  }
  return o.tag === undefined ? meta : { ...meta, tag: renderTemplate(o.tag, meta) }
}

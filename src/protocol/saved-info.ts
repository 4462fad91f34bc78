import fs from 'node:fs'
import path from 'node:path'
import { parseContainerInfo, type ContainerInfo } from './container-info.js'

// The daemon's Info as the plugin keeps it on disk, to re-attach a File or to resume a
// container's delivery after a restart. The container's environment is kept only where options
// select from it (env / env-regex): the rest may hold secrets and has no business on disk.
export function infoToKeep (info: ContainerInfo, keptEnv: Readonly<Record<string, string>>): ContainerInfo {
  return { ...info, ContainerEnv: Object.entries(keptEnv).map(([k, v]) => `${k}=${v}`) }
}

const FILE = 'container.json'

// Kept in the container's store directory: a container whose sinks had not had every record
// when the plugin stopped is resumed from it, though no File of it is open any more.
export function saveContainerInfo (dir: string, info: ContainerInfo): void {
  const file = path.join(dir, FILE)
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(info), { mode: 0o600 })
  fs.renameSync(`${file}.tmp`, file)
}

export function readContainerInfo (dir: string): ContainerInfo | undefined {
  try {
    return parseContainerInfo(JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')))
  } catch {
    return undefined
  }
}

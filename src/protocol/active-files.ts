import fs from 'node:fs'
import path from 'node:path'
import type { ContainerInfo } from './container-info.js'
import { infoToKeep } from './saved-info.js'

// The Files the plugin is reading, saved so that a restarted plugin can re-attach: the daemon
// never repeats StartLogging after a plugin restart (protocol.md, item 36; trap 13).
export class ActiveFiles {
  readonly #path: string
  readonly #files = new Map<string, ContainerInfo>()

  constructor (stateDir: string) {
    this.#path = path.join(stateDir, 'active-files.json')
  }

  load (): ReadonlyMap<string, ContainerInfo> {
    let parsed: unknown
    try {
      parsed = JSON.parse(fs.readFileSync(this.#path, 'utf8'))
    } catch {
      return this.#files
    }
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [file, info] of Object.entries(parsed)) this.#files.set(file, info as ContainerInfo)
    }
    return this.#files
  }

  add (file: string, info: ContainerInfo, keptEnv: Readonly<Record<string, string>>): void {
    this.#files.set(file, infoToKeep(info, keptEnv))
    this.#save()
  }

  remove (file: string): void {
    if (this.#files.delete(file)) this.#save()
  }

  #save (): void {
    const tmp = `${this.#path}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#files)), { mode: 0o600 })
    fs.renameSync(tmp, this.#path)
  }
}

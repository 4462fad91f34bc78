import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { ContainerInfo } from './container-info.js'
import { infoToKeep } from './saved-info.js'

// What a plugin before one file per FIFO kept: one list of every active File, rewritten whole
// on every StartLogging and every stream's end. With 1,000 containers that made StopLogging take
// 5 s, and 35 s with 10 KB of labels each.
const LEGACY_LIST = 'active-files.json'
const DIR = 'active'

interface SavedFile {
  readonly file: string
  readonly info: ContainerInfo
}

// The Files the plugin is reading, saved so that a restarted plugin can re-attach: the daemon
// never repeats StartLogging after a plugin restart (protocol.md, item 36; trap 13). Each File
// has a small file of its own, named by a hash of its path, so adding or removing one costs a
// write or an unlink however many containers there are.
export class ActiveFiles {
  readonly #stateDir: string
  readonly #dir: string

  constructor (stateDir: string) {
    this.#stateDir = stateDir
    this.#dir = path.join(stateDir, DIR)
    fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
  }

  load (): ReadonlyMap<string, ContainerInfo> {
    this.#adoptLegacyList()
    const files = new Map<string, ContainerInfo>()
    for (const name of fs.readdirSync(this.#dir)) {
      if (!name.endsWith('.json')) continue
      const saved = readSaved(path.join(this.#dir, name))
      if (saved !== undefined) files.set(saved.file, saved.info)
    }
    return files
  }

  add (file: string, info: ContainerInfo, keptEnv: Readonly<Record<string, string>>): void {
    this.#write(file, infoToKeep(info, keptEnv))
  }

  remove (file: string): void {
    fs.rmSync(this.#entryPath(file), { force: true })
  }

  #write (file: string, info: ContainerInfo): void {
    const entry = this.#entryPath(file)
    fs.writeFileSync(`${entry}.tmp`, JSON.stringify({ file, info }), { mode: 0o600 })
    fs.renameSync(`${entry}.tmp`, entry)
  }

  #entryPath (file: string): string {
    return path.join(this.#dir, `${createHash('sha256').update(file).digest('hex').slice(0, 32)}.json`)
  }

  // A plugin upgraded from the single list: its Files become entries, then the list goes.
  #adoptLegacyList (): void {
    const list = path.join(this.#stateDir, LEGACY_LIST)
    let parsed: unknown
    try {
      parsed = JSON.parse(fs.readFileSync(list, 'utf8'))
    } catch {
      return
    }
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [file, info] of Object.entries(parsed)) this.#write(file, info as ContainerInfo)
    }
    fs.rmSync(list, { force: true })
  }
}

// One saved entry; none when it cannot be read (a torn write only costs that re-attach).
function readSaved (entry: string): SavedFile | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(entry, 'utf8')) as Partial<SavedFile>
    if (typeof parsed.file !== 'string' || typeof parsed.info !== 'object' || parsed.info === null) return undefined
    return { file: parsed.file, info: parsed.info }
  } catch {
    return undefined
  }
}

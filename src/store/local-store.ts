import fs from 'node:fs'
import path from 'node:path'
import type { Logger } from 'pino'
import { ContainerLog } from './container-log.js'

// Container IDs are 64 hex digits; anything else must not become a path.
export function isSafeContainerId (id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)
}

export interface StoreLimits {
  readonly totalMaxSize: number
  readonly retentionMs: number
}

export class LocalStore {
  readonly dir: string
  readonly #limits: StoreLimits
  readonly #log: Logger
  readonly #open = new Map<string, ContainerLog>()
  readonly #defaultMaxSize: number
  // The size of each container's directory at the last sweep, for those not open since.
  readonly #swept = new Map<string, number>()
  // Containers removed, by why: retention or total size.
  readonly evictions = { retention: 0, 'total-size': 0 }

  constructor (stateDir: string, limits: StoreLimits, defaultMaxSize: number, log: Logger) {
    this.dir = path.join(stateDir, 'containers')
    this.#limits = limits
    this.#log = log
    this.#defaultMaxSize = defaultMaxSize
    fs.mkdirSync(this.dir, { recursive: true })
  }

  container (id: string): ContainerLog {
    let log = this.#open.get(id)
    if (log === undefined) {
      log = new ContainerLog(id, path.join(this.dir, id), this.#defaultMaxSize, this.#log)
      this.#open.set(id, log)
    }
    return log
  }

  // The container's log if it is open or on disk, without creating it.
  existing (id: string): ContainerLog | undefined {
    if (!this.#open.has(id) && !fs.existsSync(path.join(this.dir, id))) return undefined
    return this.container(id)
  }

  containerIds (): string[] {
    return fs.readdirSync(this.dir).filter(isSafeContainerId)
  }

  containerDir (id: string): string {
    return path.join(this.dir, id)
  }

  // The daemon never says when a container is removed (protocol.md, item 26), so stopped
  // containers are dropped by age, then by size, least recently written first; never one whose
  // sinks are still being given its records (`delivering`).
  sweep (delivering: (id: string) => boolean, now = Date.now()): void {
    const stopped: { id: string, size: number, written: number }[] = []
    let total = 0
    for (const id of fs.readdirSync(this.dir)) {
      const open = this.#open.get(id)
      const usage = this.#usage(id)
      this.#swept.set(id, usage.size)
      total += usage.size
      if (open?.active !== true && !delivering(id)) stopped.push({ id, ...usage })
    }
    stopped.sort((a, b) => a.written - b.written)
    for (const c of stopped) {
      const expired = now - c.written > this.#limits.retentionMs
      if (!expired && total <= this.#limits.totalMaxSize) break
      this.#remove(c.id, expired ? 'retention' : 'total-size')
      total -= c.size
    }
  }

  #usage (id: string): { size: number, written: number } {
    let size = 0
    let written = 0
    const dir = path.join(this.dir, id)
    for (const name of fs.readdirSync(dir)) {
      const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false })
      if (stat === undefined) continue
      size += stat.size
      written = Math.max(written, stat.mtimeMs)
    }
    return { size, written: written === 0 ? fs.statSync(dir).mtimeMs : written }
  }

  // Bytes on disk: the open containers' as they stand, the others' as of the last sweep.
  bytesOnDisk (): number {
    let bytes = 0
    for (const log of this.#open.values()) bytes += log.size
    for (const [id, size] of this.#swept) if (!this.#open.has(id)) bytes += size
    return bytes
  }

  #remove (id: string, reason: keyof LocalStore['evictions']): void {
    this.#open.get(id)?.close()
    this.#open.delete(id)
    this.#swept.delete(id)
    this.evictions[reason]++
    fs.rmSync(path.join(this.dir, id), { recursive: true, force: true })
    this.#log.info({ container: id, reason }, 'removed a stopped container from the local store')
  }

  close (): void {
    for (const log of this.#open.values()) log.close()
    this.#open.clear()
  }
}

// One client per distinct connection config, shared by every container that uses it: a
// Kafka producer or an HTTP pool per container would multiply connections by the container
// count. A client whose last user left is closed after a grace period, so a container that
// restarts at once finds its connections still warm.
export class SharedClients<T> {
  readonly #entries = new Map<string, { client: T, users: number, timer: NodeJS.Timeout | undefined }>()
  readonly #close: (client: T) => Promise<void>
  readonly #graceMs: number

  constructor (close: (client: T) => Promise<void>, graceMs = 30_000) {
    this.#close = close
    this.#graceMs = graceMs
  }

  acquire (key: string, create: () => T): { client: T, release: () => Promise<void> } {
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { client: create(), users: 0, timer: undefined }
      this.#entries.set(key, entry)
    }
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    entry.timer = undefined
    entry.users++
    const held = entry
    let released = false
    return {
      client: held.client,
      release: async () => {
        if (released) return
        released = true
        held.users--
        if (held.users > 0) return
        held.timer = setTimeout(() => {
          if (this.#entries.get(key) !== held || held.users > 0) return
          this.#entries.delete(key)
          void this.#close(held.client)
        }, this.#graceMs)
        held.timer.unref()
      },
    }
  }

  async closeAll (): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    for (const entry of entries) if (entry.timer !== undefined) clearTimeout(entry.timer)
    await Promise.allSettled(entries.map(async (e) => await this.#close(e.client)))
  }
}

import { EventEmitter } from 'node:events'

export interface QueueEvents {
  drain: []
}

// A bounded queue between one container stream and one sink. Space counts what is queued and
// what is in flight: it is released only when a batch's outcome is final (delivered or
// dropped), so a backend outage holds at most the bound and no more. push() says whether there
// is still room, like a stream's write(); 'drain' says there is room again.
export class BoundedQueue<T> extends EventEmitter<QueueEvents> {
  readonly maxItems: number
  readonly maxBytes: number
  #items: T[] = []
  #sizes: number[] = []
  #head = 0
  #queuedBytes = 0
  #usedItems = 0
  #usedBytes = 0
  #closed = false
  #wakeup: (() => void) | undefined
  // What the waiter is waiting for: waking it on every push cost a promise and a timer per
  // line, for a batch of thousands.
  #wakeItems = 0
  #wakeBytes = 0

  constructor (maxItems: number, maxBytes: number) {
    super()
    this.maxItems = maxItems
    this.maxBytes = maxBytes
  }

  get full (): boolean {
    return this.#usedItems >= this.maxItems || this.#usedBytes >= this.maxBytes
  }

  // How many more items fit before the queue is full.
  get room (): number {
    return Math.max(0, this.maxItems - this.#usedItems)
  }

  get length (): number {
    return this.#items.length - this.#head
  }

  get queuedBytes (): number {
    return this.#queuedBytes
  }

  get closed (): boolean {
    return this.#closed
  }

  // The oldest item not yet taken.
  peek (): T | undefined {
    return this.#items[this.#head]
  }

  push (item: T, bytes: number): boolean {
    this.#items.push(item)
    this.#sizes.push(bytes)
    this.#queuedBytes += bytes
    this.#usedItems++
    this.#usedBytes += bytes
    if (this.length >= this.#wakeItems || this.#queuedBytes >= this.#wakeBytes) this.#wake()
    return !this.full
  }

  // No more items will come; consumers drain what is left.
  close (): void {
    this.#closed = true
    this.#wake()
  }

  take (maxItems: number, maxBytes: number): { items: T[], bytes: number } {
    let end = this.#head
    let bytes = 0
    while (end < this.#items.length && end - this.#head < maxItems) {
      const size = this.#sizes[end] ?? 0
      if (end > this.#head && bytes + size > maxBytes) break
      bytes += size
      end++
    }
    const items = this.#items.slice(this.#head, end)
    this.#head = end
    this.#queuedBytes -= bytes
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#sizes = this.#sizes.slice(this.#head)
      this.#head = 0
    }
    return { items, bytes }
  }

  release (items: number, bytes: number): void {
    const wasFull = this.full
    this.#usedItems -= items
    this.#usedBytes -= bytes
    if (wasFull && !this.full) this.emit('drain')
  }

  // Resolves once a batch of the given size is queued, the deadline passes, or the queue closes.
  async waitFor (items: number, bytes: number, deadline: number): Promise<void> {
    while (!this.#closed && this.length < items && this.#queuedBytes < bytes) {
      const wait = deadline - Date.now()
      if (wait <= 0 && this.length > 0) return
      await new Promise<void>((resolve) => {
        const timer = this.length > 0 ? setTimeout(resolve, wait) : undefined
        // An empty queue has no timer running yet: its first item must start one.
        this.#wakeItems = this.length > 0 ? items : 1
        this.#wakeBytes = bytes
        this.#wakeup = () => {
          if (timer !== undefined) clearTimeout(timer)
          resolve()
        }
      })
      this.#wakeup = undefined
    }
  }

  #wake (): void {
    const wakeup = this.#wakeup
    this.#wakeup = undefined
    wakeup?.()
  }
}

import fs from 'node:fs'
import http from 'node:http'

// A proxy between dockerd and a plugin that times each request as the daemon sees it: from the
// request's arrival to the end of the plugin's answer. The plugin itself is untouched, so the
// figures include its socket, Fastify and the event loop's queue. ReadLogs streams are passed
// through untimed (their length is the reader's).
export class RequestTimer {
  readonly socket: string
  readonly #server: http.Server
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
  readonly #times = new Map<string, number[]>()

  constructor (socket: string, pluginSocket: string) {
    this.socket = socket
    this.#server = http.createServer((req, res) => {
      const started = performance.now()
      const endpoint = req.url ?? ''
      const upstream = http.request({ socketPath: pluginSocket, path: endpoint, method: req.method, headers: req.headers, agent: this.#agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
        answer.on('end', () => {
          if (endpoint !== '/LogDriver.ReadLogs') this.#record(endpoint, performance.now() - started)
        })
      })
      upstream.on('error', () => res.destroy())
      res.on('close', () => upstream.destroy())
      req.pipe(upstream)
    })
  }

  async listen (): Promise<void> {
    fs.rmSync(this.socket, { force: true })
    await new Promise<void>((resolve) => this.#server.listen(this.socket, resolve))
  }

  #record (endpoint: string, ms: number): void {
    const times = this.#times.get(endpoint) ?? []
    times.push(ms)
    this.#times.set(endpoint, times)
  }

  // The times of an endpoint since the last take, and forgets them.
  take (endpoint: string): number[] {
    const times = this.#times.get(endpoint) ?? []
    this.#times.delete(endpoint)
    return times
  }

  count (endpoint: string): number {
    return this.#times.get(endpoint)?.length ?? 0
  }

  async close (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
    this.#agent.destroy()
    fs.rmSync(this.socket, { force: true })
  }
}

export function percentiles (times: readonly number[]): string {
  const sorted = [...times].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms (${sorted.length} calls)`
}

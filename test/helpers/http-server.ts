import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'

// A real HTTP(S) server on 127.0.0.1 for the sink tests. Faults are injected here, on the server
// side, by a policy that picks each request's answer from its number.

export type Answer =
  | { readonly status: number, readonly headers?: Readonly<Record<string, string>>, readonly body?: string }
  // Reads the body, then never answers: the batch was processed but the client cannot know.
  | 'stall'
  // Reads the body, then resets the connection (TCP RST).
  | 'reset'
  // Resets the connection before reading the body: the batch was never processed.
  | 'reset-early'

export interface ReceivedRequest {
  readonly n: number
  readonly at: number
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  // Decoded: gunzipped when the request says Content-Encoding: gzip. Empty for reset-early.
  readonly body: Buffer
  readonly answer: Answer
}

export type Policy = (n: number, req: http.IncomingMessage) => Answer

const ok: Policy = () => ({ status: 200, body: '{"ok":true}' })

async function readBody (req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const raw = Buffer.concat(chunks)
  return req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw
}

export class TestHttpServer {
  readonly requests: ReceivedRequest[] = []
  readonly #server: http.Server
  #policy: Policy
  #count = 0

  private constructor (server: http.Server, policy: Policy) {
    this.#server = server
    this.#policy = policy
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => { void this.#handle(req, res) })
  }

  static async start (options: { policy?: Policy, port?: number, tls?: { key: Buffer, cert: Buffer } } = {}): Promise<TestHttpServer> {
    const server = options.tls === undefined ? http.createServer() : https.createServer(options.tls)
    const instance = new TestHttpServer(server, options.policy ?? ok)
    server.listen(options.port ?? 0, '127.0.0.1')
    await once(server, 'listening')
    return instance
  }

  get port (): number {
    return (this.#server.address() as AddressInfo).port
  }

  url (path = '/ingest'): string {
    return `${this.#server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${this.port}${path}`
  }

  set policy (policy: Policy) {
    this.#policy = policy
  }

  async #handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const n = ++this.#count
    const answer = this.#policy(n, req)
    const at = Date.now()
    const record = (body: Buffer): void => {
      this.requests.push({ n, at, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, answer })
    }
    if (answer === 'reset-early') {
      record(Buffer.alloc(0))
      req.socket.resetAndDestroy()
      return
    }
    record(await readBody(req))
    if (answer === 'stall') return
    if (answer === 'reset') {
      req.socket.resetAndDestroy()
      return
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
    res.end(answer.body ?? '')
  }

  async close (): Promise<void> {
    this.#server.close()
    this.#server.closeAllConnections()
    await sleep(0)
  }
}

// Answered 2xx. Unlike http.test.ts's `processed`, a stall or a reset does not count: these
// tests ask what the sink was told it delivered.
const accepted = (answer: Answer): boolean => typeof answer === 'object' && answer.status >= 200 && answer.status < 300

// The lines an http sink with http-format=raw delivered, as numbers.
export function rawDelivered (server: TestHttpServer): Set<number> {
  const seen = new Set<number>()
  for (const request of server.requests) {
    if (!accepted(request.answer)) continue
    for (const line of request.body.toString('latin1').split('\n')) if (/^\d+$/.test(line)) seen.add(Number(line))
  }
  return seen
}

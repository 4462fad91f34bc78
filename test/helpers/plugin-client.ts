import http from 'node:http'

export interface SocketAnswer {
  readonly status: number
  readonly body: Buffer
}

// One HTTP request over a Unix socket, its whole answer collected.
export function socketRequest (socketPath: string, options: http.RequestOptions, payload?: Buffer, signal?: AbortSignal): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...options, socketPath, signal }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (b: Buffer) => chunks.push(b))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

// One call to the plugin's socket as the daemon makes it (no Content-Type), or as any other
// local client could: the body is sent as given, so tests can send what the daemon never would.
export async function pluginCall (socket: string, endpoint: string, body: Buffer | string | object, signal?: AbortSignal): Promise<SocketAnswer> {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  return await socketRequest(socket, { path: endpoint, method: 'POST', headers: { 'Content-Length': payload.length } }, payload, signal)
}

// A request whose Content-Length is over the plugin's body limit. The plugin answers on seeing
// the header and closes the connection, so the body is only written if no answer comes in a
// second: writing it at once would race that close (EPIPE) and lose the answer.
export function pluginCallOversized (socket: string, endpoint: string, bytes: number): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: endpoint, method: 'POST', headers: { 'Content-Length': bytes } }, (res) => {
      clearTimeout(timer)
      const chunks: Buffer[] = []
      res.on('data', (b: Buffer) => chunks.push(b))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.flushHeaders()
    const timer = setTimeout(() => req.end(Buffer.alloc(bytes, 'x')), 1000)
  })
}

export function answerJson (answer: SocketAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString()) as Record<string, unknown>
}

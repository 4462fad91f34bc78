import http from 'node:http'
import { dockerHost } from '../test/helpers/docker.js'
import { socketRequest, type SocketAnswer } from '../test/helpers/plugin-client.js'

// The Engine API over the daemon's socket, for benchmarks that drive a thousand containers: a
// `docker` CLI process per call would cost more CPU than the plugin being measured.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })

export async function dockerApi (method: string, path: string, body?: object): Promise<SocketAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return await socketRequest(dockerSocket(), {
    path: `/v1.41${path}`,
    method,
    agent,
    headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': payload.length },
  }, payload)
}

function dockerSocket (): string {
  return dockerHost().replace(/^unix:\/\//, '')
}

async function ok (method: string, path: string, body?: object): Promise<Buffer> {
  const answer = await dockerApi(method, path, body)
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body.toString()}`)
  return answer.body
}

export interface ContainerSpec {
  readonly image: string
  readonly cmd: readonly string[]
  readonly logDriver: string
  readonly labels?: Record<string, string>
}

// Creates and starts a container without a network; returns its ID.
export async function runContainer (name: string, spec: ContainerSpec): Promise<string> {
  const created = JSON.parse((await ok('POST', `/containers/create?name=${name}`, {
    Image: spec.image,
    Cmd: spec.cmd,
    Labels: spec.labels ?? {},
    HostConfig: { NetworkMode: 'none', LogConfig: { Type: spec.logDriver, Config: {} } },
  })).toString()) as { Id: string }
  await ok('POST', `/containers/${created.Id}/start`)
  return created.Id
}

export async function killContainer (id: string): Promise<void> {
  await ok('POST', `/containers/${id}/kill`)
}

export async function waitContainer (id: string): Promise<void> {
  await ok('POST', `/containers/${id}/wait`)
}

export async function removeContainer (id: string): Promise<void> {
  await ok('DELETE', `/containers/${id}?force=1`)
}

// The number of lines `docker logs` gives back: one frame of the daemon's multiplexed stream
// (8-byte header with a big-endian length) per line of a container without a TTY. Counted as
// the bytes arrive, so 500 readers at once do not hold 500 logs in the benchmark's memory.
export function logLineCount (id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: dockerSocket(), path: `/v1.41/containers/${id}/logs?stdout=1&stderr=1`, agent }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = []
        res.on('data', (b: Buffer) => chunks.push(b))
        res.on('end', () => reject(new Error(`docker logs ${id}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)))
        return
      }
      let frames = 0
      let header = Buffer.alloc(0)
      let skip = 0
      res.on('data', (chunk: Buffer) => {
        let p = 0
        while (p < chunk.length) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.length - p)
            skip -= n
            p += n
            continue
          }
          const n = Math.min(8 - header.length, chunk.length - p)
          header = Buffer.concat([header, chunk.subarray(p, p + n)])
          p += n
          if (header.length === 8) {
            frames++
            skip = header.readUInt32BE(4)
            header = Buffer.alloc(0)
          }
        }
      })
      res.on('end', () => resolve(frames))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

// Runs `task` over `items` with at most `limit` in flight.
export async function inParallel<T, R> (items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await task(items[i] as T)
    }
  }))
  return results
}

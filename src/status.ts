import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type { PluginStatus } from './protocol/status.js'
import { pluginSocket } from './settings.js'

// `npm run status` (or `node dist/src/status.js` in the managed plugin's rootfs): asks the
// plugin on its socket what it is doing and prints it as a table. --json prints the answer as
// it came; --socket PATH asks another plugin. A managed plugin's socket is in a directory named
// by the plugin's ID: when the default path is missing, the one logrelay.sock found there is
// used.

const PLUGINS_DIR = '/run/docker/plugins'

function findSocket (given: string | undefined): string {
  if (given !== undefined) return given
  const socket = pluginSocket(process.env)
  if (fs.existsSync(socket)) return socket
  const managed = fs.existsSync(PLUGINS_DIR)
    ? fs.readdirSync(PLUGINS_DIR).map((d) => path.join(PLUGINS_DIR, d, path.basename(socket))).filter((p) => fs.existsSync(p))
    : []
  if (managed.length === 1) return managed[0] as string
  throw new Error(managed.length === 0
    ? `no plugin socket at ${socket}, nor a managed plugin's under ${PLUGINS_DIR}: is logrelay running? (--socket PATH names another)`
    : `several plugin sockets: ${managed.join(', ')}; choose one with --socket PATH`)
}

function ask (socket: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: '/logrelay/status', method: 'GET', timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        } catch (err) {
          reject(new Error(`the plugin at ${socket} answered HTTP ${res.statusCode ?? '?'} with no JSON`, { cause: err }))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socket} within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit] as string}`
}

function age (seconds: number | null): string {
  if (seconds === null) return '-'
  if (seconds < 120) return `${seconds} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 3600)} h`
}

function sum (counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0)
}

// Columns padded to their widest cell; the last one is left as long as it is.
function table (header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function formatStatus (status: PluginStatus): string {
  const rows = status.containers.flatMap((c) => {
    const head = [c.name, c.id.slice(0, 12), String(c.streams)]
    if (c.sinks.length === 0) return [[...head, '-', '-', '-', '-', '-']]
    return c.sinks.map((s) => [...head, s.sink, String(s.backlogRecords), bytes(s.backlogBytes), age(s.oldestAgeSeconds),
      s.lastError === null ? '-' : `${s.lastError.at} ${s.lastError.reason}`])
  })
  const out = [`logrelay pid ${status.pid}, up ${age(status.uptimeSeconds)}: ${status.containers.length} containers`, '']
  out.push(rows.length === 0 ? 'no container is being logged or has lines left to deliver' : table(['CONTAINER', 'ID', 'STREAMS', 'SINK', 'BACKLOG', 'BYTES', 'OLDEST', 'LAST ERROR'], rows))
  if (status.sinks.length > 0) {
    out.push('', table(['SINK', 'CONTAINER', 'HANDED', 'DELIVERED', 'RETRIED', 'DROPPED'], status.sinks.map((s) => [
      s.sink, s.container ?? '(all)', String(s.handedRecords), String(s.deliveredRecords), String(sum(s.retriedRecords)),
      sum(s.droppedRecords) === 0 ? '0' : `${sum(s.droppedRecords)} (${Object.entries(s.droppedRecords).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ')})`,
    ])))
  }
  return out.join('\n')
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const at = args.indexOf('--socket')
  const socket = findSocket(at >= 0 ? args[at + 1] : undefined)
  const answer = await ask(socket)
  if (typeof answer === 'object' && answer !== null && 'Err' in answer) throw new Error(`the plugin says: ${String(answer.Err)}`)
  console.log(args.includes('--json') ? JSON.stringify(answer, null, 2) : formatStatus(answer as PluginStatus))
}

main().catch((err: unknown) => {
  console.error(`logrelay status: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})

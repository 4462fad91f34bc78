import fs from 'node:fs'
import type { PluginProcess } from './plugin.js'
import { waitUntil } from './process.js'

// Scraping a plugin's /metrics the way Prometheus does (a real HTTP GET), and reading the text
// exposition back into samples.

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export function parseExposition (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_m, c: string) => c === 'n' ? '\n' : c)
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) })
  }
  return samples
}

export class Scrape {
  readonly samples: readonly Sample[]

  constructor (samples: readonly Sample[]) {
    this.samples = samples
  }

  // The sum of the samples of `name` whose labels include `labels` (0 when there is none).
  value (name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.matching(name, labels).reduce((sum, s) => sum + s.value, 0)
  }

  matching (name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  }
}

// The address the plugin logged once its listener was up (LOGRELAY_METRICS_ADDR with port 0).
export async function metricsAddress (plugin: PluginProcess): Promise<string> {
  let address: string | undefined
  await waitUntil('the plugin logs its metrics address', () => {
    for (const line of plugin.output.split('\n')) {
      if (!line.includes('"metrics listening"')) continue
      address = (JSON.parse(line) as { address: string }).address
    }
    return address !== undefined
  }, 20_000)
  return address as string
}

export async function get (url: string): Promise<{ status: number, type: string | null, body: string }> {
  const response = await fetch(url)
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() }
}

export async function scrape (address: string): Promise<Scrape> {
  const response = await get(`http://${address}/metrics`)
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${response.body}`)
  return new Scrape(parseExposition(response.body))
}

// The TCP ports a process listens on, from /proc: its socket inodes among the listening
// entries of /proc/net/tcp and tcp6.
export function listeningPorts (pid: number): number[] {
  const inodes = new Set<string>()
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' })
    const match = /^socket:\[(\d+)\]$/.exec(target)
    if (match !== null) inodes.add(match[1] as string)
  }
  const ports: number[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/)
      if (fields[3] !== '0A' || !inodes.has(fields[9] ?? '')) continue
      ports.push(parseInt((fields[1] ?? '').split(':')[1] ?? '', 16))
    }
  }
  return ports
}

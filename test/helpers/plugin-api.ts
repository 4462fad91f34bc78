import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeLogEntry } from '../../src/streams/log-entry.js'

// The plugin's API spoken the way dockerd speaks it (POST, JSON bodies, no Content-Type), over
// its Unix socket, for tests that play the daemon themselves with real FIFOs.

export interface Answer {
  readonly status: number
  readonly body: Buffer
}

export function pluginCall (socket: string, route: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: route, method: 'POST', agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (b: Buffer) => parts.push(b))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

// logger.Info for a container of this id, as the daemon fills it in.
export function daemonInfo (containerId: string, config: Record<string, string> = {}): Record<string, unknown> {
  return {
    Config: config,
    ContainerID: containerId,
    ContainerName: `/c-${containerId.slice(0, 12)}`,
    ContainerEntrypoint: 'sh',
    ContainerArgs: [],
    ContainerImageID: `sha256:${'0'.repeat(64)}`,
    ContainerImageName: 'logrelay-test/busybox',
    ContainerCreated: '2026-12-01T00:00:00.000000000Z',
    ContainerEnv: [],
    ContainerLabels: {},
    LogPath: '',
    DaemonName: 'docker',
  }
}

export async function startLogging (socket: string, file: string, containerId: string): Promise<void> {
  const answer = await pluginCall(socket, '/LogDriver.StartLogging', { File: file, Info: daemonInfo(containerId) })
  const err = (JSON.parse(answer.body.toString()) as { Err?: string }).Err ?? ''
  if (answer.status !== 200 || err !== '') throw new Error(`StartLogging ${file}: ${answer.status} ${err}`)
}

export async function stopLogging (socket: string, file: string): Promise<void> {
  await pluginCall(socket, '/LogDriver.StopLogging', { File: file })
}

export interface ReadEntry {
  readonly source: string
  readonly line: Buffer
}

// Every entry ReadLogs gives back for the container, as `docker logs` would get them. With
// `follow`, the answer ends once the container's FIFOs have all been drained.
export async function readLogs (socket: string, containerId: string, follow = true): Promise<ReadEntry[]> {
  const answer = await pluginCall(socket, '/LogDriver.ReadLogs', {
    Info: daemonInfo(containerId),
    Config: { Since: '0001-01-01T00:00:00Z', Until: '0001-01-01T00:00:00Z', Tail: -1, Follow: follow },
  })
  if (answer.status !== 200) throw new Error(`ReadLogs ${containerId}: ${answer.status} ${answer.body.toString()}`)
  const entries: ReadEntry[] = []
  const buf = answer.body
  for (let at = 0; at < buf.length;) {
    const length = buf.readUInt32BE(at)
    const entry = decodeLogEntry(buf, at + 4, length)
    entries.push({ source: entry.source, line: Buffer.from(entry.line) })
    at += 4 + length
  }
  return entries
}

const PROBE = fileURLToPath(new URL('../faults/capabilities-probe.js', import.meta.url))
const REFERENCE = fileURLToPath(new URL('../faults/capabilities-reference.js', import.meta.url))

export interface ProbeResult {
  readonly calls: number
  readonly failures: number
  // The slowest answers of the plugin and of the idle reference, and the most the plugin's
  // answer took beyond the reference's at the same moment: the plugin's own stall.
  readonly maxMs: number
  readonly referenceMaxMs: number
  readonly maxExcessMs: number
  readonly slowest: ReadonlyArray<{ atMs: number, pluginMs: number, referenceMs: number }>
}

// A separate process calling Capabilities on the plugin's socket throughout, the way every
// `docker run` does, beside an idle reference server in a third process (capabilities-probe.ts).
export class CapabilitiesProbe {
  readonly #reference: ChildProcess
  readonly #probe: ChildProcess
  readonly #output: Buffer[] = []

  private constructor (reference: ChildProcess, probe: ChildProcess) {
    this.#reference = reference
    this.#probe = probe
    probe.stdout?.on('data', (b: Buffer) => this.#output.push(b))
  }

  static async start (pluginSocket: string): Promise<CapabilitiesProbe> {
    const referenceSocket = path.join(os.tmpdir(), `logrelay-reference-${process.pid}-${Date.now()}.sock`)
    const reference = spawn(process.execPath, [REFERENCE, referenceSocket], { stdio: ['pipe', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      reference.stdout?.once('data', () => resolve())
      reference.once('exit', (code) => reject(new Error(`the reference server exited with ${code}`)))
    })
    return new CapabilitiesProbe(reference, spawn(process.execPath, [PROBE, pluginSocket, referenceSocket], { stdio: ['pipe', 'pipe', 'inherit'] }))
  }

  // Whether the calls from now on count: what a test measures is the plugin reading what its
  // FIFOs carry, not the disk writes of StartLogging and StopLogging.
  measure (on: boolean): void {
    this.#probe.stdin?.write(on ? 'on\n' : 'off\n')
  }

  // Ends the probe and the reference (closing their stdin) and returns what the probe measured.
  async result (): Promise<ProbeResult> {
    const exited = (child: ChildProcess): Promise<void> => new Promise((resolve) => child.once('exit', () => resolve()))
    const probeExited = exited(this.#probe)
    this.#probe.stdin?.end()
    await probeExited
    const referenceExited = exited(this.#reference)
    this.#reference.stdin?.end()
    await referenceExited
    return JSON.parse(Buffer.concat(this.#output).toString()) as ProbeResult
  }
}

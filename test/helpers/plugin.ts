import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { uniqueName } from './docker.js'
import { stopChild } from './process.js'

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url))

function connects (socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket)
    conn.once('connect', () => { conn.destroy(); resolve(true) })
    conn.once('error', () => resolve(false))
  })
}

// The plugin as `npm start` runs it, as a legacy plugin with its own name, socket and state
// directory, so test files can run side by side against one daemon.
export class PluginProcess {
  readonly name: string
  readonly socket: string
  readonly stateDir: string
  readonly env: NodeJS.ProcessEnv
  readonly #entry: string
  #child: ChildProcess | undefined
  #output: string[] = []

  // `entry` runs another plugin program the same way (the benchmarks' drain-only reference).
  constructor (env: NodeJS.ProcessEnv = {}, entry = MAIN) {
    this.#entry = entry
    this.name = uniqueName('lrt')
    this.socket = `/run/docker/plugins/${this.name}.sock`
    this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-state-'))
    this.env = env
  }

  get pid (): number | undefined {
    return this.#child?.pid
  }

  get output (): string {
    return this.#output.join('')
  }

  async start (): Promise<void> {
    const child = spawn(process.execPath, [this.#entry], {
      env: { ...process.env, LOG_LEVEL: 'info', ...this.env, LOGRELAY_SOCKET: this.socket, LOGRELAY_STATE_DIR: this.stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    child.stdout?.on('data', (b: Buffer) => this.#output.push(b.toString()))
    child.stderr?.on('data', (b: Buffer) => this.#output.push(b.toString()))
    const deadline = Date.now() + 10_000
    while (!(await connects(this.socket))) {
      if (child.exitCode !== null) throw new Error(`plugin exited with ${child.exitCode}:\n${this.output}`)
      if (Date.now() > deadline) throw new Error(`plugin did not listen on ${this.socket}:\n${this.output}`)
      await sleep(50)
    }
  }

  // The plugin finishes within the daemon's 10 s after SIGTERM; past that it gets the SIGKILL
  // the daemon would send.
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child !== undefined) await stopChild(this.#child, 10_000, signal)
  }

  async restart (): Promise<void> {
    await this.stop()
    await this.start()
  }

  async cleanup (): Promise<void> {
    await this.stop()
    fs.rmSync(this.stateDir, { recursive: true, force: true })
    fs.rmSync(this.socket, { force: true })
  }
}

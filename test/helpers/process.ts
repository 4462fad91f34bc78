import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ExecResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
  // stdout and stderr interleaved, as a person would have seen them: for error messages.
  readonly output: string
}

export interface ExecOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  readonly input?: Buffer
  readonly timeoutMs?: number
}

// Runs a command to completion, collecting its output as bytes (docker logs must be compared
// byte for byte); rejects only when it cannot be started (ENOENT and the like).
export function exec (command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const both: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => { out.push(b); both.push(b) })
    child.stderr.on('data', (b: Buffer) => { err.push(b); both.push(b) })
    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), output: Buffer.concat(both).toString('utf8') })
    })
    child.stdin.end(options.input)
  })
}

export interface Detached {
  readonly pid: number
  // Settles when the process ends, while this Node process is still there to see it.
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

// Starts a process in its own session, so neither the end of this Node process nor a Ctrl-C in
// its terminal stops it: whoever recorded its pid stops it with stopPid. Output goes to a file,
// not a pipe: a daemon that inherits a pipe would hold it open forever.
export function spawnDetached (command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv, cwd?: string, logFile: string }): Promise<Detached> {
  return new Promise((resolve, reject) => {
    const log = openSync(options.logFile, 'a')
    try {
      const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', log, log], detached: true })
      const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((settle) => {
        child.once('exit', (code, signal) => settle({ code, signal }))
      })
      child.once('error', reject)
      child.once('spawn', () => {
        child.unref()
        if (child.pid === undefined) reject(new Error(`${command} started without a pid`))
        else resolve({ pid: child.pid, exited })
      })
    } finally {
      closeSync(log)
    }
  })
}

export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to another user (Elasticsearch runs as nobody under root).
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Stops a process we started, by its pid: `signal` (SIGTERM unless told), then SIGKILL once the
// grace period is over; resolves when the process is gone.
export async function stopPid (pid: number, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const send = (name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
  send(signal)
  const deadline = Date.now() + graceMs
  while (isAlive(pid) && Date.now() < deadline) await sleep(100)
  if (!isAlive(pid)) return
  send('SIGKILL')
  while (isAlive(pid)) await sleep(100)
}

// stopPid for a child of this process; resolves once its exit has been seen, so its exit code
// and output are complete. A child that has already exited is not signalled: its pid may have
// been reused.
export async function stopChild (child: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await stopPid(child.pid, graceMs, signal)
  await exited
}

export class GaveUpWaiting extends Error {
  override readonly name = 'GaveUpWaiting'
}

// Polls until `done` holds; `done` may throw to stop early (a process died). Tests assert on what
// happened, so the deadline is only a guard against hanging forever, and is generous.
export async function waitUntil (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 90_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new GaveUpWaiting(`gave up waiting: ${what}`)
    await sleep(intervalMs)
  }
}

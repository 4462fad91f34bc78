import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ExecResult {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

// Runs a command to completion, collecting its output as bytes (docker logs must be compared
// byte for byte).
export function exec (command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv, input?: Buffer, timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      if (timer !== undefined) clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') })
    })
    child.stdin.end(options.input)
  })
}

// Stops a child we started: SIGTERM, then SIGKILL if it is still there after the grace period.
export async function stopChild (child: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

// Polls until `done` holds. Tests assert on what happened, so the deadline is only a guard
// against hanging forever, and is generous.
export async function waitUntil (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 90_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`)
    await sleep(intervalMs)
  }
}

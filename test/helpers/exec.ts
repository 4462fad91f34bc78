import { spawn } from 'node:child_process'

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

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { GaveUpWaiting, isAlive, waitUntil } from '../helpers/process.js'
import { ServicesError, ServicesErrorCode } from './errors.js'

// What the services harness keeps about the servers it starts, beyond running them
// (test/helpers/process.ts): pid files, whose pid is whose, ports, logs and one lock.

// A recorded pid is ours only while that process still carries our marker on its command line:
// after a reboot or a crash the number may belong to anything else, which must not be killed.
export function isOurs (pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return cmdline.includes(marker)
  } catch {
    // No /proc (macOS): the pid file and a live process are all there is to go on.
    return process.platform !== 'linux'
  }
}

export function readPid (file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

// Whether something accepts connections on 127.0.0.1:port.
export function portInUse (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

// The last lines of a log file, for an error message; empty when there is none.
export function tailFile (file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

// One `up` or `down` at a time per cache directory: a second `npm test` started while the first
// is still resolving artifacts waits instead of racing it for the same files and ports.
export async function withLock<T> (lockDir: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  const pidFile = join(lockDir, 'pid')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(lockDir)
      writeFileSync(pidFile, String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = readPid(pidFile)
      if (holder === undefined || !isAlive(holder)) {
        // Left by a process that died; the pid file may still be being written, so look twice.
        await sleep(200)
        const again = readPid(pidFile)
        if (again === undefined || !isAlive(again)) rmSync(lockDir, { recursive: true, force: true })
        continue
      }
      if (Date.now() >= deadline) {
        throw new ServicesError(
          ServicesErrorCode.LOCKED,
          `another services:up/down (pid ${holder}) has held ${lockDir} for ${Math.round(timeoutMs / 1000)} s; ` +
            'wait for it to finish, or stop that process',
        )
      }
      await sleep(500)
    }
  }
  try {
    return await body()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}

// waitUntil for a server to answer, failing with the harness's own error (after `onTimeout`'s
// clean-up) when it does not, so that the CLI can print a message instead of a stack.
export async function waitOrFail (what: string, done: () => Promise<boolean>, timeoutMs: number, onTimeout: () => Promise<ServicesError> | ServicesError): Promise<void> {
  try {
    await waitUntil(what, done, timeoutMs, 500)
  } catch (err) {
    if (err instanceof GaveUpWaiting) throw await onTimeout()
    throw err
  }
}

import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { exec, stopChild } from './process.js'

export const TEST_IMAGE = 'logrelay-test/busybox'
const BUSYBOX_APPLETS = ['sh', 'echo', 'seq', 'cat', 'sleep', 'yes', 'head', 'printf', 'tr', 'dd', 'true', 'wc']

export function which (command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = path.join(dir, command)
    if (fs.existsSync(candidate)) return candidate
  }
  return undefined
}

// The engine's own log, where it also writes a managed plugin's stdout.
export function dockerdLogFile (host: string): string {
  return path.join(path.dirname(host.replace(/^unix:\/\//, '')), 'dockerd.log')
}

export interface Dockerd {
  readonly host: string
  stop: () => Promise<void>
}

// A private Docker engine for the tests (shared/docs/test-infra.md): its own data and exec
// roots, no host networking touched, containers run with --network none. Legacy plugins are
// still found in /run/docker/plugins, which is fixed in the daemon, so tests use unique names.
export async function startDockerd (): Promise<Dockerd> {
  const dockerd = which('dockerd')
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))
  if (dockerd === undefined || busybox === undefined) {
    throw new Error('the tests need a Docker engine and a static busybox: apt-get install -y docker.io busybox-static')
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-dockerd-'))
  const socket = path.join(root, 'docker.sock')
  const host = `unix://${socket}`
  const logFile = fs.openSync(dockerdLogFile(host), 'a')
  const child: ChildProcess = spawn(dockerd, [
    '--storage-driver=vfs', '--iptables=false', '--ip6tables=false', '--bridge=none',
    `--data-root=${path.join(root, 'data')}`, `--exec-root=${path.join(root, 'exec')}`,
    `--pidfile=${path.join(root, 'docker.pid')}`, '-H', host,
  ], { stdio: ['ignore', logFile, logFile] })
  const env = { ...process.env, DOCKER_HOST: host }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}; see ${path.join(root, 'dockerd.log')}`)
    const ping = await exec('docker', ['version', '--format', '{{.Server.Version}}'], { env, timeoutMs: 10_000 })
    if (ping.code === 0) break
    if (Date.now() > deadline) throw new Error(`dockerd did not answer within 60 s; see ${path.join(root, 'dockerd.log')}`)
    await sleep(250)
  }
  // No image can be pulled here: build a tiny one from the host's static busybox.
  const rootfs = path.join(root, 'image')
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true })
  fs.copyFileSync(busybox, path.join(rootfs, 'bin', 'busybox'))
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755)
  for (const applet of BUSYBOX_APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet))
  const tar = await exec('tar', ['-C', rootfs, '-c', '.'])
  const imported = await exec('docker', ['import', '-', TEST_IMAGE], { env, input: tar.stdout })
  if (imported.code !== 0) throw new Error(`docker import failed: ${imported.stderr}`)

  return {
    host,
    stop: async () => {
      const containers = await exec('docker', ['ps', '-aq'], { env })
      const ids = containers.stdout.toString().split('\n').filter((s) => s !== '')
      if (ids.length > 0) await exec('docker', ['rm', '-f', ...ids], { env, timeoutMs: 60_000 })
      await stopChild(child, 20_000)
      fs.closeSync(logFile)
      fs.rmSync(root, { recursive: true, force: true })
    },
  }
}

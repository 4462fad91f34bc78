import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { which } from './dockerd.js'
import { stopChild } from './process.js'

export interface Registry {
  // host:port, the prefix of the plugin references pushed to it.
  readonly address: string
  stop: () => Promise<void>
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')))
    })
  })
}

async function answers (address: string): Promise<boolean> {
  try {
    return (await fetch(`http://${address}/v2/`)).status === 200
  } catch {
    return false
  }
}

// A private image registry on loopback (Debian's docker-registry), so plugins can be pushed,
// installed and upgraded the way users do. The daemon trusts 127.0.0.0/8 without TLS.
// The port is found free and then taken by another process, so a lost race is retried.
export async function startRegistry (): Promise<Registry> {
  const binary = which('docker-registry')
  if (binary === undefined) throw new Error('the managed plugin tests need a registry on loopback: apt-get install -y docker-registry')
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-registry-'))
  const logPath = path.join(root, 'registry.log')
  for (let attempt = 1; ; attempt++) {
    const address = `127.0.0.1:${await freePort()}`
    const config = path.join(root, 'config.yml')
    fs.writeFileSync(config, [
      'version: 0.1',
      'log: {level: warn, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${path.join(root, 'data')}}, delete: {enabled: true}}`,
      `http: {addr: "${address}"}`,
      '',
    ].join('\n'))
    const logFile = fs.openSync(logPath, 'a')
    const child: ChildProcess = spawn(binary, ['serve', config], { stdio: ['ignore', logFile, logFile] })
    fs.closeSync(logFile)
    const deadline = Date.now() + 30_000
    while (child.exitCode === null && !(await answers(address))) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`docker-registry did not answer on ${address} within 30 s:\n${fs.readFileSync(logPath, 'utf8')}`)
      }
      await sleep(100)
    }
    if (child.exitCode === null) {
      return {
        address,
        stop: async () => {
          await stopChild(child, 10_000)
          fs.rmSync(root, { recursive: true, force: true })
        },
      }
    }
    const log = fs.readFileSync(logPath, 'utf8')
    if (attempt >= 3 || !/address already in use/.test(log)) {
      fs.rmSync(root, { recursive: true, force: true })
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${log}`)
    }
  }
}

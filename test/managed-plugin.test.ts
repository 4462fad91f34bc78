import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPlugin, makePluginDir } from '../scripts/plugin-dir.js'
import { docker, dockerHost, dockerOk, TEST_IMAGE, uniqueName } from './helpers/docker.js'
import { dockerdLogFile } from './helpers/dockerd.js'
import { rawDelivered, TestHttpServer } from './helpers/http-server.js'
import { waitUntil } from './helpers/process.js'
import { startRegistry, type Registry } from './helpers/registry.js'

// The life cycle operators go through, against the test run's dockerd and a registry on
// loopback: build, push, install, log, set, upgrade, remove. Each step depends on the one
// before, so they run in order on one plugin.

let registry: Registry | undefined
let backend: TestHttpServer | undefined
const alias = uniqueName('lrm')
const containers: string[] = []
const pluginDirs: string[] = []
let repo = ''

before(async () => {
  registry = await startRegistry()
  repo = `${registry.address}/${uniqueName('logrelay')}`
})

after(async () => {
  if (containers.length > 0) await docker(['rm', '-f', ...containers])
  for (const name of [alias, `${repo}:1`, `${repo}:2`]) await docker(['plugin', 'rm', '--force', name])
  await registry?.stop()
  await backend?.close()
  for (const dir of pluginDirs) fs.rmSync(dir, { recursive: true, force: true })
})

async function inspect (format: string): Promise<string> {
  return (await dockerOk(['plugin', 'inspect', '--format', format, alias])).toString().trim()
}

// Builds a plugin from a rootfs made on this host and pushes it: what a release does.
async function publish (tag: string): Promise<void> {
  const dir = await makePluginDir({ from: 'host' })
  pluginDirs.push(dir)
  await createPlugin(`${repo}:${tag}`, dir)
  await dockerOk(['plugin', 'push', `${repo}:${tag}`])
  // Users have only what the registry holds.
  await dockerOk(['plugin', 'rm', `${repo}:${tag}`])
}

interface Diagnostics { diagnostic: (message: string) => void }

async function timed (what: string, t: Diagnostics, args: readonly string[]): Promise<void> {
  const started = performance.now()
  await dockerOk(args)
  t.diagnostic(`${what} took ${Math.round(performance.now() - started)} ms`)
}

// The plugin logs how long it took from process start to listening; the daemon writes a
// managed plugin's stdout into its own log, tagged with the plugin's ID.
async function startups (): Promise<number[]> {
  const id = await inspect('{{.Id}}')
  const lines = fs.readFileSync(dockerdLogFile(dockerHost()), 'utf8').split('\n')
  return lines.filter((l) => l.includes(`plugin=${id}`) && l.includes('logrelay listening'))
    .map((l) => Number(/startupMs\\?":(\d+)/.exec(l)?.[1] ?? NaN))
}

// The daemon's dial can beat the line to its log by a moment.
async function startupsAfter (count: number): Promise<number[]> {
  for (let tries = 0; ; tries++) {
    const seen = await startups()
    if (seen.length > count || tries >= 50) return seen
    await sleep(100)
  }
}

// Timings are recorded, never asserted: the daemon dials 0.5 s after the start, then every 3 s.
async function enable (t: Diagnostics): Promise<void> {
  const before = (await startups()).length
  await timed('docker plugin enable --timeout 0', t, ['plugin', 'enable', '--timeout', '0', alias])
  t.diagnostic(`plugin process start to listening: ${(await startupsAfter(before)).at(-1)} ms`)
}

function seq (from: number, to: number): string {
  return Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('')
}

async function runSeq (count: number, opts: readonly string[] = []): Promise<string> {
  const name = uniqueName('managed')
  containers.push(name)
  const logOpts = opts.flatMap((opt) => ['--log-opt', opt])
  await dockerOk(['run', '--name', name, '--network', 'none', '--log-driver', alias, ...logOpts, TEST_IMAGE, 'seq', '1', String(count)])
  return name
}

async function logs (name: string): Promise<string> {
  return (await dockerOk(['logs', name])).toString()
}

describe('logrelay as a managed plugin', () => {
  let first = ''
  let second = ''
  let secondLogs = ''

  test('installs from a registry with docker plugin install and answers the daemon', async (t) => {
    await publish('1')
    await timed('docker plugin install (pull and enable)', t, ['plugin', 'install', '--grant-all-permissions', '--alias', alias, `${repo}:1`])
    assert.equal(await inspect('{{.Enabled}}'), 'true')
    assert.equal(await inspect('{{.PluginReference}}'), `${repo}:1`)
    const started = await startupsAfter(0)
    assert.equal(started.length, 1, 'the plugin logged once that it listens')
    t.diagnostic(`plugin process start to listening: ${started.join(', ')} ms`)
  })

  test('a container logs through it and docker logs gives every line back', async () => {
    first = await runSeq(20_000)
    assert.equal(await logs(first), seq(1, 20_000))
  })

  test('docker plugin set changes a default once the plugin is disabled and enabled again', async (t) => {
    await dockerOk(['plugin', 'disable', alias])
    await dockerOk(['plugin', 'set', alias, 'LOGRELAY_STORE_MAX_BYTES=64k'])
    await enable(t)
    second = await runSeq(20_000)
    secondLogs = await logs(second)
    // A 64 KiB ring keeps only the newest lines, in order, up to the last one.
    const kept = secondLogs.split('\n').length - 1
    assert.ok(kept > 0 && kept < 20_000, `kept ${kept} lines`)
    assert.equal(secondLogs, seq(20_000 - kept + 1, 20_000))
    t.diagnostic(`with store-max-bytes=64k the store kept the last ${kept} of 20000 lines`)
    assert.equal(await logs(first), seq(1, 20_000), 'an earlier container keeps what it had')
  })

  // The plugin has host networking, so a server on the host's loopback is its backend. It is down
  // through the upgrade: what the container wrote waits on the plugin's disk for the new version.
  test('a container whose sink is down exits with its lines still undelivered', async () => {
    backend = await TestHttpServer.start({ policy: () => ({ status: 503, body: 'down for the upgrade' }) })
    await runSeq(20_000, ['sink=http', `http-url=${backend.url()}`, 'http-format=raw'])
    assert.equal(rawDelivered(backend).size, 0)
  })

  test('docker plugin upgrade to a rebuilt version keeps the stored logs and the settings', async (t) => {
    await publish('2')
    const id = await inspect('{{.Id}}')
    await dockerOk(['plugin', 'disable', alias])
    // The new tag differs from the installed reference, which the CLI asks about unless told.
    await timed('docker plugin upgrade', t, ['plugin', 'upgrade', '--grant-all-permissions', '--skip-remote-check', alias, `${repo}:2`])
    await enable(t)
    assert.equal(await inspect('{{.PluginReference}}'), `${repo}:2`)
    assert.equal(await inspect('{{.Id}}'), id)
    assert.match(await inspect('{{json .Settings.Env}}'), /"LOGRELAY_STORE_MAX_BYTES=64k"/)
    assert.equal(await logs(first), seq(1, 20_000))
    assert.equal(await logs(second), secondLogs)
    const third = await runSeq(10)
    assert.equal(await logs(third), seq(1, 10))
  })

  test('after the upgrade and the backend\'s return, the sink has every line the container wrote while it was down', async () => {
    const server = backend
    assert.ok(server !== undefined)
    server.policy = () => ({ status: 200 })
    await waitUntil('20000 lines delivered after the upgrade', () => rawDelivered(server).size >= 20_000, 120_000).catch(() => {})
    const delivered = rawDelivered(server)
    const missing = Array.from({ length: 20_000 }, (_, i) => i + 1).filter((n) => !delivered.has(n))
    assert.deepEqual(missing, [])
  })

  test('disables and removes cleanly', async () => {
    await dockerOk(['plugin', 'disable', alias])
    await dockerOk(['plugin', 'rm', alias])
    assert.notEqual((await docker(['plugin', 'inspect', alias])).code, 0)
    const left = (await dockerOk(['plugin', 'ls', '--format', '{{.Name}}'])).toString()
    assert.ok(!left.includes(alias), left)
    assert.ok(!left.includes(repo), left)
  })
})

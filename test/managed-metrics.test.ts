import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, test } from 'node:test'
import { createPlugin, makePluginDir, readPluginConfig } from '../scripts/plugin-dir.js'
import { countingScript, docker, dockerHost, dockerOk, driverArgs, runToEnd } from './helpers/docker.js'
import { dockerdLogFile } from './helpers/dockerd.js'
import { rawDelivered, TestHttpServer } from './helpers/http-server.js'
import { scrape } from './helpers/metrics.js'
import { exec, waitUntil } from './helpers/process.js'

// The managed plugin as operators run it: the metrics settings are declared in config.json, so
// `docker plugin set` takes them; the listener is on the host's network; and the status command
// runs from the plugin's rootfs against its socket.

const alias = `lrmm-${process.pid}-${Date.now().toString(36)}`
let dir: string | undefined
let server: TestHttpServer | undefined

after(async () => {
  await docker(['plugin', 'rm', '--force', alias])
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  await server?.close()
})

// The daemon writes a managed plugin's stdout into its own log, tagged with the plugin's ID.
async function loggedAddress (id: string): Promise<string> {
  let address: string | undefined
  await waitUntil('the managed plugin logs its metrics address', () => {
    const line = fs.readFileSync(dockerdLogFile(dockerHost()), 'utf8').split('\n').find((l) => l.includes(`plugin=${id}`) && l.includes('metrics listening'))
    address = /address\\?":\\?"([^"\\]+)/.exec(line ?? '')?.[1]
    return address !== undefined
  }, 30_000)
  return address as string
}

test('docker plugin set LOGRELAY_METRICS_ADDR serves /metrics on the host, and the rootfs\'s status command reads the plugin\'s socket', async () => {
  dir = await makePluginDir({ from: 'host' })
  await createPlugin(alias, dir)
  await dockerOk(['plugin', 'set', alias, 'LOGRELAY_METRICS_ADDR=127.0.0.1:0', 'LOGRELAY_METRICS_CONTAINER_LABELS=true'])
  await dockerOk(['plugin', 'enable', '--timeout', '0', alias])
  const id = (await dockerOk(['plugin', 'inspect', '--format', '{{.Id}}', alias])).toString().trim()
  const address = await loggedAddress(id)

  server = await TestHttpServer.start()
  const name = await runToEnd(driverArgs(alias, ['sink=http', `http-url=${server.url()}`, 'http-format=raw']), countingScript(1000, ''))
  const backend = server
  await waitUntil('1,000 lines at the server', () => rawDelivered(backend).size >= 1000)
  await waitUntil('/metrics counts them for the container', async () => (await scrape(address)).value('logrelay_sink_delivered_records_total', { sink: 'http', container: name }) === 1000, 30_000, 200)

  const config = readPluginConfig()
  const rootfs = path.join(path.dirname(dockerHost().replace(/^unix:\/\//, '')), 'data', 'plugins', id, 'rootfs')
  const socket = `/run/docker/plugins/${id}/${config.socket}`
  assert.ok(fs.existsSync(socket), `the managed plugin's socket is at ${socket}`)
  const status = await exec(path.join(rootfs, 'usr/local/bin/node'), [path.join(rootfs, config.workdir, 'dist/src/status.js'), '--socket', socket])
  assert.equal(status.code, 0, status.stderr.toString())
  assert.match(status.stdout.toString(), /^SINK\s+CONTAINER\s+HANDED\s+DELIVERED\s+RETRIED\s+DROPPED$/m)
  assert.match(status.stdout.toString(), new RegExp(`^http\\s+${name}\\s+1000\\s+1000\\s+0\\s+0$`, 'm'))
})

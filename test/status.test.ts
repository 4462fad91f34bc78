import assert from 'node:assert/strict'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { after, test } from 'node:test'
import { countingScript, dockerOk, driverArgs, runToEnd, TEST_IMAGE, uniqueName } from './helpers/docker.js'
import { rawDelivered } from './helpers/http-server.js'
import { exec, waitUntil } from './helpers/process.js'
import { Started } from './helpers/started.js'

// The status view: GET /logrelay/status on the plugin's own socket, and `npm run status`, which
// prints it, run as an operator would against a plugin logging real containers.

const STATUS = fileURLToPath(new URL('../src/status.js', import.meta.url))
const started = new Started()
after(async () => await started.cleanup())

interface Status {
  containers: { id: string, name: string, streams: number, sinks: { sink: string, backlogRecords: number, backlogBytes: number, oldestAgeSeconds: number | null, lastError: { reason: string, at: string } | null }[] }[]
  sinks: { sink: string, handedRecords: number, deliveredRecords: number }[]
}

async function status (socket: string, json: boolean): Promise<string> {
  const run = await exec(process.execPath, [STATUS, '--socket', socket, ...(json ? ['--json'] : [])])
  assert.equal(run.code, 0, run.stderr.toString())
  return run.stdout.toString()
}

test('lists every active and backlogged container with its sinks, backlog and last error, as JSON and as a table', async (t) => {
  const p = await started.plugin()
  assert.equal(fs.statSync(p.socket).mode & 0o777, 0o600, 'the socket is root\'s alone')
  let down = true
  const server = await started.server(() => down ? { status: 503, body: 'down for maintenance' } : { status: 200 })
  const stopped = await runToEnd(driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw']), countingScript(100, ''))
  const active = uniqueName('st-active')
  await dockerOk(['run', '-d', '--name', active, '--network', 'none', ...driverArgs(p.name), TEST_IMAGE, 'sh', '-c', 'echo up; sleep 600'])
  let answer: Status | undefined
  await waitUntil('both containers and the 503 in the status', async () => {
    answer = JSON.parse(await status(p.socket, true)) as Status
    return answer.containers.length === 2 && answer.containers.some((c) => c.sinks[0]?.lastError !== null && c.sinks[0]?.lastError !== undefined)
  }, 30_000, 200)
  const byName = new Map(answer?.containers.map((c) => [c.name, c]))
  const backlogged = byName.get(stopped)
  assert.equal(backlogged?.streams, 0)
  assert.equal(backlogged?.sinks.length, 1)
  assert.equal(backlogged?.sinks[0]?.sink, 'http')
  assert.equal(backlogged?.sinks[0]?.backlogRecords, 100)
  assert.ok((backlogged?.sinks[0]?.backlogBytes ?? 0) > 0)
  assert.ok((backlogged?.sinks[0]?.oldestAgeSeconds ?? -1) >= 0)
  assert.equal(backlogged?.sinks[0]?.lastError?.reason, 'HTTP 503: down for maintenance')
  assert.deepEqual(byName.get(active)?.sinks, [])
  assert.equal(byName.get(active)?.streams, 1)
  assert.equal(answer?.sinks[0]?.handedRecords, 100)

  const printed = await status(p.socket, false)
  t.diagnostic(printed)
  const row = printed.split('\n').find((l) => l.startsWith(stopped))
  assert.match(row ?? '', new RegExp(`^${stopped}\\s+[0-9a-f]{12}\\s+0\\s+http\\s+100\\s+\\S+ \\S+\\s+\\S+ s\\s+\\S+Z HTTP 503: down for maintenance$`), printed)
  assert.match(printed, new RegExp(`^${active}\\s+[0-9a-f]{12}\\s+1\\s+-`, 'm'))
  assert.match(printed, /^SINK\s+CONTAINER\s+HANDED\s+DELIVERED\s+RETRIED\s+DROPPED\nhttp\s+\(all\)\s+100\s+0\s+\d+\s+0$/m)

  down = false
  await waitUntil('the backlog delivered', () => rawDelivered(server).size === 100)
  await waitUntil('the stopped container leaves the status', async () => !(await status(p.socket, false)).includes(stopped), 30_000, 200)
  await dockerOk(['rm', '-f', active])
  await waitUntil('no container left', async () => (await status(p.socket, false)).includes('no container is being logged or has lines left to deliver'), 30_000, 200)
})

test('says what is wrong when no plugin answers', async () => {
  const run = await exec(process.execPath, [STATUS, '--socket', '/run/docker/plugins/logrelay-no-such.sock'])
  assert.equal(run.code, 1)
  assert.match(run.stderr.toString(), /^logrelay status: connect ENOENT \/run\/docker\/plugins\/logrelay-no-such.sock/)
})

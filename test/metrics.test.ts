import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { countingScript, docker, dockerOk, driverArgs, runToEnd, TEST_IMAGE, uniqueName } from './helpers/docker.js'
import { rawDelivered, type Answer, type TestHttpServer } from './helpers/http-server.js'
import { get, listeningPorts, metricsAddress, scrape, type Scrape } from './helpers/metrics.js'
import type { PluginProcess } from './helpers/plugin.js'
import { waitUntil } from './helpers/process.js'
import { Started } from './helpers/started.js'

// /metrics through the real path: containers on the private dockerd log through the plugin to
// real HTTP servers, and the numbers scraped with a real HTTP client are checked against the
// workload, line by line: what was delivered, what a 400 dropped and why, and how the backlog
// grows and ages during an outage and empties after it.

const started = new Started()
after(async () => await started.cleanup())

const plugin = async (settings?: NodeJS.ProcessEnv): Promise<PluginProcess> => await started.plugin(settings)
const serve = async (policy?: (n: number) => Answer): Promise<TestHttpServer> => await started.server(policy)

function httpArgs (p: PluginProcess, server: TestHttpServer, opts: readonly string[] = []): string[] {
  return driverArgs(p.name, ['sink=http', `http-url=${server.url()}`, 'http-format=raw', ...opts])
}

// Bytes of the lines 1..count as decimal numbers, without their newlines.
function digitBytes (count: number): number {
  let bytes = 0
  for (let i = 1; i <= count; i++) bytes += String(i).length
  return bytes
}

// Scrapes until `done` holds: the engine counts an outcome after the server has answered.
async function scrapeUntil (address: string, what: string, done: (s: Scrape) => boolean, timeoutMs = 60_000): Promise<Scrape> {
  let last: Scrape | undefined
  await waitUntil(what, async () => {
    last = await scrape(address)
    return done(last)
  }, timeoutMs, 200).catch((err: unknown) => {
    const shown = last?.samples.filter((s) => s.name.startsWith('logrelay_sink')).map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).join('\n')
    throw new Error(`${(err as Error).message}; last scrape:\n${shown ?? '(none)'}`)
  })
  return last as Scrape
}

describe('metrics: the numbers of a known workload', () => {
  test('10,000 lines delivered: handed, delivered, bytes, requests and FIFO frames all add up, nothing dropped or left behind', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: '127.0.0.1:0' })
    const address = await metricsAddress(p)
    const server = await serve()
    await runToEnd(httpArgs(p, server), countingScript(10_000, ''))
    await waitUntil('10,000 lines at the server', () => rawDelivered(server).size >= 10_000)
    const sink = { sink: 'http' }
    const s = await scrapeUntil(address, '10,000 delivered', (m) => m.value('logrelay_sink_delivered_records_total', sink) >= 10_000)
    assert.equal(rawDelivered(server).size, 10_000)
    assert.equal(s.value('logrelay_sink_handed_records_total', sink), 10_000)
    assert.equal(s.value('logrelay_sink_delivered_records_total', sink), 10_000)
    assert.equal(s.value('logrelay_sink_handed_bytes_total', sink), digitBytes(10_000))
    assert.equal(s.value('logrelay_sink_delivered_bytes_total', sink), digitBytes(10_000))
    assert.equal(s.value('logrelay_sink_dropped_records_total', sink), 0)
    assert.equal(s.value('logrelay_sink_retried_records_total', sink), 0)
    assert.equal(s.value('logrelay_sink_backend_errors_total', sink), 0)
    assert.equal(s.value('logrelay_sink_backlog_records', sink), 0)
    assert.equal(s.value('logrelay_sink_backlog_bytes', sink), 0)
    assert.equal(s.value('logrelay_sink_backlog_oldest_age_seconds', sink), 0)
    assert.equal(s.value('logrelay_sink_batch_records_sum', sink), 10_000)
    assert.equal(s.value('logrelay_sink_batch_records_count', sink), server.requests.length)
    assert.equal(s.value('logrelay_sink_request_duration_seconds_count', sink), server.requests.length)
    assert.equal(s.value('logrelay_fifo_frames_total'), 10_000)
    assert.ok(s.value('logrelay_fifo_read_bytes_total') > digitBytes(10_000), 'the frames carry the lines and their metadata')
    assert.equal(s.value('logrelay_fifo_corrupt_regions_total'), 0)
    assert.ok(s.value('logrelay_store_bytes') > digitBytes(10_000), 'the store holds the lines')
    assert.equal(s.value('logrelay_active_streams'), 0, 'the container has exited')
    assert.equal(s.value('logrelay_read_logs_in_progress'), 0)
    assert.ok(s.value('process_cpu_seconds_total') > 0, 'the Node process metrics are there')
    // Sink metrics carry no container label by default.
    for (const sample of s.matching('logrelay_sink_delivered_records_total')) assert.deepEqual(Object.keys(sample.labels), ['sink'])
  })

  test('a batch refused with 400 is counted as dropped, with its reason, for its container when container labels are on', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: '127.0.0.1:0', LOGRELAY_METRICS_CONTAINER_LABELS: 'true' })
    const address = await metricsAddress(p)
    const server = await serve((n) => n === 2 ? { status: 400, body: '{"error":"bad tenant"}' } : { status: 200 })
    const name = uniqueName('m400')
    await runToEnd(httpArgs(p, server, ['http-batch-max-records=500']), countingScript(2000, ''), name)
    await waitUntil('the refused request', () => server.requests.length >= 2)
    const refused = server.requests[1]?.body.toString('latin1').split('\n').filter((l) => l !== '').length ?? 0
    assert.ok(refused > 0, 'the second request carried lines')
    await waitUntil('the rest delivered', () => rawDelivered(server).size >= 2000 - refused)
    const labels = { sink: 'http', container: name }
    const s = await scrapeUntil(address, 'the refused batch counted', (m) => m.value('logrelay_sink_delivered_records_total', labels) + m.value('logrelay_sink_dropped_records_total', labels) >= 2000)
    assert.equal(s.value('logrelay_sink_dropped_records_total', { ...labels, reason: 'refused' }), refused)
    assert.equal(s.value('logrelay_sink_dropped_records_total', labels), refused, 'no other reason')
    assert.equal(s.value('logrelay_sink_backend_errors_total', { ...labels, class: 'refused' }), 1)
    assert.equal(s.value('logrelay_sink_delivered_records_total', labels), 2000 - refused)
    assert.equal(s.value('logrelay_sink_handed_records_total', labels), 2000)
    assert.match(p.output, /"reason":"HTTP 400: \{\\"error\\":\\"bad tenant\\"\}"/, 'the log has the backend\'s words')
  })

  test('during a backend outage the backlog grows and ages; after it, it is delivered and back to 0', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: '127.0.0.1:0' })
    const address = await metricsAddress(p)
    let down = true
    const server = await serve(() => down ? { status: 503, body: 'down for maintenance' } : { status: 200 })
    const lines = 60
    const name = uniqueName('mout')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...httpArgs(p, server, ['http-batch-timeout-ms=100']), TEST_IMAGE,
      'sh', '-c', `i=0; while [ $i -lt ${lines} ]; do i=$((i+1)); echo $i; sleep 0.1; done`])
    const sink = { sink: 'http' }
    const first = await scrapeUntil(address, 'a backlog', (m) => m.value('logrelay_sink_backlog_records', sink) > 0 && m.value('logrelay_sink_backlog_oldest_age_seconds', sink) > 0)
    await sleep(2000)
    const second = await scrape(address)
    assert.ok(second.value('logrelay_sink_backlog_records', sink) > first.value('logrelay_sink_backlog_records', sink), 'the backlog grows while the container writes')
    const aged = second.value('logrelay_sink_backlog_oldest_age_seconds', sink) - first.value('logrelay_sink_backlog_oldest_age_seconds', sink)
    assert.ok(aged >= 1.5, `the oldest record aged ${aged} s in 2 s`)
    assert.ok(second.value('logrelay_sink_backlog_bytes', sink) > 0)
    assert.ok(second.value('logrelay_sink_backend_errors_total', { ...sink, class: 'transient' }) > 0)
    assert.ok(second.value('logrelay_sink_retried_records_total', { ...sink, class: 'transient' }) > 0)
    assert.equal(second.value('logrelay_sink_delivered_records_total', sink), 0)
    assert.ok(second.value('logrelay_active_streams') >= 1, 'the container is still writing')
    assert.equal((await docker(['wait', name], 60_000)).code, 0)
    down = false
    const s = await scrapeUntil(address, 'the backlog delivered', (m) => m.value('logrelay_sink_backlog_records', sink) === 0 && m.value('logrelay_sink_delivered_records_total', sink) === lines)
    assert.equal(s.value('logrelay_sink_backlog_bytes', sink), 0)
    assert.equal(s.value('logrelay_sink_backlog_oldest_age_seconds', sink), 0)
    assert.equal(s.value('logrelay_sink_dropped_records_total', sink), 0)
    assert.equal(rawDelivered(server).size, lines)
  })
})

describe('/healthz', () => {
  test('200 while sinks keep up; 503 naming the stuck sink and container once its oldest line is past LOGRELAY_HEALTH_MAX_BACKLOG_AGE; 200 again after; 503 without the socket', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: '127.0.0.1:0', LOGRELAY_HEALTH_MAX_BACKLOG_AGE: '2s' })
    const address = await metricsAddress(p)
    const healthz = async (): Promise<{ status: number, body: string }> => {
      const { status, type, body } = await get(`http://${address}/healthz`)
      assert.equal(type, 'text/plain; charset=utf-8')
      return { status, body }
    }
    assert.deepEqual(await healthz(), { status: 200, body: 'ok\n' })
    let down = true
    const server = await serve(() => down ? { status: 503, body: 'down for maintenance' } : { status: 200 })
    const name = await runToEnd(httpArgs(p, server), countingScript(100, ''))
    let answer = await healthz()
    await waitUntil('/healthz says the sink is stuck', async () => (answer = await healthz()).status === 503, 30_000, 200)
    assert.match(answer.body, new RegExp(`^sink http of container ${name} \\([0-9a-f]{12}\\) is stuck: its oldest undelivered line is \\d+ s old, past LOGRELAY_HEALTH_MAX_BACKLOG_AGE \\(2 s\\), with 100 lines waiting; last error: HTTP 503: down for maintenance\n$`))
    down = false
    await waitUntil('/healthz healthy again', async () => (answer = await healthz()).status === 200, 30_000, 200)
    assert.equal(rawDelivered(server).size, 100)
    fs.rmSync(p.socket)
    assert.deepEqual(await healthz(), { status: 503, body: 'the plugin is not serving its socket: the daemon cannot reach it\n' })
  })
})

describe('metrics: the listener', () => {
  test('is off by default: the plugin listens on no TCP port', async () => {
    const p = await plugin()
    const server = await serve()
    await runToEnd(httpArgs(p, server), 'echo one')
    assert.deepEqual(listeningPorts(p.pid as number), [])
    assert.doesNotMatch(p.output, /metrics listening/)
  })

  test('refuses a non-loopback address unless LOGRELAY_METRICS_ALLOW_REMOTE=true, and says so in docker run', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: '0.0.0.0:9464' })
    const run = await docker(['run', '--rm', '--network', 'none', '--log-driver', p.name, TEST_IMAGE, 'true'])
    assert.notEqual(run.code, 0)
    assert.match(run.stderr, /invalid plugin setting LOGRELAY_METRICS_ADDR="0.0.0.0:9464" \(0.0.0.0 is not a loopback address\).*LOGRELAY_METRICS_ALLOW_REMOTE=true/)
    assert.deepEqual(listeningPorts(p.pid as number), [])
  })

  test('a bad address is a clear error at start', async () => {
    const p = await plugin({ LOGRELAY_METRICS_ADDR: 'localhost:99999' })
    const run = await docker(['run', '--rm', '--network', 'none', '--log-driver', p.name, TEST_IMAGE, 'true'])
    assert.match(run.stderr, /invalid plugin setting LOGRELAY_METRICS_ADDR="localhost:99999" \(the port is past 65535\): expected a port/)
    assert.match(p.output, /cannot log any container until this is fixed/)
  })

  test('a busy port is reported with LOGRELAY_ERR_METRICS_LISTEN, and the plugin logs containers all the same', async () => {
    const busy = net.createServer()
    busy.listen(0, '127.0.0.1')
    await once(busy, 'listening')
    try {
      const port = (busy.address() as net.AddressInfo).port
      const p = await plugin({ LOGRELAY_METRICS_ADDR: String(port) })
      await waitUntil('the listen error logged', () => p.output.includes('LOGRELAY_ERR_METRICS_LISTEN'), 20_000)
      assert.match(p.output, new RegExp(`cannot serve metrics on 127.0.0.1:${port} \\(LOGRELAY_METRICS_ADDR\\): .*EADDRINUSE`))
      const name = await runToEnd(driverArgs(p.name), 'echo still-logged')
      assert.equal((await dockerOk(['logs', name])).toString(), 'still-logged\n')
    } finally {
      busy.close()
    }
  })
})

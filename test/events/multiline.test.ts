import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { docker, dockerOk, driverArgs, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { TestHttpServer } from '../helpers/http-server.js'
import { PluginProcess } from '../helpers/plugin.js'
import { waitUntil } from '../helpers/process.js'
import { makeTrace, RUNTIMES, type Runtime } from '../helpers/traces.js'

// Multiline grouping end to end: real traces printed by the runtimes on this machine, replayed
// by a container through the private dockerd, grouped by the plugin, and counted at a real HTTP
// server, one record per event.

const plugin = new PluginProcess()
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-multiline-test-'))
const servers: TestHttpServer[] = []
const traces = new Map<Runtime, string>()

before(async () => {
  await plugin.start()
  for (const runtime of RUNTIMES) {
    const trace = await makeTrace(runtime, tmp)
    traces.set(runtime, trace)
    fs.writeFileSync(path.join(tmp, `${runtime}.txt`), `${trace}\n`)
  }
})
after(async () => {
  await plugin.cleanup()
  await Promise.all(servers.map(async (s) => await s.close()))
  fs.rmSync(tmp, { recursive: true, force: true })
})

interface EventRecord {
  message: string
  stream: string
  event: { sequence: number, lines: number }
  arrived: number
}

async function serve (): Promise<TestHttpServer> {
  const server = await TestHttpServer.start()
  servers.push(server)
  return server
}

function records (server: TestHttpServer): EventRecord[] {
  return server.requests.flatMap((r) => r.body.toString('utf8').split('\n').filter((l) => l !== '')
    .map((l) => ({ ...(JSON.parse(l) as EventRecord), arrived: r.at })))
}

function containerArgs (server: TestHttpServer, opts: readonly string[]): string[] {
  return ['--network', 'none', '-v', `${tmp}:/traces:ro`,
    ...driverArgs(plugin.name, ['sink=http', `http-url=${server.url()}`, 'http-batch-timeout-ms=50', ...opts]), TEST_IMAGE, 'sh', '-c']
}

const traceOf = (runtime: Runtime): string => traces.get(runtime) as string

// Each of `count` java traces on each stream: its header, a frame and "... N more".
function interleavedScript (count: number): string {
  return `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); ` +
    'echo "java.lang.IllegalStateException: out $i"; echo "java.lang.IllegalStateException: err $i" >&2; ' +
    'printf \'\\tat Out.f%d(Out.java:%d)\\n\' $i $i; printf \'\\tat Err.f%d(Err.java:%d)\\n\' $i $i >&2; ' +
    'printf \'\\t... %d more\\n\' $i; printf \'\\t... %d more\\n\' $i >&2; done'
}

function interleavedEvent (stream: 'out' | 'err', i: number): string {
  const frame = stream === 'out' ? `\tat Out.f${i}(Out.java:${i})` : `\tat Err.f${i}(Err.java:${i})`
  return `java.lang.IllegalStateException: ${stream} ${i}\n${frame}\n\t... ${i} more`
}

describe('multiline grouping through dockerd', () => {
  test('an invalid preset, pattern, bound or wait fails docker run naming the option and what it accepts', async () => {
    const server = await serve()
    const cases: [string[], RegExp][] = [
      [['multiline=ruby'], /invalid log-opt multiline="ruby" \("ruby" is not a preset\): expected none, or a comma-separated list of java, python, go, node/],
      [['multiline-pattern=(unclosed'], /invalid log-opt multiline-pattern="\(unclosed" \(not a valid regular expression\): expected a regular expression/],
      [['multiline=java', 'multiline-max-lines=1'], /invalid log-opt multiline-max-lines="1" \(out of range\): expected a whole number from 2 to 1000000/],
      [['multiline=java', 'multiline-max-bytes=12q'], /invalid log-opt multiline-max-bytes="12q" \(not a size\)/],
      [['multiline=java', 'multiline-flush-ms=soon'], /invalid log-opt multiline-flush-ms="soon" \(not a whole number\)/],
      [['multiline=java', 'multiline-pattern=^\\d'], /invalid log-opts multiline=java and multiline-pattern are both set: expected one of them/],
    ]
    for (const [opts, message] of cases) {
      const run = await docker(['run', '--rm', ...containerArgs(server, opts), 'echo never'])
      assert.notEqual(run.code, 0, `docker run with ${opts.join(' ')} must fail`)
      assert.match(run.stderr, message)
    }
    assert.equal(server.requests.length, 0)
  })

  test('java, python, node and go traces each arrive as one record with every line in order; docker logs keeps the lines', async () => {
    const server = await serve()
    const name = uniqueName('ml-traces')
    const script = RUNTIMES.map((r) => `cat /traces/${r}.txt >&2; echo after-${r} >&2`).join('; ')
    await dockerOk(['run', '--name', name, ...containerArgs(server, ['multiline=java,python,node,go']), script])
    const expected = RUNTIMES.flatMap((r) => [traceOf(r), `after-${r}`])
    await waitUntil(`${expected.length} records`, () => records(server).length >= expected.length)
    const got = records(server)
    assert.deepEqual(got.map((r) => r.message), expected)
    assert.deepEqual(got.map((r) => r.event.lines), expected.map((e) => e.split('\n').length))
    assert.ok(got.every((r) => r.stream === 'stderr'))
    const logs = await docker(['logs', name])
    assert.equal(logs.stderr, `${expected.join('\n')}\n`, 'docker logs gives back every line as written')
  })

  test('an event with no next line is sent after multiline-flush-ms, while the container is still quiet', async () => {
    const server = await serve()
    const name = uniqueName('ml-idle')
    await dockerOk(['run', '-d', '--name', name, ...containerArgs(server, ['multiline=java', 'multiline-flush-ms=300']), 'cat /traces/java.txt >&2; sleep 8; echo late >&2'])
    await waitUntil('the trace, cut by the idle flush', () => records(server).length >= 1, 6000, 50)
    assert.deepEqual(records(server).map((r) => r.message), [traceOf('java')])
    await waitUntil('the late line', () => records(server).length >= 2, 30_000)
    assert.equal(records(server)[1]?.message, 'late')
    assert.equal((await docker(['wait', name])).code, 0)
  })

  test('stdout and stderr written at once never mix: each stream\'s events are whole and in order', async () => {
    const server = await serve()
    const count = 200
    await dockerOk(['run', '--name', uniqueName('ml-streams'), ...containerArgs(server, ['multiline=java']), interleavedScript(count)])
    await waitUntil(`${count * 2} events`, () => records(server).length >= count * 2)
    const got = records(server)
    const range = Array.from({ length: count }, (_, i) => i + 1)
    assert.deepEqual(got.filter((r) => r.stream === 'stdout').map((r) => r.message), range.map((i) => interleavedEvent('out', i)))
    assert.deepEqual(got.filter((r) => r.stream === 'stderr').map((r) => r.message), range.map((i) => interleavedEvent('err', i)))
  })

  test('a 10,000-line trace is split at multiline-max-lines, every line kept in order', async () => {
    const server = await serve()
    const script = 'echo java.lang.StackOverflowError; i=1; while [ $i -lt 10000 ]; do printf \'\\tat Deep.f%d(Deep.java:%d)\\n\' $i $i; i=$((i+1)); done; echo after'
    await dockerOk(['run', '--name', uniqueName('ml-long'), ...containerArgs(server, ['multiline=java']), script])
    await waitUntil('11 records', () => records(server).length >= 11)
    const got = records(server)
    assert.deepEqual(got.map((r) => r.event.lines), [...Array(10).fill(1000), 1])
    const lines = got.slice(0, 10).flatMap((r) => r.message.split('\n'))
    assert.deepEqual(lines, ['java.lang.StackOverflowError', ...Array.from({ length: 9999 }, (_, i) => `\tat Deep.f${i + 1}(Deep.java:${i + 1})`)])
    assert.equal(got[10]?.message, 'after')
  })

  test('a plugin restart in the middle of interleaved traces: every event arrives whole, none lost', { timeout: 300_000 }, async (t) => {
    const server = await serve()
    const count = 3000
    const name = uniqueName('ml-restart')
    await dockerOk(['run', '-d', '--name', name, ...containerArgs(server, ['multiline=java', 'http-batch-max-records=100']), interleavedScript(count)])
    await waitUntil('a third of the events', () => records(server).length >= count * 2 / 3, 120_000, 20)
    t.diagnostic(`restart with ${records(server).length} of ${count * 2} events delivered`)
    await plugin.restart()
    assert.equal((await docker(['wait', name], 120_000)).code, 0)
    const expected = new Set(Array.from({ length: count }, (_, i) => [interleavedEvent('out', i + 1), interleavedEvent('err', i + 1)]).flat())
    await waitUntil('every event', () => new Set(records(server).map((r) => r.message)).size >= expected.size, 120_000)
    const got = records(server).map((r) => r.message)
    const fragments = got.filter((m) => !expected.has(m))
    assert.deepEqual(fragments, [], 'no event arrives cut in pieces or mixed')
    t.diagnostic(`${got.length - expected.size} duplicates (at least once)`)
  })
})

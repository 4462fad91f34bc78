import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test, type TestContext } from 'node:test'
import { encodeBody } from '../../sinks/http.js'
import { timeHalves, type LogRecord } from '../../src/record.js'
import { countingScript, docker, dockerOk, driverArgs, runToEnd, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { TestHttpServer, type Answer, type ReceivedRequest } from '../helpers/http-server.js'
import { PluginProcess } from '../helpers/plugin.js'
import { exec, waitUntil } from '../helpers/process.js'
import { referenceRecordJson as recordJson } from '../helpers/record-json.js'
import { containerMeta } from '../helpers/records.js'

// The HTTP sink end to end: real containers through the private dockerd, the plugin as its own
// process, and real HTTP servers in this process that count what arrives and inject faults.

const HOST_NAME = 'logrelay-http-test-host'
const SECRET = 'Bearer hunter2-0123456789'
const plugin = new PluginProcess({ LOGRELAY_HOST_NAME: HOST_NAME })
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-http-test-'))
const servers: TestHttpServer[] = []

before(async () => await plugin.start())
after(async () => {
  await plugin.cleanup()
  await Promise.all(servers.map(async (s) => await s.close()))
  fs.rmSync(tmp, { recursive: true, force: true })
})

async function serve (options: Parameters<typeof TestHttpServer.start>[0] = {}): Promise<TestHttpServer> {
  const server = await TestHttpServer.start(options)
  servers.push(server)
  return server
}

interface JsonRecord {
  '@timestamp': string
  message: string
  stream: string
  container: { id: string, name: string, image: { name: string, id: string }, labels: Record<string, string> }
  host: { name: string }
  event: { sequence: number }
}

function ndjson (body: Buffer): JsonRecord[] {
  const text = body.toString('utf8')
  assert.ok(text.endsWith('\n'), 'an ndjson body ends with a newline')
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as JsonRecord)
}

function expectedLines (count: number, prefix = 'line'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`)
}

async function runContainer (url: string, script: string, opts: readonly string[] = [], name = uniqueName('http')): Promise<string> {
  return await runToEnd(driverArgs(plugin.name, ['sink=http', `http-url=${url}`, ...opts]), script, name)
}

// A batch the server read is processed, whether or not its answer reached the plugin: a stall
// or a reset after the body is exactly how duplicates arise under at-least-once.
function processed (answer: Answer): boolean {
  return answer === 'stall' || answer === 'reset' || (typeof answer === 'object' && answer.status >= 200 && answer.status < 300)
}

function messagesOf (requests: readonly ReceivedRequest[], keep: (r: ReceivedRequest) => boolean = (r) => processed(r.answer)): string[] {
  return requests.filter(keep).flatMap((r) => ndjson(r.body).map((rec) => rec.message))
}

// Every expected line arrived, the first arrival of each is in order, and whatever arrived more
// than once is reported rather than hidden.
function assertDeliveredInOrder (t: TestContext, arrived: readonly string[], expected: readonly string[]): number {
  const seen = new Set<string>()
  const firsts: string[] = []
  for (const message of arrived) {
    if (!seen.has(message)) firsts.push(message)
    seen.add(message)
  }
  assert.deepEqual(firsts, expected)
  const duplicates = arrived.length - firsts.length
  t.diagnostic(`${expected.length} lines delivered, ${duplicates} duplicates from retries`)
  return duplicates
}

function uniqueCount (messages: readonly string[]): number {
  return new Set(messages).size
}

describe('http sink: delivery', () => {
  test('10,000 lines arrive once each, in order, as ndjson', async (t) => {
    const server = await serve()
    await runContainer(server.url('/bulk?tenant=a'), countingScript(10_000, 'line'))
    await waitUntil('10,000 lines at the server', () => uniqueCount(messagesOf(server.requests)) >= 10_000)
    const arrived = messagesOf(server.requests)
    assert.equal(assertDeliveredInOrder(t, arrived, expectedLines(10_000)), 0)
    for (const r of server.requests) {
      assert.equal(r.method, 'POST')
      assert.equal(r.url, '/bulk?tenant=a')
      assert.equal(r.headers['content-type'], 'application/x-ndjson')
    }
    t.diagnostic(`${server.requests.length} requests`)
  })

  test('writes the shared record shape: nanosecond @timestamp, stream, container, host, sequence', async () => {
    const server = await serve()
    const name = await runContainer(server.url(), 'echo to-stdout; echo to-stderr >&2; printf \'h\\303\\251llo \\377\\n\'')
    await waitUntil('3 records', () => messagesOf(server.requests).length >= 3)
    const records = server.requests.flatMap((r) => ndjson(r.body))
    const inspect = JSON.parse((await dockerOk(['inspect', name])).toString()) as { Id: string, Image: string }[]
    const id = inspect[0]?.Id
    const byMessage = new Map(records.map((r) => [r.message, r]))
    assert.equal(byMessage.get('to-stdout')?.stream, 'stdout')
    assert.equal(byMessage.get('to-stderr')?.stream, 'stderr')
    // Invalid UTF-8 is written with the replacement character, never dropped.
    assert.ok(byMessage.has('héllo \ufffd'), `records: ${JSON.stringify([...byMessage.keys()])}`)
    for (const r of records) {
      assert.match(r['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/)
      assert.equal(r.container.id, id)
      assert.equal(r.container.name, name)
      assert.equal(r.container.image.name, TEST_IMAGE)
      assert.equal(r.container.image.id, inspect[0]?.Image)
      assert.equal(r.host.name, HOST_NAME)
      assert.equal(typeof r.event.sequence, 'number')
    }
    assert.equal(new Set(records.map((r) => r.event.sequence)).size, records.length, 'sequences are distinct')
  })

  test('gzip bodies decode to the same ndjson', async (t) => {
    const server = await serve()
    await runContainer(server.url(), countingScript(3000, 'gz'), ['http-gzip=true', 'http-batch-max-records=500'])
    await waitUntil('3,000 gzipped lines', () => uniqueCount(messagesOf(server.requests)) >= 3000)
    for (const r of server.requests) assert.equal(r.headers['content-encoding'], 'gzip')
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(3000, 'gz')), 0)
  })

  test('json-array bodies hold one array of records; PUT is used when asked', async () => {
    const server = await serve()
    await runContainer(server.url(), countingScript(100, 'arr'), ['http-format=json-array', 'http-method=PUT'])
    await waitUntil('100 lines in arrays', () => server.requests.reduce((n, r) => n + (JSON.parse(r.body.toString()) as unknown[]).length, 0) >= 100)
    const messages = server.requests.flatMap((r) => {
      assert.equal(r.method, 'PUT')
      assert.equal(r.headers['content-type'], 'application/json')
      return (JSON.parse(r.body.toString()) as JsonRecord[]).map((rec) => rec.message)
    })
    assert.deepEqual(messages, expectedLines(100, 'arr'))
  })

  test('raw bodies carry the lines\' bytes alone, invalid UTF-8 included', async () => {
    const server = await serve()
    await runContainer(server.url(), 'echo one; printf \'\\377\\376 two\\n\'; echo three', ['http-format=raw'])
    await waitUntil('3 raw lines', () => Buffer.concat(server.requests.map((r) => r.body)).toString('latin1').split('\n').length >= 4)
    assert.deepEqual(Buffer.concat(server.requests.map((r) => r.body)), Buffer.concat([Buffer.from('one\n'), Buffer.from([0xff, 0xfe]), Buffer.from(' two\nthree\n')]))
    assert.equal(server.requests[0]?.headers['content-type'], 'text/plain; charset=utf-8')
  })

  test('sends headers from http-headers and http-headers-file, and never logs the file\'s secret', async () => {
    const server = await serve()
    const file = path.join(tmp, 'headers')
    fs.writeFileSync(file, `# credentials for the collector\nAuthorization: ${SECRET}\n\nX-Scope: a, b, c\r\n`)
    await runContainer(server.url(), 'echo with-headers', ['http-headers=X-Tenant: blue,X-Env: test,Content-Type: application/json', `http-headers-file=${file}`])
    await waitUntil('1 request', () => server.requests.length >= 1)
    const headers = server.requests[0]?.headers
    assert.equal(headers?.['authorization'], SECRET)
    assert.equal(headers?.['x-tenant'], 'blue')
    assert.equal(headers?.['x-env'], 'test')
    assert.equal(headers?.['x-scope'], 'a, b, c')
    assert.equal(headers?.['content-type'], 'application/json')
    assert.ok(!plugin.output.includes('hunter2'), 'the secret is not in the plugin output')
  })
})

describe('http sink: faults on the server side', () => {
  const LINES = 2000
  const SMALL_BATCHES = ['http-batch-max-records=200']

  async function runAgainst (t: TestContext, prefix: string, answers: Record<number, Answer>, opts: readonly string[] = []): Promise<TestHttpServer> {
    const server = await serve({ policy: (n) => answers[n] ?? { status: 200 } })
    await runContainer(server.url(), countingScript(LINES, prefix), [...SMALL_BATCHES, ...opts])
    await waitUntil(`${LINES} lines after faults`, () => uniqueCount(messagesOf(server.requests)) >= LINES)
    t.diagnostic(`${server.requests.length} requests, answers: ${server.requests.map((r) => typeof r.answer === 'string' ? r.answer : r.answer.status).join(' ')}`)
    return server
  }

  test('503 twice, then 200: every line delivered, none twice', async (t) => {
    const server = await runAgainst(t, 's503-', { 1: { status: 503, body: 'overloaded' }, 2: { status: 503 }, 4: { status: 502 } })
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(LINES, 's503-')), 0)
    const answered = server.requests.map((r) => r.body.toString())
    assert.equal(answered[0], answered[1], 'a 503 batch is sent again unchanged')
    assert.equal(answered[1], answered[2])
  })

  test('429 with Retry-After: the retry waits at least that long, every line delivered', async (t) => {
    const server = await runAgainst(t, 's429-', { 2: { status: 429, headers: { 'retry-after': '2' } } })
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(LINES, 's429-')), 0)
    const [limited, retried] = [server.requests[1], server.requests[2]]
    assert.ok(limited !== undefined && retried !== undefined)
    assert.deepEqual(retried.body, limited.body)
    assert.ok(retried.at - limited.at >= 1900, `the retry came ${retried.at - limited.at} ms after the 429`)
  })

  test('a server stalling past http-timeout-ms: the batch is retried, every line delivered', async (t) => {
    const server = await runAgainst(t, 'stall-', { 2: 'stall' }, ['http-timeout-ms=1000'])
    const duplicates = assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(LINES, 'stall-'))
    // The stalled batch was processed and then sent again: at-least-once, counted not hidden.
    assert.equal(duplicates, ndjson(server.requests[1]?.body ?? Buffer.alloc(0)).length)
    assert.match(plugin.output, /no complete response within 1000 ms/)
  })

  test('connection resets before and after the body: retried, every line delivered', async (t) => {
    const server = await runAgainst(t, 'reset-', { 2: 'reset', 4: 'reset-early', 5: 'reset' })
    const duplicates = assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(LINES, 'reset-'))
    assert.ok(duplicates > 0, 'a batch reset after the server read it arrives twice')
  })

  test('400: that batch is dropped with a logged reason (secrets scrubbed), the rest delivered once', async (t) => {
    const server = await serve({
      policy: (n, req) => n === 2
        ? { status: 400, body: `{"error":"tenant blue is not allowed","echo":"${String(req.headers['authorization'])}"}` }
        : { status: 200 },
    })
    const file = path.join(tmp, 'headers-400')
    fs.writeFileSync(file, `Authorization: ${SECRET}\n`)
    await runContainer(server.url(), countingScript(LINES, 'bad-'), [...SMALL_BATCHES, `http-headers-file=${file}`])
    const rejected = (): string[] => messagesOf(server.requests, (r) => r.n === 2)
    const delivered = (): string[] => messagesOf(server.requests)
    await waitUntil('all lines answered', () => uniqueCount(delivered()) + rejected().length >= LINES)
    await waitUntil('the drop logged', () => /records dropped/.test(plugin.output) && /HTTP 400/.test(plugin.output))
    assert.ok(rejected().length > 0)
    const expected = expectedLines(LINES, 'bad-').filter((l) => !rejected().includes(l))
    assert.equal(assertDeliveredInOrder(t, delivered(), expected), 0)
    const dropLine = plugin.output.split('\n').find((l) => l.includes('records dropped') && l.includes('HTTP 400')) ?? ''
    assert.match(dropLine, /tenant blue is not allowed/)
    assert.match(dropLine, new RegExp(`"dropped":${rejected().length}\\b`))
    assert.ok(!plugin.output.includes('hunter2'), 'the echoed secret is scrubbed')
    assert.equal(server.requests.filter((r) => r.body.equals(server.requests[1]?.body ?? Buffer.alloc(0))).length, 1, 'the 400 batch is not sent again')
  })

  test('413: a batch too large for the endpoint is sent again in halves; only a line too large by itself is dropped', async (t) => {
    // Bodies over 20 kB are refused, as a gateway's body limit would: 200 records are about 90 kB.
    const LIMIT = 20_000
    const server = await serve({ policy: (_n, req) => Number(req.headers['content-length']) > LIMIT ? { status: 413, body: 'Request Entity Too Large' } : { status: 200 } })
    const huge = `huge-${'x'.repeat(30_000)}`
    await runContainer(server.url(), `${countingScript(LINES / 2, 'big-')}; echo ${huge}; ${countingScript(LINES / 2, 'big2-')}`, SMALL_BATCHES)
    const expected = [...expectedLines(LINES / 2, 'big-'), ...expectedLines(LINES / 2, 'big2-')]
    await waitUntil(`${LINES} lines in small enough bodies`, () => uniqueCount(messagesOf(server.requests)) >= LINES)
    await waitUntil('the huge line\'s drop logged', () => /records dropped/.test(plugin.output) && /HTTP 413/.test(plugin.output))
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expected), 0)
    assert.ok(server.requests.every((r) => r.body.length <= LIMIT || (typeof r.answer === 'object' && r.answer.status === 413)))
    const dropLine = plugin.output.split('\n').find((l) => l.includes('records dropped') && l.includes('HTTP 413')) ?? ''
    assert.match(dropLine, /"dropped":1\b/)
    assert.match(dropLine, /this one line is larger than the endpoint accepts/)
    t.diagnostic(`${server.requests.length} requests, ${server.requests.filter((r) => typeof r.answer === 'object' && r.answer.status === 413).length} answered 413`)
  })

  test('an endpoint that is down does not refuse the container; lines arrive once it is up', async (t) => {
    const port = await freePort()
    await runContainer(`http://127.0.0.1:${port}/late`, countingScript(50, 'late'))
    await waitUntil('a refused connection logged', () => plugin.output.includes(`ECONNREFUSED 127.0.0.1:${port}`))
    const server = await serve({ port })
    await waitUntil('50 lines after the endpoint came up', () => uniqueCount(messagesOf(server.requests)) >= 50)
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(50, 'late')), 0)
  })
})

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

describe('http sink: TLS', () => {
  let ca = ''
  let tls: { key: Buffer, cert: Buffer } = { key: Buffer.alloc(0), cert: Buffer.alloc(0) }

  before(async () => {
    const dir = path.join(tmp, 'tls')
    fs.mkdirSync(dir)
    const ssl = async (args: string[]): Promise<void> => {
      const r = await exec('openssl', args)
      if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr} (the TLS tests need openssl: apt-get install -y openssl)`)
    }
    const p = (f: string): string => path.join(dir, f)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    await ssl(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=logrelay test CA'])
    await ssl(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1'])
    fs.writeFileSync(p('ext'), 'subjectAltName=IP:127.0.0.1\n')
    await ssl(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext')])
    ca = p('ca.pem')
    tls = { key: fs.readFileSync(p('server.key')), cert: fs.readFileSync(p('server.pem')) }
  })

  test('https with http-tls-ca-file delivers', async (t) => {
    const server = await serve({ tls })
    await runContainer(server.url(), countingScript(100, 'tls'), [`http-tls-ca-file=${ca}`])
    await waitUntil('100 lines over TLS', () => uniqueCount(messagesOf(server.requests)) >= 100)
    assert.equal(assertDeliveredInOrder(t, messagesOf(server.requests), expectedLines(100, 'tls')), 0)
  })

  test('an untrusted certificate is retried, never sent in the clear; http-tls-verify=false delivers with a warning', async () => {
    const server = await serve({ tls })
    await runContainer(server.url('/untrusted'), 'echo untrusted', [])
    const tlsRetry = (): boolean => plugin.output.split('\n').some((l) => l.includes('batch will be retried') && /certificate/i.test(l))
    await waitUntil('the TLS failure logged', tlsRetry)
    assert.equal(server.requests.length, 0)
    await runContainer(server.url('/noverify'), 'echo unverified', ['http-tls-verify=false'])
    await waitUntil('1 request', () => server.requests.some((r) => r.url === '/noverify'))
    assert.match(plugin.output, /TLS certificate verification is off/)
  })
})

describe('http sink: options are checked at StartLogging, without network I/O', () => {
  async function refused (opts: readonly string[]): Promise<string> {
    const result = await docker(['run', '--rm', '--network', 'none', ...driverArgs(plugin.name, opts), TEST_IMAGE, 'true'])
    assert.notEqual(result.code, 0, 'docker run should have failed')
    return result.stderr
  }

  test('a missing or bad http-url names the option, the value and what is accepted', async () => {
    assert.match(await refused(['sink=http']), /log-opt http-url is required with sink=http: expected an http:\/\/ or https:\/\/ URL/)
    assert.match(await refused(['sink=http', 'http-url=ftp://example/x']), /invalid log-opt http-url="ftp:\/\/example\/x" \(not http or https\): expected an http:\/\/ or https:\/\/ URL/)
    const withPassword = await refused(['sink=http', 'http-url=https://me:hunter2@127.0.0.1/x'])
    assert.match(withPassword, /invalid log-opt http-url=.*credentials in the URL are not sent/)
    assert.ok(!withPassword.includes('hunter2'))
  })

  test('bad header syntax is refused without echoing values', async () => {
    const noColon = await refused(['sink=http', 'http-url=http://127.0.0.1:9/x', 'http-headers=Authorization Bearer hunter2'])
    assert.match(noColon, /invalid log-opt http-headers \(value not shown\) \(item 1 is not a "Name: value" pair \(no colon\)\): expected comma-separated "Name: value" pairs/)
    assert.ok(!noColon.includes('hunter2'))
    assert.match(await refused(['sink=http', 'http-url=http://127.0.0.1:9/x', 'http-headers=Content-Length: 5']), /header Content-Length \(item 1\) is set by the sink itself/)
    const file = path.join(tmp, 'bad-headers')
    fs.writeFileSync(file, 'X-Ok: fine\nAuthorization hunter2\n')
    const badFile = await refused(['sink=http', 'http-url=http://127.0.0.1:9/x', `http-headers-file=${file}`])
    assert.match(badFile, new RegExp(`invalid log-opt http-headers-file="${file}" \\(line 2 is not a "Name: value" pair \\(no colon\\)\\)`))
    assert.ok(!badFile.includes('hunter2'))
  })

  test('a missing CA file or headers file is named with its path', async () => {
    assert.match(await refused(['sink=http', 'http-url=https://127.0.0.1:9/x', 'http-tls-ca-file=/nonexistent/ca.pem']),
      /cannot read log-opt http-tls-ca-file="\/nonexistent\/ca.pem" \(ENOENT\): expected an absolute path to a PEM file of CA certificates/)
    assert.match(await refused(['sink=http', 'http-url=https://127.0.0.1:9/x', 'http-headers-file=/nonexistent/headers']),
      /cannot read log-opt http-headers-file="\/nonexistent\/headers" \(ENOENT\)/)
    assert.match(await refused(['sink=http', 'http-url=https://127.0.0.1:9/x', 'http-tls-ca-file=ca.pem']),
      /invalid log-opt http-tls-ca-file="ca.pem" \(not an absolute path\): expected an absolute path/)
    const notPem = path.join(tmp, 'not-a-ca.pem')
    fs.writeFileSync(notPem, 'hello')
    assert.match(await refused(['sink=http', 'http-url=https://127.0.0.1:9/x', `http-tls-ca-file=${notPem}`]), /invalid log-opt http-tls-ca-file=.*no PEM certificate/)
  })
})

describe('http sink: bodies', () => {
  const meta = containerMeta({ labels: { team: 'blue' } })
  const lines = [
    Buffer.from('plain ascii'), Buffer.from(''), Buffer.from('quote " backslash \\ tab \t'), Buffer.from([0x1b, 0x5b, 0x31, 0x6d, 0x00]),
    Buffer.from('héllo wörld ✓ 𝄞 😀'), Buffer.from([0xff, 0xfe, 0x20, 0xc3]), Buffer.from('x'.repeat(70_000)), Buffer.from('\u2028 line separator'),
  ]
  const batch: LogRecord[] = Array.from({ length: 300 }, (_, i) => ({
    stream: i % 2 === 0 ? 'stdout' : 'stderr', time: timeHalves(1_795_998_399_333_000_000n + BigInt(i) * 999_999_937n), line: lines[i % lines.length] ?? Buffer.alloc(0),
    complete: true, sequence: i + 1, container: meta,
  }))

  // The bodies are written straight into a Buffer for speed; they must still be exactly the
  // shared record JSON, multi-byte characters, escapes, invalid UTF-8 and buffer growth included.
  test('ndjson and json-array bodies are the shared record JSON, byte for byte', () => {
    assert.equal(encodeBody(batch, 'ndjson').toString('utf8'), batch.map((r) => `${recordJson(r)}\n`).join(''))
    assert.equal(encodeBody(batch, 'json-array').toString('utf8'), `[${batch.map(recordJson).join(',')}]`)
    assert.equal(encodeBody(batch.slice(0, 1), 'json-array').toString('utf8'), `[${recordJson(batch[0] as LogRecord)}]`)
    assert.deepEqual(JSON.parse(encodeBody(batch, 'json-array').toString('utf8')), batch.map((r) => JSON.parse(recordJson(r)) as unknown))
  })

  test('raw bodies are the lines\' bytes, each ended by a newline', () => {
    assert.deepEqual(encodeBody(batch, 'raw'), Buffer.concat(batch.flatMap((r) => [r.line, Buffer.from('\n')])))
  })
})

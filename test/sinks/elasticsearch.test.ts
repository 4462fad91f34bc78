import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client, errors } from '@elastic/elasticsearch'
import { classify, compileIndex } from '../../sinks/elasticsearch.js'
import { countingScript, docker, dockerOk, driverArgs, runToEnd as runContainer, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { PluginProcess } from '../helpers/plugin.js'
import { exec } from '../helpers/process.js'
import { containerMeta } from '../helpers/records.js'
import { interruptServer } from '../services/services.js'

// The Elasticsearch sink through a real dockerd, real containers and the real node the runner
// started: what arrives, where, exactly once, and what is dropped with which reason.

function esUrl (): string {
  const value = process.env['ES_URL']
  if (value === undefined || value === '') assert.fail('ES_URL is not set: run the tests with `npm test`, which starts Elasticsearch')
  return value
}

const es = new Client({ node: esUrl() })
const plugin = new PluginProcess({ LOGRELAY_ES_URL: esUrl() })
const indexesToDelete: string[] = []
const templatesToDelete: string[] = []

before(async () => await plugin.start())
after(async () => {
  await plugin.cleanup()
  // The test node has no _data_stream API (see services.test.ts); its data goes with services:down.
  for (const name of templatesToDelete) {
    await es.indices.deleteDataStream({ name }, { ignore: [404, 405] }).catch(() => undefined)
    await es.indices.deleteIndexTemplate({ name }, { ignore: [400, 404] }).catch(() => undefined)
  }
  if (indexesToDelete.length > 0) await es.indices.delete({ index: indexesToDelete, ignore_unavailable: true }).catch(() => undefined)
  await es.close()
})

function testIndex (prefix: string): string {
  const index = uniqueName(`lrt-${prefix}`)
  indexesToDelete.push(`${index}*`)
  return index
}

function esOpts (index: string, extra: readonly string[] = []): string[] {
  return driverArgs(plugin.name, ['sink=elasticsearch', `es-index=${index}`, ...extra])
}

async function runToEnd (script: string, args: readonly string[], name = uniqueName('es')): Promise<string> {
  return await runContainer(args, script, name, 300_000)
}

async function count (index: string): Promise<number> {
  await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true })
  const result = await es.count({ index, ignore_unavailable: true, allow_no_indices: true })
  return result.count
}

// Delivery is asynchronous to the container: wait for the documents, then check that no more
// come than were written.
async function waitForCount (index: string, expected: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let seen = 0
  while (Date.now() < deadline) {
    try {
      seen = await count(index)
    } catch {
      // The node may still be coming back from an outage.
    }
    if (seen >= expected) break
    await sleep(500)
  }
  await sleep(1000)
  return await count(index)
}

interface Doc {
  '@timestamp': string
  message: string
  stream: string
  container: { id: string, name: string, image: { name: string, id: string }, labels: Record<string, string> }
  tag?: string
  host: { name: string }
  event: { sequence: number }
}

async function allDocs (index: string, size: number): Promise<{ _id: string, _index: string, doc: Doc }[]> {
  const result = await es.search<Doc>({ index, size, sort: [{ '@timestamp': 'asc' }, { 'event.sequence': 'asc' }] })
  return result.hits.hits.map((h) => {
    assert.ok(h._source !== undefined && h._id !== undefined)
    return { _id: h._id, _index: h._index, doc: h._source }
  })
}

describe('the elasticsearch sink', () => {
  test('10,000 numbered lines become 10,000 documents with the record\'s fields, sortable back into order', { timeout: 300_000 }, async () => {
    const index = testIndex('bulk')
    const name = await runToEnd(countingScript(10_000, 'line-'), [
      '--label', 'com.example.team=core',
      ...esOpts(index, ['labels=com.example.team', 'tag={{.Name}}']),
    ])
    assert.equal(await waitForCount(index, 10_000), 10_000)
    const id = (await dockerOk(['inspect', '--format', '{{.Id}}', name])).toString().trim()
    const hits = await allDocs(index, 10_000)
    assert.equal(hits.length, 10_000)
    assert.equal(new Set(hits.map((h) => h._id)).size, 10_000, 'every document has its own _id')
    hits.forEach(({ doc }, i) => {
      assert.equal(doc.message, `line-${i + 1}`)
      if (i > 0) assert.ok(doc.event.sequence > (hits[i - 1]?.doc.event.sequence ?? Infinity), 'event.sequence rises with the lines')
    })
    const first = hits[0]?.doc
    assert.ok(first !== undefined)
    assert.match(first['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/, '@timestamp keeps nanoseconds')
    assert.equal(first.stream, 'stdout')
    assert.equal(first.container.id, id)
    assert.equal(first.container.name, name)
    assert.equal(first.container.image.name, TEST_IMAGE)
    assert.match(first.container.image.id, /^sha256:[0-9a-f]{64}$/)
    assert.deepEqual(first.container.labels, { 'com.example.team': 'core' })
    assert.equal(first.tag, name)
    assert.equal(typeof first.host.name, 'string')
  })

  test('an index template with the container name and the date: each line lands in its own day\'s index', { timeout: 120_000 }, async () => {
    const prefix = testIndex('dated')
    // An upper-case container name still makes a valid index name: container values are lowercased.
    const name = uniqueName('Dated-Name')
    await runToEnd('echo out-1; echo err-1 >&2; echo out-2', esOpts(`${prefix}-{{.Name}}-%Y.%m.%d`), name)
    assert.equal(await waitForCount(`${prefix}-*`, 3), 3)
    const hits = await allDocs(`${prefix}-*`, 10)
    for (const { _index, doc } of hits) {
      const day = doc['@timestamp'].slice(0, 10).replace(/-/g, '.')
      assert.equal(_index, `${prefix}-${name.toLowerCase()}-${day}`)
    }
    assert.deepEqual(hits.map((h) => [h.doc.message, h.doc.stream]).sort(), [['err-1', 'stderr'], ['out-1', 'stdout'], ['out-2', 'stdout']])
  })

  test('a data stream: documents go to its backing index, with nanosecond timestamps kept', { timeout: 120_000 }, async () => {
    const stream = testIndex('ds')
    templatesToDelete.push(stream)
    await es.indices.putIndexTemplate({
      name: stream,
      index_patterns: [`${stream}*`],
      data_stream: {},
      priority: 500,
      template: { mappings: { properties: { '@timestamp': { type: 'date_nanos' } } } },
    })
    await runToEnd(countingScript(500, 'ds-'), esOpts(stream))
    assert.equal(await waitForCount(stream, 500), 500)
    const hits = await allDocs(stream, 500)
    assert.deepEqual(hits.map((h) => h.doc.message), Array.from({ length: 500 }, (_, i) => `ds-${i + 1}`))
    assert.ok(hits.every((h) => h._index.startsWith(`.ds-${stream}-`)), 'written to the stream\'s backing index')
  })

  test('a document whose field type conflicts is dropped with the reason logged, and the rest are delivered', { timeout: 120_000 }, async () => {
    // A template maps message as a number: one line that is not a number is a mapping conflict
    // in the middle of a batch whose other documents are fine.
    const index = testIndex('conflict')
    templatesToDelete.push(index)
    await es.indices.putIndexTemplate({ name: index, index_patterns: [`${index}*`], priority: 500, template: { mappings: { properties: { message: { type: 'long' } } } } })
    await runToEnd('for i in 1 2 3 4 5; do echo $i; done; echo not-a-number-xyzzy; for i in 6 7 8 9 10; do echo $i; done', esOpts(index))
    assert.equal(await waitForCount(index, 10), 10)
    const numbers = (await allDocs(index, 20)).map((h) => Number(h.doc.message))
    assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const drop = plugin.output.split('\n').find((line) => line.includes('records dropped') && line.includes('document_parsing_exception'))
    assert.ok(drop !== undefined, `a drop with its reason in the plugin's log:\n${plugin.output}`)
    const logged = JSON.parse(drop) as { sink: string, reason: string, dropped: number }
    assert.equal(logged.sink, 'elasticsearch')
    assert.equal(logged.dropped, 1)
    assert.match(logged.reason, /failed to parse field \[message\] of type \[long\]/)
    assert.ok(!plugin.output.includes('xyzzy'), 'the line\'s contents are not logged')
  })

  test('a container starts while its node is unreachable, and docker logs still has its lines', { timeout: 60_000 }, async () => {
    const index = testIndex('unreachable')
    const name = await runToEnd('echo still-logged', esOpts(index, ['es-url=http://127.0.0.1:9']))
    assert.equal((await dockerOk(['logs', name])).toString(), 'still-logged\n')
  })

  test('invalid es-* options fail docker run, naming the option, never echoing a secret', { timeout: 120_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['es-index=x-{{.Nope}}'], /invalid log-opt es-index="x-\{\{.Nope\}\}" \(\{\{.Nope\}\} is not known\)/],
      [['es-index=logs-%Q'], /invalid log-opt es-index="logs-%Q" \(%Q is not known\): expected date parts %Y/],
      [['es-index=Logs-%Y'], /invalid log-opt es-index="Logs-%Y" .*must be lowercase/],
      [['es-url='], /log-opt es-url is required with sink=elasticsearch/],
      [['es-url=ftp://host'], /invalid log-opt es-url="ftp:\/\/host"/],
      [['es-api-key-file=/nonexistent/key'], /cannot read log-opt es-api-key-file="\/nonexistent\/key" \(ENOENT\)/],
      [['es-tls-ca-file=ca.pem'], /invalid log-opt es-tls-ca-file="ca.pem" \(not an absolute path\)/],
      [['es-tls-ca-file=/etc/hostname'], /invalid log-opt es-tls-ca-file="\/etc\/hostname" \(no PEM certificate in it\)/],
      [['es-tls-verify=maybe'], /invalid log-opt es-tls-verify="maybe".*expected true or false/],
    ]
    for (const [opts, expected] of cases) {
      const result = await docker(['run', '--rm', '--network', 'none', ...esOpts('lrt-invalid', opts), TEST_IMAGE, 'true'])
      assert.notEqual(result.code, 0, `${opts.join(' ')} must fail`)
      assert.match(result.stderr, expected)
    }
    const secret = 'hunter2-do-not-echo'
    for (const opts of [
      [`es-password=${secret}`, 'es-username=elastic', 'es-api-key=abc'],
      [`es-url=http://elastic:${secret}@127.0.0.1:9200`],
      [`es-password=${secret}`],
    ]) {
      const result = await docker(['run', '--rm', '--network', 'none', ...esOpts('lrt-invalid', opts), TEST_IMAGE, 'true'])
      assert.notEqual(result.code, 0, 'must fail')
      assert.match(result.stderr, /es-username|es-url/)
      assert.ok(!result.stderr.includes(secret), `the secret is not echoed: ${result.stderr}`)
    }
    assert.ok(!plugin.output.includes(secret), 'the secret is not logged')
  })
})

describe('the elasticsearch sink over https', () => {
  // A TLS front for the node, with its own CA, that lets a request through only with the right
  // API key: the node itself runs with security off and would accept anything.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-es-tls-'))
  const apiKey = 'key-id:key-secret-do-not-log'
  const expectedHeader = `ApiKey ${Buffer.from(apiKey).toString('base64')}`
  let proxy: https.Server | undefined
  let url = ''
  const refused: string[] = []

  before(async () => {
    const openssl = async (args: string[]): Promise<void> => {
      const result = await exec('openssl', args)
      assert.equal(result.code, 0, result.stderr)
    }
    const at = (f: string): string => path.join(dir, f)
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-subj', '/CN=logrelay test CA', '-days', '2'])
    await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost'])
    fs.writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    await openssl(['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('ext.cnf')])
    fs.writeFileSync(at('api-key'), `${apiKey}\n`)
    const upstream = new URL(esUrl())
    proxy = https.createServer({ key: fs.readFileSync(at('server.key')), cert: fs.readFileSync(at('server.pem')) }, (req, res) => {
      if (req.headers.authorization !== expectedHeader) {
        refused.push(req.headers.authorization ?? '(none)')
        res.writeHead(401, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' })
        res.end('{"error":{"type":"security_exception","reason":"missing or wrong API key"},"status":401}')
        return
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      forward.on('error', () => res.destroy())
      req.pipe(forward)
    })
    await new Promise<void>((resolve) => proxy?.listen(0, '127.0.0.1', resolve))
    url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  })

  after(async () => {
    proxy?.closeAllConnections()
    await new Promise((resolve) => proxy?.close(resolve))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  test('verifies the node against a custom CA and sends the API key read from a file, never logging it', { timeout: 120_000 }, async () => {
    const index = testIndex('tls')
    await runToEnd(countingScript(100, 'tls-'), esOpts(index, [`es-url=${url}`, `es-tls-ca-file=${path.join(dir, 'ca.pem')}`, `es-api-key-file=${path.join(dir, 'api-key')}`]))
    assert.equal(await waitForCount(index, 100), 100)
    assert.deepEqual(refused, [], 'every request carried the API key')
    assert.ok(!plugin.output.includes('key-secret-do-not-log') && !plugin.output.includes(expectedHeader.slice(7)), 'the API key is not logged')
  })

  test('refuses a node whose certificate it cannot verify (verification is on by default) and keeps the lines', { timeout: 120_000 }, async () => {
    const index = testIndex('untrusted')
    const name = await runToEnd('echo held-back', esOpts(index, [`es-url=${url}`, `es-api-key-file=${path.join(dir, 'api-key')}`]))
    const certificateRetry = (): boolean => plugin.output.split('\n').some((line) => line.includes('batch will be retried') && /certificate/i.test(line))
    const deadline = Date.now() + 60_000
    while (!certificateRetry() && Date.now() < deadline) await sleep(200)
    assert.ok(certificateRetry(), `a retry for the certificate in the plugin's log:\n${plugin.output}`)
    assert.equal(await count(index), 0)
    assert.equal((await dockerOk(['logs', name])).toString(), 'held-back\n')
  })
})

describe('an Elasticsearch outage', () => {
  test('the node stopped for 30 s mid-stream: every line arrives exactly once once it is back', { timeout: 900_000 }, async () => {
    // Batches in flight when the node dies may have been indexed before the connection broke;
    // their retries must come back as 409s, never as second copies.
    const index = testIndex('outage')
    const lines = 6000
    const name = uniqueName('outage')
    // About 100 lines a second, so the container writes before, during and after the outage.
    const script = `i=0; while [ $i -lt ${lines} ]; do i=$((i+1)); echo n-$i; if [ $((i % 100)) -eq 0 ]; then sleep 1; fi; done`
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...esOpts(index), TEST_IMAGE, 'sh', '-c', script])
    let delivered = 0
    while (delivered === 0) {
      await sleep(500)
      delivered = await count(index).catch(() => 0)
    }
    await interruptServer('elasticsearch', 30_000)
    assert.ok(delivered < lines, `the node stopped while the container was still writing (${delivered} of ${lines} delivered before)`)
    const waited = await docker(['wait', name], 600_000)
    assert.equal(waited.code, 0, waited.stderr)
    assert.equal(await waitForCount(index, lines, 300_000), lines)
    const hits = await allDocs(index, lines)
    const numbers = hits.map((h) => Number(h.doc.message.slice(2)))
    assert.equal(new Set(numbers).size, lines, 'no line twice')
    assert.equal(new Set(hits.map((h) => h._id)).size, lines, 'no _id twice')
    assert.deepEqual(numbers, Array.from({ length: lines }, (_, i) => i + 1), 'every line, in order')
    assert.match(plugin.output, /batch will be retried/)
  })
})

// The classification and the index names on their own, from bulk answers as the node gives them.
describe('classify', () => {
  test('2xx and 409 are delivered, 429 and 5xx retried, other item errors dropped with a scrubbed reason', () => {
    const item = (status: number, error?: unknown): unknown => ({ create: error === undefined ? { status } : { status, error } })
    const outcome = classify({
      response: {
        errors: true,
        items: [
          item(201),
          item(409, { type: 'version_conflict_engine_exception', reason: '[abc]: version conflict, document already exists (current version [1])' }),
          item(429, { type: 'es_rejected_execution_exception', reason: 'rejected execution' }),
          item(503, { type: 'unavailable_shards_exception', reason: 'primary shard is not active' }),
          item(400, { type: 'document_parsing_exception', reason: '[1:8] failed to parse field [tag] of type [long] in document with id \'x1\'. Preview of field\'s value: \'secret\'', caused_by: { type: 'illegal_argument_exception', reason: 'For input string: "secret"' } }),
        ],
      },
    }, 5)
    assert.deepEqual(outcome, {
      partial: {
        retry: [2, 3],
        dropped: [{ index: 4, reason: 'rejected by Elasticsearch (400 document_parsing_exception: failed to parse field [tag] of type [long] (caused by illegal_argument_exception))' }],
      },
    })
    assert.deepEqual(classify({ response: { errors: false, items: [] } }, 3), { ok: true })
    assert.deepEqual(classify({ response: { errors: true, items: [item(201), item(409)] } }, 2), { ok: true })
    assert.ok('retry' in classify({ response: { errors: true, items: [item(201)] } }, 2), 'a short answer is retried whole')
  })

  test('request-level failures retry the whole batch; 400 drops it and 413 asks for smaller batches', () => {
    const response = (statusCode: number, headers: Record<string, string> = {}): errors.ResponseError => new errors.ResponseError({
      body: { error: { type: 'x_exception', reason: 'why' }, status: statusCode },
      statusCode,
      headers,
      warnings: null,
      meta: {} as never,
    })
    assert.deepEqual(classify({ error: response(429, { 'retry-after': '7' }) }, 1), { retry: 'Elasticsearch answered the bulk request with 429 x_exception: why', afterMs: 7000 })
    assert.ok('retry' in classify({ error: response(503) }, 1))
    assert.ok('retry' in classify({ error: response(401) }, 1))
    assert.ok('tooLarge' in classify({ error: response(413) }, 1))
    assert.ok('drop' in classify({ error: response(400) }, 1))
    assert.ok('retry' in classify({ error: new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200') }, 1))
    assert.ok('retry' in classify({ error: new errors.TimeoutError('Request timed out') }, 1))
  })

  test('index templates render container values safely and dates from the record', () => {
    const info = containerMeta({ id: 'a'.repeat(64), name: 'Web:1', imageName: 'registry:5000/team/app:1.2', imageId: 'sha256:' + 'b'.repeat(64), allLabels: { pct: '50%Y' } })
    const at = BigInt(Date.UTC(2027, 0, 3, 4, 5, 6)) * 1_000_000n + 789n
    assert.equal(compileIndex('logs-{{.Name}}-%Y.%m.%d', info)(at), 'logs-web-1-2027.01.03')
    assert.equal(compileIndex('{{.ImageName}}-%H', info)(at), 'registry-5000-team-app-1.2-04')
    assert.equal(compileIndex('w-%G.%V-{{index .ContainerLabels "pct"}}', info)(at), 'w-2026.53-50%y')
    assert.equal(compileIndex('plain', info)(at), 'plain')
  })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseOptions, readOptionDefaults } from '../../src/options/schema.js'
import { logOptionSpecs } from '../../src/settings.js'
import { findSink, openSinks, sinkDefinitions } from '../../sinks/registry.js'
import { capturedLog } from '../helpers/log-capture.js'
import { containerMeta } from '../helpers/records.js'

// The registry: which sinks exist, the names of their options, and opening a container's sinks
// with the batch limits the engine drives them by.

function options (config: Record<string, string>, env: NodeJS.ProcessEnv = {}): ReturnType<typeof parseOptions> {
  return parseOptions(logOptionSpecs, config, readOptionDefaults(logOptionSpecs, env))
}

test('every sink\'s options carry its prefix, and no two options share a name', () => {
  for (const d of sinkDefinitions) {
    for (const spec of d.options) assert.ok(spec.name.startsWith(`${d.prefix}-`), `${spec.name} is not ${d.prefix}-*`)
  }
  const names = logOptionSpecs.map((s) => s.name)
  assert.equal(new Set(names).size, names.length)
  assert.equal(findSink('http')?.prefix, 'http')
  assert.equal(findSink('splunk'), undefined)
})

test('sink= takes only known sinks, saying which there are', () => {
  assert.throws(() => options({ sink: 'http,splunk' }), /invalid log-opt sink="http,splunk" \("splunk" is not accepted\): expected a comma-separated list of elasticsearch, http, kafka/)
})

test('opens the sinks in the order given, each with its own batch defaults or the container\'s', async () => {
  const { log } = capturedLog()
  const opened = openSinks(options({ sink: 'kafka,http', 'kafka-brokers': '127.0.0.1:9', 'http-url': 'http://127.0.0.1:9/x', 'http-batch-max-records': '7' }), containerMeta(), log)
  try {
    assert.deepEqual(opened.map((o) => o.sink.name), ['kafka', 'http'])
    assert.deepEqual(opened[0]?.limits, { maxRecords: 1000, maxBytes: 1024 * 1024, timeoutMs: 200, concurrency: 1 })
    assert.equal(opened[1]?.limits.maxRecords, 7)
  } finally {
    await Promise.all(opened.map(async (o) => await o.sink.close()))
    await Promise.all(sinkDefinitions.map(async (d) => await d.closeAll()))
  }
})

test('a sink that refuses its options fails the whole start and leaves nothing open', () => {
  const { log } = capturedLog()
  assert.throws(() => openSinks(options({ sink: 'http,kafka', 'http-url': 'http://127.0.0.1:9/x' }), containerMeta(), log), /log-opt kafka-brokers is required with sink=kafka/)
  assert.deepEqual(openSinks(options({}), containerMeta(), log), [])
})

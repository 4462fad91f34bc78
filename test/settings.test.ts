import assert from 'node:assert/strict'
import os from 'node:os'
import { after, test } from 'node:test'
import { bool, duration, filePath, integer, oneOf, regex, size, text, type OptionKind } from '../src/options/kinds.js'
import { parseOptions, readOptionDefaults } from '../src/options/schema.js'
import { coreLogOptions, logOptionSpecs, readPluginSettings } from '../src/settings.js'
import { kafkaOptions } from '../sinks/kafka.js'
import { docker, TEST_IMAGE } from './helpers/docker.js'
import { PluginProcess } from './helpers/plugin.js'

// A plugin setting that does not parse (a typo in `docker plugin set`) must not leave the daemon
// with nothing but "no such file" for the missing socket: the plugin listens anyway, and every
// `docker run` fails with the setting's name and what it accepts.

const plugins: PluginProcess[] = []
after(async () => await Promise.all(plugins.map(async (p) => await p.cleanup())))

async function runError (env: NodeJS.ProcessEnv): Promise<{ stderr: string, output: string }> {
  const plugin = new PluginProcess(env)
  plugins.push(plugin)
  await plugin.start()
  const run = await docker(['run', '--rm', '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'true'])
  assert.notEqual(run.code, 0, 'docker run succeeded with a misconfigured plugin')
  return { stderr: run.stderr, output: plugin.output }
}

test('an invalid log-opt default fails docker run with the plugin setting\'s name and what it accepts', async () => {
  const { stderr, output } = await runError({ LOGRELAY_STORE_MAX_BYTES: '64q' })
  assert.match(stderr, /invalid plugin setting LOGRELAY_STORE_MAX_BYTES="64q" \(not a size\): expected a size/)
  assert.match(output, /cannot log any container until this is fixed/)
})

test('an invalid plugin-only setting does too, named as it was set', async () => {
  assert.match((await runError({ LOGRELAY_STORE_TOTAL_MAX_BYTES: 'lots' })).stderr, /invalid plugin setting LOGRELAY_STORE_TOTAL_MAX_BYTES="lots"/)
  assert.match((await runError({ LOG_LEVEL: 'loud' })).stderr, /invalid plugin setting LOG_LEVEL="loud" .*expected one of fatal, error, warn, info/)
})

// The schemas and their parsing, without a daemon: every option a container or an operator can
// set is read through these.

test('log-opts are parsed by their kinds, defaults applied once, and read back typed', () => {
  const options = parseOptions(logOptionSpecs, { 'store-max-bytes': '2m', labels: 'a, b,,c' }, readOptionDefaults(logOptionSpecs, {}))
  const core = options.read(coreLogOptions)
  assert.equal(core.storeMaxBytes, 2 * 1024 * 1024)
  assert.deepEqual(core.labels, ['a', 'b', 'c'])
  assert.equal(core.queueMaxRecords, 10_000)
  assert.equal(core.tag, undefined)
})

test('a plugin env default is used when the log-opt is not given, and a log-opt wins over it', () => {
  const defaults = readOptionDefaults(logOptionSpecs, { LOGRELAY_STORE_MAX_BYTES: '1m', LOGRELAY_PARTIAL_MAX_BYTES: '' })
  assert.equal(parseOptions(logOptionSpecs, {}, defaults).read(coreLogOptions).storeMaxBytes, 1024 * 1024)
  assert.equal(parseOptions(logOptionSpecs, { 'store-max-bytes': '3m' }, defaults).read(coreLogOptions).storeMaxBytes, 3 * 1024 * 1024)
  // config.json lists every setting with an empty value for "not set".
  assert.equal(parseOptions(logOptionSpecs, {}, defaults).read(coreLogOptions).partialMaxBytes, 1024 * 1024)
})

test('unknown log-opts are refused by name, except those the daemon itself owns', () => {
  const defaults = readOptionDefaults(logOptionSpecs, {})
  assert.throws(() => parseOptions(logOptionSpecs, { 'no-such': '1', zzz: '2' }, defaults), /unknown log-opt "no-such", "zzz": logrelay accepts sink, store-max-bytes/)
  assert.doesNotThrow(() => parseOptions(logOptionSpecs, { mode: 'non-blocking', 'max-buffer-size': '4m', 'cache-disabled': 'true' }, defaults))
})

test('a sensitive value is never repeated in its error', () => {
  assert.throws(() => parseOptions(logOptionSpecs, { sink: 'http', 'http-headers': 'Authorization hunter2' }, readOptionDefaults(logOptionSpecs, {})),
    (err: Error) => err.message.includes('(value not shown)') && !err.message.includes('hunter2'))
})

test('kinds refuse what they cannot take: sizes past any disk, durations, numbers out of range, unknown choices', () => {
  const check = (kind: OptionKind<unknown>, raw: string, problem: RegExp): void => assert.throws(() => kind.parse(raw), problem, raw)
  check(size(1024), `1${'0'.repeat(400)}`, /too large/)
  check(size(1024), '1023', /too small/)
  check(size(1024), '12 parsecs', /not a size/)
  check(duration(60_000), '30s', /too short/)
  check(duration(0), `1${'0'.repeat(400)}d`, /too long/)
  check(integer(1, 64), '65', /out of range/)
  check(integer(1, 64), '1.5', /not a whole number/)
  check(oneOf(['a', 'b']), 'c', /not an accepted value/)
  check(bool, 'yes', /not a boolean/)
  check(regex, '(', /not a valid regular expression/)
  check(regex, '(a)\\1', /cannot be matched in linear time/)
  check(regex, '(?=a)b', /cannot be matched in linear time/)
  // Regression: (a+)+$ backtracked for hours on 40 a's and a b; it now runs in linear time.
  assert.equal(regex.parse('(a+)+$').test(`${'a'.repeat(40)}b`), false)
  assert.equal(regex.parse('^com\\.example\\.').test('com.example.tier'), true)
  check(filePath('a file'), 'relative/path', /not an absolute path/)
  check(text, 'a\r\nInjected: header', /control character/)
  // Regression: kafka-brokers=host:99999 was accepted.
  const brokers = kafkaOptions.brokers.kind
  for (const bad of ['host:99999', 'host:0', ':9092', 'host', 'ho$t:9092', '::1:9092']) check(brokers, bad, /is not accepted/)
  assert.deepEqual(brokers.parse('kafka-1.example:9092, [::1]:9093,10.0.0.7:65535'), ['kafka-1.example:9092', '[::1]:9093', '10.0.0.7:65535'])
  assert.equal(size(1).parse('1.5k'), 1536)
  assert.equal(duration(0).parse('7d'), 7 * 86_400_000)
})

test('plugin settings: defaults, the machine\'s host name, and errors named by their variable', () => {
  const settings = readPluginSettings({})
  assert.equal(settings.socket, '/run/docker/plugins/logrelay.sock')
  assert.equal(settings.storeTotalMaxBytes, 2 * 1024 ** 3)
  assert.equal(settings.hostName, os.hostname())
  assert.equal(readPluginSettings({ LOGRELAY_HOST_NAME: 'edge-7' }).hostName, 'edge-7')
  assert.throws(() => readPluginSettings({ LOGRELAY_STORE_RETENTION: 'forever' }), /invalid plugin setting LOGRELAY_STORE_RETENTION="forever" \(not a duration\)/)
  assert.throws(() => readPluginSettings({ LOGRELAY_STATE_DIR: 'state' }), /invalid plugin setting LOGRELAY_STATE_DIR="state" \(not an absolute path\): expected an absolute path to a directory the plugin can write/)
})

test('the metrics address: unset by default, a bare port means 127.0.0.1, and a non-loopback one needs LOGRELAY_METRICS_ALLOW_REMOTE=true', () => {
  const addr = (env: NodeJS.ProcessEnv): unknown => readPluginSettings(env).metricsAddr
  assert.equal(addr({}), undefined)
  assert.equal(addr({ LOGRELAY_METRICS_ADDR: '' }), undefined)
  assert.deepEqual(addr({ LOGRELAY_METRICS_ADDR: '9464' }), { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(addr({ LOGRELAY_METRICS_ADDR: '[::1]:9464' }), { host: '::1', port: 9464 })
  assert.deepEqual(addr({ LOGRELAY_METRICS_ADDR: 'localhost:0' }), { host: 'localhost', port: 0 })
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: '10.1.2.3:9464' }), /LOGRELAY_METRICS_ADDR="10.1.2.3:9464" \(10.1.2.3 is not a loopback address\)/)
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: '[::]:9464' }), /:: is not a loopback address/)
  assert.deepEqual(addr({ LOGRELAY_METRICS_ADDR: '0.0.0.0:9464', LOGRELAY_METRICS_ALLOW_REMOTE: 'true' }), { host: '0.0.0.0', port: 9464 })
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: 'example.com:9464' }), /\(not a port or host:port\): expected a port/)
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: '999.0.0.1:9464' }), /not an IPv4 address/)
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: '[127.0.0.1]:9464' }), /not an IPv6 address/)
  assert.throws(() => addr({ LOGRELAY_METRICS_ADDR: '70000' }), /the port is past 65535/)
})

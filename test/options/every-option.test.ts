import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { PluginError } from '../../src/errors.js'
import { echo, FILE_MAX_BYTES } from '../../src/options/kinds.js'
import { envName, loadOptions, parseOptions, readOptionDefaults, type AnySpec } from '../../src/options/schema.js'
import { LogDriver } from '../../src/protocol/driver.js'
import { logOptionSpecs, pluginSettingSpecs, readPluginSettings } from '../../src/settings.js'
import { docker, dockerOk, driverArgs, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { PluginProcess } from '../helpers/plugin.js'

// Every log-opt and every plugin setting, given values its kind must refuse: generated from the
// schemas, so an option added later is covered without a line here. Each refusal must name the
// option as the user set it, show the value (unless it may hold a secret) and say what is
// accepted; each option must refuse something; and nothing accepted may be a number that is
// not finite (a size of `1` and 400 zeros once parsed as Infinity and was taken).

const defaults = readOptionDefaults(logOptionSpecs, {})

// Values no option should take whole, or that one kind or another must refuse.
const HOSTILE = [
  '', ' ', 'Infinity', '-Infinity', 'NaN', '-1', '1e400', `1${'0'.repeat(400)}`, '0x10', '1.5', 'nope', 'TRUE',
  'a\nb', 'x\u0000', '{{ .Name', '{{.Nope}}', 'logs-%Q', 'host:99999', 'host:0', ':9092', 'ho$t:9092', '[::1]', 'relative/path', '(', '(a)\\1',
  'x'.repeat(100_000),
]

interface Probe {
  readonly values: string[]
  readonly accepted: string[]
}

// The edges a kind's own `accepts` promises: just past each end of a range refused and the ends
// themselves taken; each choice taken and a near miss refused. The README shows the same text,
// so this also keeps the documentation honest.
function edges (spec: AnySpec): Probe {
  const accepts = spec.kind.accepts
  const range = /from (\d+)( bytes| ms)? to (\d+)(t|d)?/.exec(accepts)
  if (range !== null) {
    const [, min, lowUnit, max, highUnit] = range
    const low = Number(min)
    const lowSuffix = lowUnit === ' ms' ? 'ms' : ''
    const highSuffix = highUnit ?? (lowUnit === ' ms' ? 'ms' : '')
    return {
      values: [low > 0 ? `${low - 1}${lowSuffix}` : `-1${lowSuffix}`, `${Number(max) + 1}${highSuffix}`],
      accepted: [`${low}${lowSuffix}`, `${max ?? ''}${highSuffix}`],
    }
  }
  const choices = /^one of (.+)$/.exec(accepts)?.[1]?.split(', ')
  if (choices !== undefined) {
    const misses = choices.flatMap((c) => [`${c}x`, c.toUpperCase() === c ? c.toLowerCase() : c.toUpperCase()]).filter((v) => !choices.includes(v))
    return { values: misses, accepted: choices }
  }
  if (accepts === 'true or false') return { values: ['yes', 'on'], accepted: ['true', 'false'] }
  return { values: [], accepted: [] }
}

interface Target {
  readonly shown: string
  readonly spec: AnySpec
  readonly prefix: string
  readonly set: (raw: string) => unknown
}

const targets: Target[] = [
  ...logOptionSpecs.map((spec) => ({
    shown: `log-opt ${spec.name}`,
    spec,
    prefix: `invalid log-opt ${spec.name}`,
    set: (raw: string) => parseOptions(logOptionSpecs, { [spec.name]: raw }, defaults).read({ spec }).spec,
  })),
  // A log-opt's plugin-wide default, checked when the plugin starts.
  ...logOptionSpecs.map((spec) => ({
    shown: `plugin setting ${envName(spec.name)}`,
    spec,
    prefix: `invalid plugin setting ${envName(spec.name)}`,
    set: (raw: string) => readOptionDefaults(logOptionSpecs, { [envName(spec.name)]: raw }).get(spec.name),
  })),
  ...pluginSettingSpecs.map((spec) => ({
    shown: `plugin setting ${spec.env}`,
    spec,
    prefix: `invalid plugin setting ${spec.env}`,
    set: (raw: string) => readPluginSettings({ [spec.env]: raw }),
  })),
]

function attempt (target: Target, raw: string): { error: PluginError } | { value: unknown } {
  try {
    return { value: target.set(raw) }
  } catch (err) {
    assert.ok(err instanceof PluginError, `${target.shown}=${echo(raw)} threw ${String(err)} instead of a PluginError`)
    return { error: err }
  }
}

function assertClear (target: Target, raw: string, error: PluginError): void {
  const { message } = error
  const where = `${target.shown}=${echo(raw)}: ${message.slice(0, 300)}`
  assert.ok(message.startsWith(target.prefix), `the error does not name the option: ${where}`)
  assert.ok(message.endsWith(`: expected ${target.spec.kind.accepts}`), `the error does not say what is accepted: ${where}`)
  assert.ok(message.length < 2000, `the error repeats too much of the value: ${where}`)
  assert.ok(!message.includes('\n'), `the error holds a line break: ${where}`)
  if (target.spec.sensitive === true) {
    assert.ok(message.includes('(value not shown)') && (raw.length < 4 || !message.includes(raw)), `a secret is echoed: ${where}`)
  } else {
    const shown = echo(target.spec.kind.show?.(raw) ?? raw)
    assert.ok(message.includes(shown.slice(0, 40)), `the error does not show the value: ${where}`)
  }
}

function finite (value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  if (typeof value === 'object' && value !== null && !(value instanceof RegExp)) return Object.values(value).every(finite)
  return true
}

describe('every option refuses what its kind cannot take, with a clear error', () => {
  for (const target of targets) {
    test(target.shown, () => {
      const { values, accepted } = edges(target.spec)
      // A plugin setting set to '' means "not set" (config.json lists them all empty).
      const raws = [...HOSTILE, ...values].filter((raw) => !(raw === '' && target.shown.startsWith('plugin')))
      let refused = 0
      for (const raw of raws) {
        const result = attempt(target, raw)
        if ('error' in result) {
          refused++
          assertClear(target, raw, result.error)
        } else {
          assert.ok(finite(result.value), `${target.shown}=${echo(raw)} was taken as ${String(result.value)}`)
        }
      }
      for (const raw of values) assert.ok('error' in attempt(target, raw), `${target.shown}=${echo(raw)} is past what it accepts (${target.spec.kind.accepts}) and was taken`)
      for (const raw of accepted) {
        const result = attempt(target, raw)
        assert.ok('value' in result, `${target.shown}=${echo(raw)} is what it says it accepts, and was refused: ${'error' in result ? result.error.message : ''}`)
      }
      assert.ok(refused > 0, `${target.shown} took every hostile value: its kind must refuse what it cannot use`)
    })
  }
})

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-every-option-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
const fifo = path.join(dir, 'fifo')
execFileSync('mkfifo', [fifo])
const fileSpecs = logOptionSpecs.filter((s) => s.kind.file !== undefined)

describe('every file option refuses what it must not read, at once', () => {
  test('there are file options to check', () => assert.ok(fileSpecs.length >= 10, fileSpecs.map((s) => s.name).join(', ')))
  const huge = path.join(dir, 'huge')
  fs.writeFileSync(huge, Buffer.alloc(FILE_MAX_BYTES + 1))
  const cases: [string, RegExp][] = [
    [fifo, /a FIFO, not a regular file/],
    ['/dev/zero', /a character device, not a regular file/],
    ['/dev/urandom', /a character device, not a regular file/],
    [dir, /a directory, not a regular file/],
    [huge, /more than 1048576/],
  ]
  for (const spec of fileSpecs) {
    test(spec.name, async () => {
      for (const [file, problem] of cases) {
        // As a log-opt and as the plugin-wide default of one.
        for (const [config, env, setBy] of [[{ [spec.name]: file }, {}, `log-opt ${spec.name}`], [{}, { [envName(spec.name)]: file }, `plugin setting ${envName(spec.name)}`]] as const) {
          await assert.rejects(loadOptions(logOptionSpecs, config, readOptionDefaults(logOptionSpecs, env)), (err: Error) => {
            assert.ok(err instanceof PluginError && err.code === 'LOGRELAY_ERR_OPT_FILE', err.message)
            assert.ok(err.message.startsWith(`cannot read ${setBy}=${echo(file)} (`), err.message)
            assert.match(err.message, problem)
            assert.ok(err.message.endsWith(`: expected ${spec.kind.accepts}`), err.message)
            return true
          })
        }
      }
    })
  }
})

// Regression: a state directory that could not be made surfaced as an fs error of the store.
test('a state directory the plugin cannot make or write is refused at start, naming the setting', () => {
  const file = path.join(dir, 'not-a-dir')
  fs.writeFileSync(file, '')
  for (const stateDir of [path.join(file, 'state'), file]) {
    assert.throws(() => new LogDriver({ ...readPluginSettings({}), stateDir }, {}, pino({ level: 'silent' })),
      (err: Error) => err instanceof PluginError && err.message.startsWith(`invalid plugin setting LOGRELAY_STATE_DIR=${echo(stateDir)} (E`) &&
        err.message.endsWith('expected an absolute path to a directory the plugin can write'))
  }
})

// Through a real daemon: what the user reads in `docker run`, and the plugin serving every
// other container meanwhile.
describe('through dockerd', () => {
  const plugins: PluginProcess[] = []
  after(async () => await Promise.all(plugins.map(async (p) => await p.cleanup())))

  async function started (env: NodeJS.ProcessEnv = {}): Promise<PluginProcess> {
    const plugin = new PluginProcess(env)
    plugins.push(plugin)
    await plugin.start()
    return plugin
  }

  async function refused (plugin: PluginProcess, opts: readonly string[]): Promise<string> {
    const name = uniqueName('refused')
    const run = await docker(['run', '--name', name, '--network', 'none', ...driverArgs(plugin.name, opts), TEST_IMAGE, 'true'], 60_000)
    await docker(['rm', '-f', name])
    assert.notEqual(run.code, 0, `docker run with ${opts.join(' ')} succeeded`)
    return run.stderr
  }

  async function lineCount (name: string): Promise<number> {
    return (await dockerOk(['logs', name])).toString().split('\n').filter((l) => l !== '').length
  }

  // Regression: a FIFO named by a file option hung the whole plugin until something opened it,
  // and /dev/zero grew it to 4 GB; both now fail their own `docker run` while the plugin keeps
  // serving the containers it logs.
  test('invalid log-opts and file options pointing at a FIFO or /dev/zero fail docker run, and another container keeps logging', async () => {
    const plugin = await started()
    const busy = uniqueName('busy')
    await dockerOk(['run', '-d', '--name', busy, '--network', 'none', ...driverArgs(plugin.name), TEST_IMAGE,
      'sh', '-c', 'i=0; while true; do i=$((i+1)); echo line$i; sleep 0.02; done'])
    try {
      while (await lineCount(busy) === 0) await sleep(50)
      assert.match(await refused(plugin, [`store-max-bytes=1${'0'.repeat(400)}`]), /invalid log-opt store-max-bytes="1000.*\.\.\. \(401 characters\) \(too large\): expected a size such as 512k, 64m or 2g, from 65536 bytes to 1024t/)
      assert.match(await refused(plugin, ['sink=kafka', 'kafka-brokers=127.0.0.1:99999']), /invalid log-opt kafka-brokers="127.0.0.1:99999" .*: expected a comma-separated list of host:port \(.*port 1 to 65535\)/)
      assert.match(await refused(plugin, ['tag={{ .Name']), /invalid log-opt tag="\{\{ .Name" \(a \{\{ is not closed by \}\}\): expected a template of \{\{.ID\}\}/)
      const before = await lineCount(busy)
      assert.match(await refused(plugin, ['sink=http', 'http-url=http://127.0.0.1:9/x', `http-headers-file=${fifo}`]),
        new RegExp(`cannot read log-opt http-headers-file="${fifo}" \\(a FIFO, not a regular file\\): expected an absolute path to a file of "Name: value" lines the plugin can read \\(a regular file of at most 1 MiB\\)`))
      assert.match(await refused(plugin, ['sink=elasticsearch', 'es-url=http://127.0.0.1:9', 'es-api-key-file=/dev/zero']),
        /cannot read log-opt es-api-key-file="\/dev\/zero" \(a character device, not a regular file\)/)
      assert.match(await refused(plugin, ['sink=kafka', 'kafka-brokers=127.0.0.1:9', 'kafka-tls-ca-file=/dev/urandom']),
        /cannot read log-opt kafka-tls-ca-file="\/dev\/urandom" \(a character device, not a regular file\)/)
      // The busy container's lines went on arriving while the refusals were answered.
      const deadline = Date.now() + 30_000
      while (await lineCount(busy) <= before && Date.now() < deadline) await sleep(100)
      assert.ok(await lineCount(busy) > before, 'the busy container stopped logging')
      // And a new container logs through the same plugin, line for line.
      const fresh = uniqueName('fresh')
      await dockerOk(['run', '--name', fresh, '--network', 'none', ...driverArgs(plugin.name), TEST_IMAGE, 'sh', '-c', 'echo one; echo two'])
      assert.equal((await dockerOk(['logs', fresh])).toString(), 'one\ntwo\n')
      await docker(['rm', '-f', fresh])
    } finally {
      await docker(['rm', '-f', busy])
    }
  })

  // Regression: env-regex=(a+)+$ with an env name of 40 a's and a b backtracked for hours on
  // the event loop, stalling every container; regular expressions now run in linear time.
  test('a regular expression option cannot stall the plugin on what a container brings', async () => {
    const plugin = await started()
    const name = uniqueName('regex')
    const key = `${'a'.repeat(40)}b`
    await dockerOk(['run', '--name', name, '--network', 'none', '-e', `${key}=1`, '--label', `${key}=1`,
      ...driverArgs(plugin.name, ['env-regex=(a+)+$', 'labels-regex=(a+)+$']), TEST_IMAGE, 'sh', '-c', 'echo done'], 60_000)
    try {
      assert.equal((await dockerOk(['logs', name])).toString(), 'done\n')
    } finally {
      await docker(['rm', '-f', name])
    }
    assert.match(await refused(plugin, ['env-regex=(a)\\1']), /invalid log-opt env-regex="\(a\)\\\\1" \(it cannot be matched in linear time .*\): expected a regular expression without backreferences or lookarounds/)
  })

  // Re-attach after a restart reads the container's files again, asynchronously like StartLogging.
  test('a running container with a file option keeps logging across a plugin restart', async () => {
    const plugin = await started()
    const key = path.join(dir, 'api-key')
    fs.writeFileSync(key, 'id:secret\n')
    const name = uniqueName('reattach-file')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(plugin.name, [`es-api-key-file=${key}`]), TEST_IMAGE,
      'sh', '-c', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo tick$i; sleep 0.05; done'])
    try {
      while (await lineCount(name) < 5) await sleep(100)
      await plugin.restart()
      const deadline = Date.now() + 30_000
      while (!plugin.output.includes('re-attached') && Date.now() < deadline) await sleep(100)
      assert.match(plugin.output, /re-attached/)
      const after = await lineCount(name)
      while (await lineCount(name) < after + 5 && Date.now() < deadline) await sleep(100)
      // Every line, none lost or repeated across the restart.
      const lines = (await dockerOk(['logs', name])).toString().split('\n').filter((l) => l !== '')
      assert.ok(lines.length >= after + 5, `${lines.length} lines, ${after} at the restart`)
      assert.deepEqual(lines, Array.from({ length: lines.length }, (_, i) => `tick${i + 1}`))
    } finally {
      await docker(['rm', '-f', name])
    }
  })

  // Plugin settings are env only; the harness sets LOGRELAY_SOCKET and LOGRELAY_STATE_DIR itself.
  const settable = pluginSettingSpecs.filter((s) => s.env !== 'LOGRELAY_SOCKET' && s.env !== 'LOGRELAY_STATE_DIR')
  for (const spec of settable) {
    test(`an invalid ${spec.env} fails every docker run at start, naming it`, async () => {
      const target = targets.find((t) => t.shown === `plugin setting ${spec.env}`)
      assert.ok(target !== undefined)
      const raw = HOSTILE.find((r) => r !== '' && 'error' in attempt(target, r))
      assert.ok(raw !== undefined, `${spec.env} refuses nothing`)
      const plugin = await started({ [spec.env]: raw })
      const stderr = await refused(plugin, [])
      assert.ok(stderr.includes(`invalid plugin setting ${spec.env}=`) && stderr.includes(`expected ${spec.kind.accepts}`), stderr)
      assert.match(plugin.output, /cannot log any container until this is fixed/)
    })
  }
})

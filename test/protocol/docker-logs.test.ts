import assert from 'node:assert/strict'
import fs from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { countingScript, docker, dockerOk, driverArgs, runToEnd as runContainer, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { ActiveFiles } from '../../src/protocol/active-files.js'
import { PluginProcess } from '../helpers/plugin.js'

// Through a real dockerd: what `docker logs` gives back must be exactly what the container
// wrote, as json-file does.

const plugin = new PluginProcess()

before(async () => await plugin.start())
after(async () => await plugin.cleanup())

async function runToEnd (script: string, opts: readonly string[] = [], name = uniqueName('logs')): Promise<string> {
  return await runContainer(driverArgs(plugin.name, opts), script, name)
}

async function logs (name: string, args: readonly string[] = []): Promise<{ stdout: Buffer, stderr: string }> {
  const result = await docker(['logs', ...args, name])
  assert.equal(result.code, 0, result.stderr)
  return result
}

describe('docker logs through logrelay', () => {
  test('gives back ASCII, UTF-8, invalid UTF-8, empty lines and an unterminated tail byte for byte', async () => {
    const name = await runToEnd(String.raw`echo hello; printf 'h\303\251llo w\303\266rld \342\234\223\n'; printf '\377\376 raw\n'; echo; echo; printf '\ttabs\r\n'; printf 'no newline at the end'`)
    const { stdout } = await logs(name)
    const expected = Buffer.concat([
      Buffer.from('hello\n'), Buffer.from('héllo wörld ✓\n'), Buffer.from([0xff, 0xfe]), Buffer.from(' raw\n\n\n\ttabs\r\nno newline at the end'),
    ])
    assert.deepEqual(stdout, expected)
  })

  test('gives back lines of 40 KB and 200 KB whole', async () => {
    // The daemon splits lines at 16 KiB into partial entries; they must come back joined and
    // byte-exact, newline included.
    const name = await runToEnd("head -c 40000 /dev/zero | tr '\\0' a; echo; head -c 200000 /dev/zero | tr '\\0' b; echo; echo after")
    const { stdout } = await logs(name)
    assert.deepEqual(stdout, Buffer.from(`${'a'.repeat(40000)}\n${'b'.repeat(200000)}\nafter\n`))
  })

  test('keeps stderr apart from stdout', async () => {
    const name = await runToEnd('echo out1; echo err1 >&2; echo out2; echo err2 >&2')
    const { stdout, stderr } = await logs(name)
    assert.equal(stdout.toString(), 'out1\nout2\n')
    assert.equal(stderr, 'err1\nerr2\n')
  })

  test('--tail gives the last N lines, 0 none, all everything', async () => {
    const name = await runToEnd('seq 1 1000')
    assert.equal((await logs(name, ['--tail', '3'])).stdout.toString(), '998\n999\n1000\n')
    assert.equal((await logs(name, ['--tail', '0'])).stdout.toString(), '')
    assert.equal((await logs(name, ['--tail', 'all'])).stdout.toString().split('\n').length, 1001)
  })

  test('--since and --until select by time, inclusive, with nanoseconds', async () => {
    const name = await runToEnd('echo early; sleep 2; echo middle; sleep 2; echo late')
    const stamped = (await logs(name, ['--timestamps'])).stdout.toString().trim().split('\n')
    assert.equal(stamped.length, 3)
    const middleTime = stamped[1]?.split(' ')[0] ?? ''
    assert.equal((await logs(name, ['--since', middleTime])).stdout.toString(), 'middle\nlate\n')
    assert.equal((await logs(name, ['--until', middleTime])).stdout.toString(), 'early\nmiddle\n')
    assert.equal((await logs(name, ['--since', middleTime, '--until', middleTime])).stdout.toString(), 'middle\n')
  })

  test('gives the same logs twice on a stopped container', async () => {
    // docker logs on a stopped container sends StartLogging again; a plugin that resets its
    // store there loses the history (protocol.md, trap 9).
    const name = await runToEnd('seq 1 100')
    const first = (await logs(name)).stdout
    const second = (await logs(name)).stdout
    assert.equal(first.toString().split('\n').length, 101)
    assert.deepEqual(second, first)
  })

  test('-f streams new lines and ends when the container stops', async () => {
    const name = uniqueName('follow')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.5; done'])
    const followed = await docker(['logs', '-f', name], 30_000)
    assert.equal(followed.code, 0, followed.stderr)
    assert.equal(followed.stdout.toString(), 'line1\nline2\nline3\nline4\nline5\n')
  })

  test('fails docker run for an unknown or invalid log-opt, naming it and what is accepted', async () => {
    const unknown = await docker(['run', '--rm', '--network', 'none', '--log-driver', plugin.name, '--log-opt', 'no-such-opt=1', TEST_IMAGE, 'true'])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /unknown log-opt "no-such-opt"/)
    assert.match(unknown.stderr, /accepts .*store-max-bytes/)
    const invalid = await docker(['run', '--rm', '--network', 'none', '--log-driver', plugin.name, '--log-opt', 'store-max-bytes=lots', TEST_IMAGE, 'true'])
    assert.notEqual(invalid.code, 0)
    assert.match(invalid.stderr, /invalid log-opt store-max-bytes="lots".*expected a size/)
  })

  test('accepts the daemon\'s own options: mode=non-blocking and max-buffer-size', async () => {
    const name = await runToEnd('seq 1 10', ['mode=non-blocking', 'max-buffer-size=4m'])
    assert.equal((await logs(name)).stdout.toString(), `${Array.from({ length: 10 }, (_, i) => i + 1).join('\n')}\n`)
  })

  test('20 containers at once: no cross-talk, nothing lost', async () => {
    const names = Array.from({ length: 20 }, (_, i) => ({ i, name: uniqueName(`many${i}`) }))
    await Promise.all(names.map(async ({ i, name }) => await runToEnd(countingScript(2000, `c${i}-`), [], name)))
    for (const { i, name } of names) {
      const lines = (await logs(name)).stdout.toString().split('\n')
      assert.equal(lines.pop(), '')
      assert.equal(lines.length, 2000, `container ${i} line count`)
      assert.ok(lines.every((line, n) => line === `c${i}-${n + 1}`), `container ${i} lines in order and its own`)
    }
  })

  test('reads a container\'s logs while several other containers sit idle', async () => {
    // A FIFO read through the libuv thread pool parks a thread per idle container; with four
    // idle containers every other read hangs (protocol.md, trap 11).
    const idle = Array.from({ length: 6 }, () => uniqueName('idle'))
    for (const name of idle) {
      await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sleep', '300'])
    }
    try {
      const name = await runToEnd('seq 1 500')
      assert.equal((await logs(name, ['--tail', '1'])).stdout.toString(), '500\n')
    } finally {
      await docker(['rm', '-f', ...idle])
    }
  })
})

// The File the plugin is reading for a container, from its saved list of active Files.
function activeFifo (containerId: string): string {
  const active = new ActiveFiles(plugin.stateDir).load()
  const file = [...active].find(([, info]) => info.ContainerID === containerId)?.[0]
  assert.ok(file !== undefined, 'the container has an active FIFO')
  return file
}

async function waitForLogs (name: string, text: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await logs(name)).stdout.toString().includes(text)) return
    await sleep(100)
  }
  assert.fail(`${text} never showed up in docker logs ${name}`)
}

describe('a corrupt FIFO', () => {
  test('garbage in one container\'s FIFO is reported and survived, and other containers are untouched', async () => {
    const victim = uniqueName('corrupt')
    const bystander = uniqueName('bystander')
    await dockerOk(['run', '-d', '--name', victim, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sh', '-c', 'echo before; sleep 3; echo after'])
    await dockerOk(['run', '-d', '--name', bystander, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5; do echo b$i; sleep 0.5; done'])
    await waitForLogs(victim, 'before')
    const id = (await dockerOk(['inspect', '--format', '{{.Id}}', victim])).toString().trim()
    // A second writer on the daemon's FIFO: writes under PIPE_BUF land whole between frames.
    const fd = fs.openSync(activeFifo(id), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
    fs.writeSync(fd, Buffer.from('\x00\x00\x01\x00not a protobuf frame at all\xff\xfe\x00\x00\x00\x09garbage!!'))
    fs.closeSync(fd)
    await docker(['wait', victim], 60_000)
    await docker(['wait', bystander], 60_000)
    assert.equal((await logs(victim)).stdout.toString(), 'before\nafter\n')
    assert.equal((await logs(bystander)).stdout.toString(), 'b1\nb2\nb3\nb4\nb5\n')
    assert.match(plugin.output, /corrupt bytes skipped in the log FIFO/)
  })
})

describe('across a plugin restart', () => {
  test('docker logs still reads a stopped container after the plugin restarts', async () => {
    const name = await runToEnd('seq 1 50')
    await plugin.restart()
    assert.equal((await logs(name)).stdout.toString().split('\n').length, 51)
  })

  test('a plugin with a docker logs -f open still stops on SIGTERM', { timeout: 60_000 }, async () => {
    // A follow read ends only when its container stops; shutdown has to end it, or the plugin
    // hangs until the daemon's SIGKILL.
    const name = uniqueName('follow-stop')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sh', '-c', 'echo started; sleep 300'])
    await waitForLogs(name, 'started')
    const following = docker(['logs', '-f', name], 60_000)
    await sleep(500)
    await plugin.restart()
    await following
    await docker(['rm', '-f', name])
  })

  test('a running container keeps logging across a plugin restart', async () => {
    // The daemon never repeats StartLogging after a plugin restart (protocol.md, trap 13): the
    // plugin has to re-attach to the FIFOs it was reading.
    const name = uniqueName('reattach')
    await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo tick$i; sleep 0.1; done'])
    await sleep(1000)
    await plugin.restart()
    const waited = await docker(['wait', name], 60_000)
    assert.equal(waited.code, 0, waited.stderr)
    const out = (await logs(name)).stdout.toString()
    assert.equal(out, `${Array.from({ length: 40 }, (_, i) => `tick${i + 1}`).join('\n')}\n`)
  })
})

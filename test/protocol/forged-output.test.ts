import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { docker, dockerOk, driverArgs, TEST_IMAGE, uniqueName } from '../helpers/docker.js'
import { daemonFrame } from '../helpers/fifo.js'
import { PluginProcess } from '../helpers/plugin.js'

// Through a real dockerd, whose copier is what makes log injection impossible: it splits a
// container's output at '\n' and drops the '\n', so no line it writes holds the byte 0x0a that
// every frame has four bytes in. The container here prints the very frames it would like to see
// stored as lines of their own, between long runs of text that make the daemon's frames bigger
// than a pipe's atomic write, and the plugin is killed with SIGKILL while it reads, so that it
// restarts inside frames (issue 13).

const plugin = new PluginProcess()

before(async () => await plugin.start())
after(async () => await plugin.cleanup())

test('kill -9 again and again while a container prints frames: docker logs has only the container\'s own lines', { timeout: 300_000 }, async (t) => {
  const forged = daemonFrame('FORGED-LINE', { source: 'stderr' })
  const filler = 'x'.repeat(6000)
  const octal = [...forged].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('')
  // More than the plugin reads in the time of the kills: the pipe stays full, so the daemon's
  // writes of these 12 KB frames go in piecemeal and the plugin's reads end inside frames.
  const rounds = 6000
  const script = `i=0; while [ $i -lt ${rounds} ]; do printf '${octal}${filler}${octal}${filler}\\n'; i=$((i+1)); done`
  // The lines the daemon makes of one round's output: the same every round.
  const round = Buffer.concat([forged, Buffer.from(filler), forged, Buffer.from(filler), Buffer.from('\n')])
  const lines = new Set<string>()
  for (let start = 0, i = 0; i < round.length; i++) {
    if (round[i] !== 0x0a) continue
    lines.add(round.subarray(start, i).toString('latin1'))
    start = i + 1
  }
  const name = uniqueName('forged')
  await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...driverArgs(plugin.name), TEST_IMAGE, 'sh', '-c', script])
  for (let kill = 0; kill < 4; kill++) {
    await sleep(200)
    // Stopped, the plugin lets the pipe fill and the daemon block in the middle of a frame;
    // let go, it reads that half frame at once, and the kill right after cuts it there.
    const pid = plugin.pid as number
    process.kill(pid, 'SIGSTOP')
    await sleep(200)
    process.kill(pid, 'SIGCONT')
    await sleep(2)
    await plugin.stop('SIGKILL')
    await plugin.start()
  }
  const waited = await docker(['wait', name], 120_000)
  assert.equal(waited.code, 0, waited.stderr)
  const result = await docker(['logs', name])
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '', 'a forged stderr line was stored')
  const stored = result.stdout.toString('latin1').split('\n').slice(0, -1)
  const resyncs = plugin.output.split('corrupt bytes skipped').length - 1
  t.diagnostic(`${stored.length} of ${rounds * lines.size} lines stored; ${resyncs} restarts began inside a frame`)
  for (const line of stored) assert.ok(lines.has(line), `docker logs has a line the container never wrote: ${JSON.stringify(line.slice(0, 40))}`)
  assert.ok(stored.length > rounds * lines.size / 2, `${stored.length} of ${rounds * lines.size} lines: the stream went on after the restarts`)
  await docker(['rm', '-f', name])
})

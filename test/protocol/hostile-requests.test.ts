import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { daemonFrame, DaemonFifo } from '../helpers/fifo.js'
import { answerJson, pluginCall, pluginCallOversized } from '../helpers/plugin-client.js'
import { PluginProcess } from '../helpers/plugin.js'

// What a client of the plugin's socket other than a well-behaved daemon can send: each gets a
// clear answer in the form its endpoint must use, and nothing leaks.

const plugin = new PluginProcess()
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-hostile-'))

before(async () => await plugin.start())
after(async () => {
  await plugin.cleanup()
  fs.rmSync(scratch, { recursive: true, force: true })
})

let containers = 0
function info (id = `${'c0ffee'.repeat(10)}${String(++containers).padStart(4, '0')}`): Record<string, unknown> {
  return { ContainerID: id, ContainerName: `/hostile-${containers}`, Config: {} }
}

function openFds (): number {
  return fs.readdirSync(`/proc/${plugin.pid ?? 0}/fd`).length
}

const OVER_LIMIT = 17 * 1024 * 1024

describe('requests the daemon never sends', () => {
  test('StartLogging with a File that is not a FIFO is refused by name and leaks no descriptor', async () => {
    const regular = path.join(scratch, 'regular')
    fs.writeFileSync(regular, 'not a fifo')
    const cases = [[regular, /is not a FIFO/], [scratch, /is not a FIFO/], ['/dev/null', /is not a FIFO/], [path.join(scratch, 'absent'), /does not exist/]] as const
    const before = openFds()
    for (let i = 0; i < 25; i++) {
      for (const [file, expected] of cases) {
        const answer = await pluginCall(plugin.socket, '/LogDriver.StartLogging', { File: file, Info: info() })
        assert.equal(answer.status, 200)
        assert.match(String(answerJson(answer)['Err']), expected, file)
      }
    }
    assert.ok(openFds() <= before + 2, `descriptors grew from ${before} to ${openFds()}`)
  })

  test('a ReadLogs body over the size limit fails with a non-200 status and an Err', async () => {
    const answer = await pluginCallOversized(plugin.socket, '/LogDriver.ReadLogs', OVER_LIMIT)
    assert.equal(answer.status, 413)
    assert.match(String(answerJson(answer)['Err']), /body/i)
  })

  test('StopLogging answers success to anything: over the limit, empty, not JSON, no File', async () => {
    const oversized = await pluginCallOversized(plugin.socket, '/LogDriver.StopLogging', OVER_LIMIT)
    for (const answer of [oversized, ...await Promise.all(['', 'not json', { Info: {} }].map(async (body) => await pluginCall(plugin.socket, '/LogDriver.StopLogging', body)))]) {
      assert.equal(answer.status, 200)
      assert.deepEqual(answerJson(answer), { Err: '' })
    }
  })

  test('StartLogging over the size limit answers 200 with an Err', async () => {
    const answer = await pluginCallOversized(plugin.socket, '/LogDriver.StartLogging', OVER_LIMIT)
    assert.equal(answer.status, 200)
    assert.match(String(answerJson(answer)['Err']), /body/i)
  })

  test('ReadLogs refuses impossible dates by field, with a non-200 status', async () => {
    for (const since of ['2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00Z']) {
      const answer = await pluginCall(plugin.socket, '/LogDriver.ReadLogs', { Info: info(), Config: { Since: since, Tail: -1 } })
      assert.equal(answer.status, 500)
      assert.match(String(answerJson(answer)['Err']), /Config\.Since is not a valid date and time/)
    }
  })

  test('ReadLogs for a container the store never had answers no lines and creates nothing', async () => {
    const containersDir = path.join(plugin.stateDir, 'containers')
    const before = fs.readdirSync(containersDir).length
    for (let i = 0; i < 20; i++) {
      const answer = await pluginCall(plugin.socket, '/LogDriver.ReadLogs', { Info: info(), Config: { Tail: -1, Follow: true } })
      assert.equal(answer.status, 200)
      assert.equal(answer.body.length, 0)
    }
    assert.equal(fs.readdirSync(containersDir).length, before)
  })

  test('a ReadLogs client that goes away mid-stream is not logged as an error', async () => {
    const fifo = new DaemonFifo()
    const container = info()
    try {
      const started = await pluginCall(plugin.socket, '/LogDriver.StartLogging', { File: fifo.path, Info: container })
      assert.deepEqual(answerJson(started), { Err: '' })
      await fifo.write(Buffer.concat(Array.from({ length: 20_000 }, (_, i) => daemonFrame(`line ${i} ${'x'.repeat(200)}`))))
      const mark = plugin.output.length
      for (let i = 0; i < 5; i++) {
        // Reads the first bytes of a follow read, then drops the connection.
        await new Promise<void>((resolve, reject) => {
          const req = http.request({ socketPath: plugin.socket, path: '/LogDriver.ReadLogs', method: 'POST' }, (res) => {
            res.once('data', () => { req.destroy(); resolve() })
          })
          req.on('error', (err) => { if (!req.destroyed) reject(err) })
          req.end(JSON.stringify({ Info: container, Config: { Tail: -1, Follow: true } }))
        })
      }
      await sleep(500)
      const logged = plugin.output.slice(mark)
      assert.doesNotMatch(logged, /"level":50/, logged)
      assert.doesNotMatch(logged, /"stack"/, logged)
    } finally {
      await pluginCall(plugin.socket, '/LogDriver.StopLogging', { File: fifo.path })
      fifo.remove()
    }
  })
})

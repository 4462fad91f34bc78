import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { pino } from 'pino'
import { LocalStore } from '../../src/store/local-store.js'
import { readLogs } from '../../src/store/read-logs.js'

const silent = pino({ level: 'silent' })
const dirs: string[] = []
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }) })

function tempDir (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-store-'))
  dirs.push(dir)
  return dir
}

function write (store: LocalStore, id: string, lines: number, size = 100): void {
  const log = store.container(id)
  log.streamStarted()
  for (let i = 0; i < lines; i++) {
    log.append({ stream: 'stdout', time: { hi: 0, lo: i }, line: Buffer.from(String(i).padStart(size, '0')), complete: true })
  }
  log.streamEnded()
}

async function readAll (store: LocalStore, id: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of readLogs(store.container(id), { since: undefined, until: undefined, tail: -1, follow: false }, new AbortController().signal)) chunks.push(c)
  return Buffer.concat(chunks)
}

test('a container\'s ring keeps its newest lines within its size cap', async () => {
  const store = new LocalStore(tempDir(), { totalMaxSize: 1e12, retentionMs: 1e12 }, 256 * 1024, silent)
  write(store, 'c1', 10_000)
  const log = store.container('c1')
  assert.ok(log.size <= 256 * 1024, `store holds ${log.size} bytes`)
  const frames = await readAll(store, 'c1')
  assert.ok(frames.length > 0)
  // The newest line is always there; the oldest went first.
  assert.ok(frames.includes(Buffer.from(String(9999).padStart(100, '0'))))
  assert.ok(!frames.includes(Buffer.from(String(0).padStart(100, '0'))))
})

test('the sweep removes stopped containers past retention, then the least recently written past the total cap', () => {
  const dir = tempDir()
  const store = new LocalStore(dir, { totalMaxSize: 300 * 1024, retentionMs: 3_600_000 }, 1024 * 1024, silent)
  for (const id of ['old', 'older', 'recent', 'newest']) write(store, id, 1000)
  const now = Date.now()
  const age = (id: string, ms: number): void => {
    const cdir = path.join(dir, 'containers', id)
    for (const f of fs.readdirSync(cdir)) fs.utimesSync(path.join(cdir, f), (now - ms) / 1000, (now - ms) / 1000)
  }
  age('older', 2 * 3_600_000)
  age('old', 1_800_000)
  age('recent', 60_000)
  age('newest', 1000)
  // 'running' is active: never removed, whatever its age.
  const running = store.container('running')
  running.streamStarted()
  running.append({ stream: 'stdout', time: { hi: 0, lo: 1 }, line: Buffer.from('x'), complete: true })
  running.flush()
  age('running', 10 * 3_600_000)
  store.sweep(() => false, now)
  const left = fs.readdirSync(path.join(dir, 'containers')).sort()
  // 'older' is past retention; each of the others holds ~116 KB, so the total cap keeps two.
  assert.deepEqual(left, ['newest', 'recent', 'running'])
  running.streamEnded()
})

test('a small cap still keeps most of its size in lines', async () => {
  // The ring drops a whole segment at a time; with one segment the size of the cap, a 64k
  // store kept a handful of lines after every rotation.
  const store = new LocalStore(tempDir(), { totalMaxSize: 1e12, retentionMs: 1e12 }, 64 * 1024, silent)
  write(store, 'small', 20_000)
  const frames = await readAll(store, 'small')
  assert.ok(frames.length >= 0.7 * 64 * 1024 * (100 / 116) * 0.9, `kept ${frames.length} bytes of frames`)
  assert.ok(store.container('small').size <= 64 * 1024)
})

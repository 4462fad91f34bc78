import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import { ActiveFiles } from '../../src/protocol/active-files.js'
import type { ContainerInfo } from '../../src/protocol/container-info.js'

const dirs: string[] = []
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }) })

function stateDir (): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-active-'))
  dirs.push(dir)
  return dir
}

function info (id: string): ContainerInfo {
  return {
    Config: { sink: 'http' }, ContainerID: id, ContainerName: `/c-${id}`, ContainerEntrypoint: 'sh', ContainerArgs: ['-c', 'true'],
    ContainerImageID: 'sha256:x', ContainerImageName: 'busybox', ContainerCreated: '2026-12-02T00:00:00Z',
    ContainerEnv: ['SECRET=1'], ContainerLabels: { big: 'x'.repeat(10_000) }, LogPath: '', DaemonName: 'docker',
  }
}

test('what is added and not removed is what a restarted plugin loads, with only the env it keeps', () => {
  const dir = stateDir()
  const active = new ActiveFiles(dir)
  for (let i = 0; i < 1000; i++) active.add(`/run/docker/logging/${i}`, info(String(i)), { KEPT: 'yes' })
  for (let i = 0; i < 1000; i += 2) active.remove(`/run/docker/logging/${i}`)
  active.remove('/run/docker/logging/never-added')
  const loaded = new ActiveFiles(dir).load()
  assert.deepEqual([...loaded.keys()].sort(), Array.from({ length: 500 }, (_, i) => `/run/docker/logging/${2 * i + 1}`).sort())
  assert.deepEqual(loaded.get('/run/docker/logging/7')?.ContainerEnv, ['KEPT=yes'])
  assert.equal(loaded.get('/run/docker/logging/7')?.ContainerLabels?.['big']?.length, 10_000)
})

test('the single list an older plugin kept is taken over, then removed', () => {
  const dir = stateDir()
  fs.writeFileSync(path.join(dir, 'active-files.json'), JSON.stringify({ '/run/docker/logging/a': info('a'), '/run/docker/logging/b': info('b') }))
  const active = new ActiveFiles(dir)
  assert.deepEqual([...active.load().keys()].sort(), ['/run/docker/logging/a', '/run/docker/logging/b'])
  assert.equal(fs.existsSync(path.join(dir, 'active-files.json')), false)
  active.remove('/run/docker/logging/a')
  assert.deepEqual([...new ActiveFiles(dir).load().keys()], ['/run/docker/logging/b'])
})

test('an entry torn by a crash is skipped, not fatal', () => {
  const dir = stateDir()
  const active = new ActiveFiles(dir)
  active.add('/run/docker/logging/ok', info('ok'), {})
  fs.writeFileSync(path.join(dir, 'active', 'torn.json'), '{"file":"/run/dock')
  assert.deepEqual([...active.load().keys()], ['/run/docker/logging/ok'])
})

import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { projectRoot, readPluginConfig } from '../scripts/plugin-dir.js'
import { envName, readOptionDefaults } from '../src/options/schema.js'
import { logOptionSpecs, pluginSettingSpecs, readPluginSettings } from '../src/settings.js'

// config.json is what `docker plugin install` and `docker plugin set` work from; these keep it
// in step with the settings the code reads (src/settings.ts) and with protocol.md's rules for a
// log driver (Q7, items 38 and 39).

const config = readPluginConfig()
const env = new Map(config.env.map((e) => [e.name, e]))
const pluginEnvNames = new Set(pluginSettingSpecs.map((s) => s.env))
const logOptionByEnv = new Map(logOptionSpecs.map((s) => [envName(s.name), s]))
// Tied to interface.socket and propagatedMount: changing them with `docker plugin set` would
// break the plugin, so they are not settable.
const FIXED = new Set(['LOGRELAY_SOCKET', 'LOGRELAY_STATE_DIR'])

describe('config.json', () => {
  test('declares a log driver on its socket, on the host network, with no mount over the FIFOs', () => {
    assert.deepEqual(config.interfaceTypes, ['docker.logdriver/1.0'])
    assert.equal(env.get('LOGRELAY_SOCKET')?.value, `/run/docker/plugins/${config.socket}`)
    assert.equal(config.networkType, 'host')
    for (const destination of [...config.mountDestinations, config.propagatedMount]) {
      const covered = path.posix.relative(destination, '/run/docker/logging')
      assert.ok(covered.startsWith('..'), `${destination} would hide /run/docker/logging, where the daemon makes the FIFOs`)
    }
  })

  test('keeps the state directory on the propagatedMount, which survives upgrades', () => {
    const stateDir = pluginSettingSpecs.find((s) => s.env === 'LOGRELAY_STATE_DIR')
    assert.equal(config.propagatedMount, stateDir?.default)
    assert.equal(env.get('LOGRELAY_STATE_DIR')?.value, config.propagatedMount)
  })

  test('lists every plugin setting, and every env entry is a plugin setting or a log-opt default', () => {
    for (const name of pluginEnvNames) assert.ok(env.has(name), `${name} is missing`)
    for (const name of env.keys()) assert.ok(pluginEnvNames.has(name) || logOptionByEnv.has(name), `${name} is no setting logrelay reads`)
    assert.equal(env.size, config.env.length, 'an env entry is listed twice')
  })

  test('has an env entry for every log-opt, since docker plugin set refuses names it does not list', () => {
    // The README promises every log-opt a plugin-wide default; a sink's new options need
    // entries here, and the message gives them ready to paste.
    const missing = logOptionSpecs.filter((s) => !env.has(envName(s.name))).map((s) => ({
      name: envName(s.name), description: `Default for --log-opt ${s.name}`, settable: ['value'], value: s.default ?? '',
    }))
    assert.deepEqual(missing, [], `add to config.json's env:\n${missing.map((m) => JSON.stringify(m)).join(',\n')}`)
  })

  test('gives the defaults the code uses, so docker plugin inspect shows what is in force', () => {
    for (const e of config.env) {
      const spec = pluginSettingSpecs.find((s) => s.env === e.name) ?? logOptionByEnv.get(e.name)
      assert.equal(e.value, spec?.default ?? '', e.name)
    }
    const values = Object.fromEntries(config.env.map((e) => [e.name, e.value]))
    assert.doesNotThrow(() => readPluginSettings(values))
    assert.doesNotThrow(() => readOptionDefaults(logOptionSpecs, values))
  })

  test('lets docker plugin set change every value except the socket and the state directory', () => {
    for (const e of config.env) assert.deepEqual(e.settable, FIXED.has(e.name) ? [] : ['value'], e.name)
  })

  test('runs node on dist/src/main.js where the Dockerfile puts the app', () => {
    assert.deepEqual(config.entrypoint, ['/usr/local/bin/node', 'dist/src/main.js'])
    const workdirs = [...fs.readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8').matchAll(/^WORKDIR\s+(\S+)/gm)].map((m) => m[1])
    assert.equal(workdirs.at(-1), config.workdir)
    assert.ok(fs.existsSync(path.join(projectRoot, 'dist/src/main.js')))
  })
})

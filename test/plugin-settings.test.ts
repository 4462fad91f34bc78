import assert from 'node:assert/strict'
import { after, test } from 'node:test'
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

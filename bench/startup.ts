import { setTimeout as sleep } from 'node:timers/promises'
import { PluginProcess } from '../test/helpers/plugin.js'
import { median } from './core.js'

// Plugin start to listening: the daemon dials a managed plugin's socket 0.5 s after starting
// it, then every 3 s, and disables it after about 9.5 s; missing the first dial makes every
// `docker plugin enable` and every restart after a crash take 3.5 s. Measured here on the
// host's node; test/managed-plugin.test.ts records the same figure inside the plugin.
export async function benchStartup (starts: number): Promise<void> {
  console.log(`\n## Plugin start to listening (${starts} starts)`)
  const logged: number[] = []
  const connected: number[] = []
  for (let i = 0; i < starts; i++) {
    const plugin = new PluginProcess()
    const started = performance.now()
    await plugin.start()
    connected.push(performance.now() - started)
    // The line is written just after listen(), so it may trail the first connection a little.
    for (let tries = 0; tries < 20 && !plugin.output.includes('startupMs'); tries++) await sleep(25)
    logged.push(Number(/"startupMs":(\d+)/.exec(plugin.output)?.[1] ?? NaN))
    await plugin.cleanup()
  }
  const fmt = (values: readonly number[]): string => `median ${Math.round(median(values))} ms, max ${Math.round(Math.max(...values))} ms`
  console.log(`startupMs the plugin logs (process start to listening): ${fmt(logged)} (target < 2000 ms; the daemon's first dial is at 500 ms)`)
  console.log(`spawn to first connection (50 ms polling): ${fmt(connected)}`)
}

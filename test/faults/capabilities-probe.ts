import { setTimeout as sleep } from 'node:timers/promises'
import { pluginCall } from '../helpers/plugin-api.js'

// Run by CapabilitiesProbe (test/helpers/plugin-api.ts) as a process of its own, so that what it
// measures is the plugin's event loop and not the test's: every 10 ms until stdin closes, one
// Capabilities call on a new connection to the plugin and, at the same moment, one to an idle
// reference server (capabilities-reference.ts). How much longer the plugin's answer took than
// the reference's is how long the plugin's event loop stood still, whatever else the host ran.
// Calls count only while measuring, from the first "on" on stdin to an "off" and so on
// (CapabilitiesProbe.measure): the plugin loading its modules at start is no stall.
const [plugin = '', reference = ''] = process.argv.slice(2)
let running = true
let measuring = false
process.stdin.on('data', (b: Buffer) => {
  const last = b.toString().trim().split('\n').at(-1)
  if (last === 'on' || last === 'off') measuring = last === 'on'
})
process.stdin.on('end', () => { running = false })

async function timed (socket: string): Promise<number> {
  const started = performance.now()
  const answer = await pluginCall(socket, '/LogDriver.Capabilities')
  if (answer.status !== 200) throw new Error(`Capabilities answered ${answer.status}`)
  return performance.now() - started
}

const calls: Array<{ atMs: number, pluginMs: number, referenceMs: number }> = []
let failures = 0
while (running) {
  const atMs = performance.now()
  const counted = measuring
  try {
    const [pluginMs, referenceMs] = await Promise.all([timed(plugin), timed(reference)])
    if (counted && measuring) calls.push({ atMs, pluginMs, referenceMs })
  } catch {
    failures++
  }
  await sleep(10)
}
const round = (ms: number): number => Math.round(ms * 10) / 10
const max = (f: (c: typeof calls[number]) => number): number => round(Math.max(0, ...calls.map(f)))
const slowest = [...calls].sort((a, b) => (b.pluginMs - b.referenceMs) - (a.pluginMs - a.referenceMs)).slice(0, 5)
process.stdout.write(JSON.stringify({
  calls: calls.length,
  failures,
  maxMs: max((c) => c.pluginMs),
  referenceMaxMs: max((c) => c.referenceMs),
  maxExcessMs: max((c) => c.pluginMs - c.referenceMs),
  slowest: slowest.map((c) => ({ atMs: Math.round(c.atMs), pluginMs: round(c.pluginMs), referenceMs: round(c.referenceMs) })),
}))

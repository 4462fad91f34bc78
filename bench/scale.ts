import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { TEST_IMAGE, uniqueName } from '../test/helpers/docker.js'
import { PluginProcess } from '../test/helpers/plugin.js'
import { waitUntil } from '../test/helpers/process.js'
import { cpuSeconds, linesScript } from './core.js'
import { inParallel, killContainer, logLineCount, removeContainer, runContainer, waitContainer } from './docker-api.js'
import { percentiles, RequestTimer } from './request-timer.js'

// A large host (issue 13): 1,000 idle containers with 10 KB of labels each and 20 busy ones,
// the 1,000 stopped at once, and 500 concurrent `docker logs`, through a real dockerd. Each
// figure is printed beside its reference in the same go: the same busy workload with no idle
// containers, the first StartLoggings against the last, the plugin's RSS before the readers.

const START = '/LogDriver.StartLogging'
const STOP = '/LogDriver.StopLogging'

function rssMb (pid: number | undefined): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? NaN) / 1024
}

// The highest RSS seen while `during` runs, sampled every 50 ms.
async function peakRssDuring (pid: number | undefined, during: () => Promise<unknown>): Promise<number> {
  let peak = rssMb(pid)
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(pid)) }, 50)
  try {
    await during()
  } finally {
    clearInterval(sampler)
  }
  return Math.max(peak, rssMb(pid))
}

interface BusyRun {
  readonly ids: string[]
  readonly cpuMicrosPerLine: number
  readonly peakRss: number
}

async function busy (driver: string, plugin: PluginProcess, containers: number, lines: number): Promise<BusyRun> {
  const cpuBefore = cpuSeconds(plugin.pid)
  const ids: string[] = []
  const peakRss = await peakRssDuring(plugin.pid, async () => {
    ids.push(...await inParallel(Array.from({ length: containers }, () => uniqueName('busy')), containers, async (name) =>
      await runContainer(name, { image: TEST_IMAGE, cmd: ['sh', '-c', linesScript(lines)], logDriver: driver })))
    await Promise.all(ids.map(waitContainer))
  })
  return { ids, cpuMicrosPerLine: (cpuSeconds(plugin.pid) - cpuBefore) / (containers * lines) * 1e6, peakRss }
}

export async function benchScale (idleCount = 1000, busyCount = 20, busyLines = 20_000, readers = 500): Promise<void> {
  const plugin = new PluginProcess()
  await plugin.start()
  const timer = new RequestTimer(`/run/docker/plugins/${plugin.name}-timed.sock`, plugin.socket)
  await timer.listen()
  const driver = `${plugin.name}-timed`
  const everything: string[] = []
  try {
    console.log(`\n## A large host: ${idleCount} idle containers with 10 KB of labels, ${busyCount} busy ones of ${busyLines.toLocaleString()} lines`)
    // The first run warms the plugin (JIT, pools) so the reference is not its cold start.
    const warmup = await busy(driver, plugin, busyCount, busyLines)
    const reference = await busy(driver, plugin, busyCount, busyLines)
    everything.push(...warmup.ids, ...reference.ids)
    const referenceStarts = timer.take(START)
    timer.take(STOP)

    const labels = { 'bench.padding': 'x'.repeat(10 * 1024) }
    const idle = await inParallel(Array.from({ length: idleCount }, () => uniqueName('idle')), 8, async (name) =>
      await runContainer(name, { image: TEST_IMAGE, cmd: ['sleep', '3600'], logDriver: driver, labels }))
    everything.push(...idle)
    const idleStarts = timer.take(START)
    const rssIdle = rssMb(plugin.pid)

    const loaded = await busy(driver, plugin, busyCount, busyLines)
    everything.push(...loaded.ids)
    const loadedStarts = timer.take(START)
    timer.take(STOP)

    console.log(`StartLogging, ${busyCount} containers on an idle plugin (reference): ${percentiles(referenceStarts)}`)
    console.log(`StartLogging, the first 100 of the ${idleCount} idle: ${percentiles(idleStarts.slice(0, 100))}`)
    console.log(`StartLogging, the last 100 of the ${idleCount} idle: ${percentiles(idleStarts.slice(-100))}`)
    console.log(`StartLogging, ${busyCount} busy beside ${idleCount} idle: ${percentiles(loadedStarts)}`)
    console.log(`plugin RSS with ${idleCount} idle containers: ${rssIdle.toFixed(0)} MB`)
    console.log(`busy containers' plugin CPU per line: ${loaded.cpuMicrosPerLine.toFixed(2)} µs beside ${idleCount} idle, ${reference.cpuMicrosPerLine.toFixed(2)} µs alone; ratio ${(loaded.cpuMicrosPerLine / reference.cpuMicrosPerLine).toFixed(3)}`)
    console.log(`peak plugin RSS while busy: ${loaded.peakRss.toFixed(0)} MB beside ${idleCount} idle, ${reference.peakRss.toFixed(0)} MB alone`)

    if (readers > 0) await concurrentReads(plugin, loaded.ids, busyLines, readers)

    // The reads of stopped containers came with their own StartLogging and StopLogging.
    timer.take(START)
    timer.take(STOP)
    const stopping = performance.now()
    const refused = (await Promise.all(idle.map(async (id) => await killContainer(id).then(() => undefined, (err: unknown) => String(err))))).filter((e) => e !== undefined)
    // The daemon takes minutes to reap a thousand containers on two cores; each StopLogging's own
    // latency is the figure, not how long the daemon takes to send them all.
    try {
      await waitUntil('every StopLogging answered', () => timer.count(STOP) >= idleCount - refused.length, 600_000)
    } catch (err) {
      console.log(`  ${err instanceof Error ? err.message : String(err)}: ${timer.count(STOP)} of ${idleCount} came`)
    }
    const stops = timer.take(STOP)
    console.log(`${idleCount} containers killed at once (${refused.length} kills refused${refused.length > 0 ? `: ${refused[0]}` : ''}): StopLoggings answered within ${((performance.now() - stopping) / 1000).toFixed(1)} s; ` +
      `StopLogging ${percentiles(stops)} (target: max < 2000 ms)`)
  } finally {
    await inParallel(everything, 16, removeContainer)
    await timer.close()
    await plugin.cleanup()
  }
}

// `readers` concurrent `docker logs` of the stopped containers `sources`, each of `lines` lines.
async function concurrentReads (plugin: PluginProcess, sources: readonly string[], lines: number, readers: number): Promise<void> {
  const rssBefore = rssMb(plugin.pid)
  let counts: (number | string)[] = []
  const started = performance.now()
  const peak = await peakRssDuring(plugin.pid, async () => {
    counts = await Promise.all(Array.from({ length: readers }, async (_, i) =>
      await logLineCount(sources[i % sources.length] as string).catch((err: unknown) => err instanceof Error ? err.message : String(err))))
  })
  const seconds = (performance.now() - started) / 1000
  await sleep(5000)
  const whole = counts.filter((c) => c === lines).length
  console.log(`${readers} concurrent docker logs of ${lines.toLocaleString()} lines: ${whole}/${readers} whole in ${seconds.toFixed(1)} s; ` +
    `plugin RSS ${rssBefore.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB (target < 400 MB), ${rssMb(plugin.pid).toFixed(0)} MB 5 s after`)
  const short = [...new Set(counts.filter((c) => c !== lines))].slice(0, 3)
  if (short.length > 0) console.log(`  not whole: ${short.map((c) => typeof c === 'number' ? `${c} lines` : c).join('; ')}`)
}

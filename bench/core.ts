import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { docker, dockerOk, TEST_IMAGE, uniqueName } from '../test/helpers/docker.js'
import { PluginProcess } from '../test/helpers/plugin.js'

// The core's benchmarks (issue 2): throughput of the whole path container → dockerd → plugin
// → local store against a plugin that only drains, peak memory with many containers, and the
// time of `docker logs --tail 100` on a large store. Printed, never asserted.

const DRAIN = fileURLToPath(new URL('./drain-plugin.js', import.meta.url))
const LINE_BYTES = 100

export function drainPlugin (): PluginProcess {
  return new PluginProcess({}, DRAIN)
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

// Peak resident memory of a process so far (the kernel's high-water mark).
export function peakRssMb (pid: number | undefined): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return Number(match?.[1] ?? NaN) / 1024
}

// Lines of exactly LINE_BYTES bytes, newline included, written as fast as busybox can.
export function linesScript (lines: number): string {
  return `yes ${'x'.repeat(LINE_BYTES - 1)} | head -n ${lines}`
}

// Wall time from `docker run` to the container's exit, which waits for the plugin whenever the
// plugin reads slower than the container writes (mode=blocking).
export async function timedRun (driver: string, script: string, opts: readonly string[] = []): Promise<{ seconds: number, name: string }> {
  const name = uniqueName('bench')
  const start = process.hrtime.bigint()
  await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', driver, ...opts, TEST_IMAGE, 'sh', '-c', script])
  const waited = await docker(['wait', name], 600_000)
  if (waited.code !== 0) throw new Error(`docker wait ${name}: ${waited.stderr}`)
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, name }
}

export interface Rate {
  readonly linesPerSec: number
  // CPU time of the plugin process (all its threads) per line: steadier than the line rate on a
  // shared machine, and what decides the rate when the cores are all busy.
  readonly cpuMicrosPerLine: number
}

// User and system CPU seconds in a /proc/<pid>/stat line (clock ticks of 1/100 s): the
// process's own, or those of its children it has waited for.
export function statCpuSeconds (stat: string, whose: 'own' | 'children' = 'own'): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const at = whose === 'own' ? 11 : 13
  return (Number(fields[at]) + Number(fields[at + 1])) / 100
}

// User and system CPU time of a process so far.
export function cpuSeconds (pid: number | undefined): number {
  return statCpuSeconds(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
}

// One container writing `lines` lines through `plugin` with these log-opts, from `docker run`
// until it has exited and, when `delivered` is given, until that many more records reached the
// backend; with the plugin's CPU over the same span.
// What a container other than linesScript's writes: its script, the docker run arguments it
// needs (a mount), and the records its lines become.
export interface Workload {
  readonly script: string
  readonly args: readonly string[]
  readonly records: number
}

export async function measure (plugin: PluginProcess, lines: number, opts: readonly string[], delivered?: () => number | Promise<number>, workload?: Workload): Promise<Rate> {
  const name = uniqueName('bench')
  const before = await delivered?.() ?? 0
  const records = workload?.records ?? lines
  const cpuBefore = cpuSeconds(plugin.pid)
  const start = process.hrtime.bigint()
  await dockerOk(['run', '-d', '--name', name, '--network', 'none', ...(workload?.args ?? []), '--log-driver', plugin.name, ...opts.flatMap((o) => ['--log-opt', o]),
    TEST_IMAGE, 'sh', '-c', workload?.script ?? linesScript(lines)])
  const waited = await docker(['wait', name], 600_000)
  if (waited.code !== 0) throw new Error(`docker wait ${name}: ${waited.stderr}`)
  const deadline = Date.now() + 600_000
  while (delivered !== undefined && await delivered() - before < records) {
    if (Date.now() > deadline) throw new Error(`${await delivered() - before} of ${records} records delivered after 10 minutes`)
    await sleep(5)
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = cpuSeconds(plugin.pid) - cpuBefore
  await docker(['rm', '-f', name])
  return { linesPerSec: lines / seconds, cpuMicrosPerLine: cpu / lines * 1e6 }
}

export function medianRate (values: readonly Rate[]): Rate {
  return { linesPerSec: median(values.map((v) => v.linesPerSec)), cpuMicrosPerLine: median(values.map((v) => v.cpuMicrosPerLine)) }
}

// One row of a rate table: the median rate and CPU per line, then each run's rate.
export function showRate (label: string, rate: Rate, runs: readonly Rate[], unit = 'lines'): void {
  console.log(`${label.padEnd(22)} ${Math.round(rate.linesPerSec).toLocaleString().padStart(9)} ${unit}/s  ${rate.cpuMicrosPerLine.toFixed(1).padStart(5)} µs CPU/${unit.replace(/s$/, '')}` +
    `  runs: ${runs.map((v) => Math.round(v.linesPerSec).toLocaleString()).join(', ')}`)
}

export async function timedLogs (args: readonly string[]): Promise<number> {
  const start = process.hrtime.bigint()
  const result = await docker(['logs', ...args])
  if (result.code !== 0) throw new Error(`docker logs: ${result.stderr}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

export async function benchCore (rounds: number, lines: number): Promise<void> {
  const logrelay = new PluginProcess()
  const drain = drainPlugin()
  await logrelay.start()
  await drain.start()
  try {
    console.log(`\n## Throughput: ${lines.toLocaleString()} lines of ${LINE_BYTES} bytes from one container (${rounds} rounds, in turns)`)
    const times = { drain: [] as number[], logrelay: [] as number[] }
    let bigContainer = ''
    for (let r = 0; r < rounds; r++) {
      times.drain.push((await timedRun(drain.name, linesScript(lines))).seconds)
      const run = await timedRun(logrelay.name, linesScript(lines), ['--log-opt', 'store-max-bytes=1g'])
      times.logrelay.push(run.seconds)
      bigContainer = run.name
    }
    const d = median(times.drain)
    const l = median(times.logrelay)
    console.log(`drain-only plugin: ${d.toFixed(2)} s (${Math.round(lines / d).toLocaleString()} lines/s)  runs: ${times.drain.map((t) => t.toFixed(2)).join(', ')}`)
    console.log(`logrelay (local store): ${l.toFixed(2)} s (${Math.round(lines / l).toLocaleString()} lines/s)  runs: ${times.logrelay.map((t) => t.toFixed(2)).join(', ')}`)
    console.log(`ratio logrelay/drain wall time: ${(l / d).toFixed(3)} (target <= 1.2)`)

    console.log(`\n## docker logs --tail 100 on a container holding ${lines.toLocaleString()} lines`)
    const jsonFile = await timedRun('json-file', linesScript(lines))
    const tail = (name: string): Promise<number> => timedLogs(['--tail', '100', name])
    const tailTimes = { logrelay: [] as number[], jsonFile: [] as number[] }
    for (let i = 0; i < 5; i++) {
      tailTimes.logrelay.push(await tail(bigContainer))
      tailTimes.jsonFile.push(await tail(jsonFile.name))
    }
    const tl = median(tailTimes.logrelay)
    const tj = median(tailTimes.jsonFile)
    console.log(`logrelay: ${tl.toFixed(1)} ms (target < 100 ms); json-file reference: ${tj.toFixed(1)} ms; ratio ${(tl / tj).toFixed(2)}`)
    await docker(['rm', '-f', jsonFile.name, bigContainer])

    console.log('\n## Peak RSS with 100 idle and 10 busy containers')
    for (const plugin of [drain, logrelay]) {
      const idle = Array.from({ length: 100 }, () => uniqueName('idle'))
      for (const name of idle) await dockerOk(['run', '-d', '--name', name, '--network', 'none', '--log-driver', plugin.name, TEST_IMAGE, 'sleep', '3600'])
      await Promise.all(Array.from({ length: 10 }, async () => await timedRun(plugin.name, linesScript(Math.ceil(lines / 10)))))
      console.log(`${plugin === drain ? 'drain-only plugin' : 'logrelay'}: peak RSS ${peakRssMb(plugin.pid).toFixed(1)} MB${plugin === logrelay ? ' (target < 200 MB)' : ''}`)
      await docker(['rm', '-f', ...idle], 300_000)
    }
  } finally {
    await logrelay.cleanup()
    await drain.cleanup()
  }
}

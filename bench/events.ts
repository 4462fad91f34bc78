import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { measure, median, type Rate, type Workload } from './core.js'
import { countingServer } from './http-sink.js'
import { PluginProcess } from '../test/helpers/plugin.js'

// Events (issue 16): the plugin's CPU per stored line with multiline grouping on (the java
// preset, over a log whose lines are 5% stack traces) and with parse=json on (pino's lines),
// each against the same log shipped line by line, through dockerd to an HTTP server that counts
// records. Runs go in turns, so a noisy neighbour hits them alike.

const TRACE_LINES = 20
// One trace per this many lines: 20 of every 400 lines, 5%, are in traces.
const TRACE_EVERY = 400

function plainLine (i: number): string {
  return `2026-12-03 08:00:00.${String(i % 1000).padStart(3, '0')} INFO  [http-nio-8080-exec-4] c.e.shop.OrderService - handled request id=${i} status=200`
}

// A logback-style ERROR line and the exception it reports: 20 lines.
function trace (i: number): string[] {
  const frames = Array.from({ length: 16 }, (_, f) => `\tat com.example.shop.OrderService.step${f}(OrderService.java:${100 + f})`)
  return [`2026-12-03 08:00:00.000 ERROR [http-nio-8080-exec-4] c.e.shop.OrderService - request failed id=${i}`,
    `java.lang.IllegalStateException: order ${i} cannot be placed`, ...frames, 'Caused by: java.io.IOException: connection reset', '\t... 16 more']
}

function pinoLine (i: number): string {
  return `{"level":${i % 50 === 0 ? 50 : 30},"time":${1733212800000 + i},"pid":7,"hostname":"web-1","reqId":"req-${i}","msg":"request completed","res":{"statusCode":200},"responseTime":${(i % 97) / 10}}`
}

interface Logs {
  readonly dir: string
  readonly java: { file: string, events: number }
  readonly json: string
}

function writeLogs (lines: number): Logs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logrelay-bench-events-'))
  const java: string[] = []
  let events = 0
  for (let i = 0; java.length < lines; i++) {
    if (i % (TRACE_EVERY - TRACE_LINES + 1) === TRACE_EVERY - TRACE_LINES) java.push(...trace(i))
    else java.push(plainLine(i))
    events++
  }
  // The last trace may run past `lines`: the log is cut at a whole event.
  fs.writeFileSync(path.join(dir, 'java.log'), `${java.join('\n')}\n`)
  fs.writeFileSync(path.join(dir, 'json.log'), `${Array.from({ length: lines }, (_, i) => pinoLine(i)).join('\n')}\n`)
  return { dir, java: { file: 'java.log', events }, json: 'json.log' }
}

export async function benchEvents (rounds: number, lines: number): Promise<void> {
  const logs = writeLogs(lines)
  const javaLines = fs.readFileSync(path.join(logs.dir, logs.java.file), 'utf8').split('\n').length - 1
  const plugin = new PluginProcess({ LOG_LEVEL: 'warn' })
  const server = await countingServer()
  await plugin.start()
  try {
    const args = ['-v', `${logs.dir}:/logs:ro`]
    const javaLog = (records: number): Workload => ({ script: `cat /logs/${logs.java.file}`, args, records })
    const jsonLog: Workload = { script: `cat /logs/${logs.json}`, args, records: lines }
    const http = ['store-max-bytes=1g', 'sink=http', `http-url=${server.url}`]
    const runs = {
      javaLines: [] as Rate[], javaEvents: [] as Rate[], jsonLines: [] as Rate[], jsonParsed: [] as Rate[], jsonPromoted: [] as Rate[],
    }
    for (let r = 0; r < rounds; r++) {
      runs.javaLines.push(await measure(plugin, javaLines, http, server.records, javaLog(javaLines)))
      runs.javaEvents.push(await measure(plugin, javaLines, [...http, 'multiline=java'], server.records, javaLog(logs.java.events)))
      runs.jsonLines.push(await measure(plugin, lines, http, server.records, jsonLog))
      runs.jsonParsed.push(await measure(plugin, lines, [...http, 'parse=json'], server.records, jsonLog))
      runs.jsonPromoted.push(await measure(plugin, lines, [...http, 'parse=json', 'parse-json-promote=message,level,time'], server.records, jsonLog))
    }
    const mid = (values: readonly Rate[]): Rate => ({ linesPerSec: median(values.map((v) => v.linesPerSec)), cpuMicrosPerLine: median(values.map((v) => v.cpuMicrosPerLine)) })
    const show = (label: string, values: readonly Rate[]): Rate => {
      const rate = mid(values)
      console.log(`${label.padEnd(40)} ${Math.round(rate.linesPerSec).toLocaleString().padStart(9)} lines/s  ${rate.cpuMicrosPerLine.toFixed(2).padStart(6)} µs CPU/line` +
        `  runs: ${values.map((v) => v.cpuMicrosPerLine.toFixed(2)).join(', ')} µs`)
      return rate
    }
    console.log(`\n## Events: a java log of ${javaLines.toLocaleString()} lines, 5% in ${TRACE_LINES}-line stack traces (${logs.java.events.toLocaleString()} events), ` +
      `and ${lines.toLocaleString()} pino JSON lines, to a counting HTTP server (${rounds} rounds, in turns, medians; CPU per stored line)`)
    const javaLinesRate = show('java log, line by line:', runs.javaLines)
    const javaEventsRate = show('java log, multiline=java:', runs.javaEvents)
    const jsonLinesRate = show('pino log, as text:', runs.jsonLines)
    const jsonParsedRate = show('pino log, parse=json:', runs.jsonParsed)
    const jsonPromotedRate = show('pino log, parse=json + promote:', runs.jsonPromoted)
    const ratio = (a: Rate, b: Rate): string => (a.cpuMicrosPerLine / b.cpuMicrosPerLine).toFixed(3)
    console.log(`plugin CPU per line, multiline=java / line by line: ${ratio(javaEventsRate, javaLinesRate)}; parse=json / as text: ${ratio(jsonParsedRate, jsonLinesRate)}; ` +
      `with promote / as text: ${ratio(jsonPromotedRate, jsonLinesRate)}`)
  } finally {
    await plugin.cleanup()
    await server.close()
    fs.rmSync(logs.dir, { recursive: true, force: true })
  }
}

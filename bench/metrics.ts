import { setTimeout as sleep } from 'node:timers/promises'
import { cpuSeconds, measure, median, medianRate, type Rate } from './core.js'
import { countingServer } from './http-sink.js'
import { metricsAddress, scrape } from '../test/helpers/metrics.js'
import { PluginProcess } from '../test/helpers/plugin.js'

// What metrics cost (issue 14): the plugin's CPU per line shipping to a counting HTTP server,
// with the metrics listener on and scraped every second (15 times Prometheus's default
// interval, so an upper bound), against the same plugin with it off. The engine counts the same
// way either way; on adds the request histograms, the Node.js process metrics and the scrapes.
// Each round runs both at once, one container each, so a noisy neighbour (these machines are
// shared) weighs on both alike; the figure is the median of the rounds' ratios. The cost of
// one scrape is also measured on its own, on the idle plugin.

const SCRAPE_INTERVAL_MS = 1000
const IDLE_SCRAPES = 50

export async function benchMetrics (rounds: number, lines: number): Promise<void> {
  const off = new PluginProcess({ LOG_LEVEL: 'info' })
  const on = new PluginProcess({ LOG_LEVEL: 'info', LOGRELAY_METRICS_ADDR: '127.0.0.1:0' })
  const servers = { off: await countingServer(), on: await countingServer() }
  await off.start()
  await on.start()
  const address = await metricsAddress(on)
  let scrapes = 0
  let scraping = true
  const scraper = (async () => {
    while (scraping) {
      await scrape(address)
      scrapes++
      await sleep(SCRAPE_INTERVAL_MS)
    }
  })()
  try {
    const opts = (url: string): string[] => ['store-max-bytes=1g', 'sink=http', `http-url=${url}`]
    const rates = { off: [] as Rate[], on: [] as Rate[] }
    for (let r = 0; r < rounds; r++) {
      const [a, b] = await Promise.all([measure(off, lines, opts(servers.off.url), servers.off.records), measure(on, lines, opts(servers.on.url), servers.on.records)])
      rates.off.push(a)
      rates.on.push(b)
    }
    scraping = false
    await scraper
    const delivered = (await scrape(address)).value('logrelay_sink_delivered_records_total', { sink: 'http' })
    const cpuBefore = cpuSeconds(on.pid)
    for (let i = 0; i < IDLE_SCRAPES; i++) await scrape(address)
    const scrapeMs = (cpuSeconds(on.pid) - cpuBefore) / IDLE_SCRAPES * 1000

    const ratios = rates.on.map((v, i) => v.cpuMicrosPerLine / (rates.off[i] as Rate).cpuMicrosPerLine)
    // CPU per line with two decimals, and each run's: the figure compared here.
    const show = (label: string, runs: readonly Rate[]): void => {
      const rate = medianRate(runs)
      console.log(`${label.padEnd(26)} ${rate.cpuMicrosPerLine.toFixed(2).padStart(6)} µs CPU/line  ${Math.round(rate.linesPerSec).toLocaleString().padStart(9)} lines/s` +
        `  runs (µs/line): ${runs.map((v) => v.cpuMicrosPerLine.toFixed(2)).join(', ')}`)
    }
    console.log(`\n## Metrics: ${lines.toLocaleString()} lines from one container to a counting HTTP server, metrics off and on side by side (${rounds} rounds, medians)`)
    show('metrics off:', rates.off)
    show(`metrics on, scraped ${SCRAPE_INTERVAL_MS / 1000} s:`, rates.on)
    console.log(`plugin CPU per line, metrics on / off: ${median(ratios).toFixed(3)} (target < 1.03)  rounds: ${ratios.map((r) => r.toFixed(3)).join(', ')}`)
    const lineRate = medianRate(rates.on).linesPerSec
    console.log(`one scrape on the idle plugin: ${scrapeMs.toFixed(2)} ms CPU, so ${(scrapeMs * 1000 / (lineRate * 15)).toFixed(4)} µs per line at ${Math.round(lineRate).toLocaleString()} lines/s and Prometheus's 15 s; ` +
      `${scrapes} scrapes during the run; the scraped delivered count: ${delivered.toLocaleString()} of ${(lines * rounds).toLocaleString()}`)
  } finally {
    scraping = false
    await scraper
    await on.cleanup()
    await off.cleanup()
    await servers.off.close()
    await servers.on.close()
  }
}

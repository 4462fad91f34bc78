import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureServices } from '../services/services.js'
import { startDockerd } from './dockerd.js'

// `npm test`: starts what every test file shares once (a private dockerd, and a Kafka broker
// and an Elasticsearch node unless KAFKA_BROKERS and ES_URL name running ones), runs node's
// test runner over the compiled tests with their addresses in the environment, and stops what
// it started. Node 20's test runner has no global setup, hence this wrapper. Files run one at a
// time: outage tests stop the shared Kafka or Elasticsearch, and two cores are better spent on
// one dockerd workload than on two fighting each other.
const testDir = fileURLToPath(new URL('..', import.meta.url))

function testFiles (dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(full)
    return entry.name.endsWith('.test.js') ? [full] : []
  }).sort()
}

async function main (): Promise<number> {
  const only = process.argv.slice(2)
  const files = only.length > 0 ? only.map((f) => path.resolve(f)) : testFiles(testDir)
  const [dockerd, services] = await Promise.allSettled([startDockerd(), ensureServices()])
  try {
    if (dockerd.status === 'rejected') throw dockerd.reason
    if (services.status === 'rejected') throw services.reason
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
      env: { ...process.env, DOCKER_HOST: dockerd.value.host, KAFKA_BROKERS: services.value.kafkaBrokers, ES_URL: services.value.esUrl },
      stdio: 'inherit',
    })
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
  } finally {
    if (dockerd.status === 'fulfilled') await dockerd.value.stop()
    if (services.status === 'fulfilled') await services.value.stop()
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`npm test could not set up: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})

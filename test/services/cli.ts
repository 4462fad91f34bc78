import { ServicesError, servicesDown, servicesUp, type EnsureResult } from './services.js'

const USAGE = 'usage: node dist/test/services/cli.js up|down'

function describe (result: EnsureResult): string {
  const { service, state, pid } = result
  switch (state) {
    case 'started':
      return `${service.label}: started on ${service.address} (pid ${pid ?? '?'})`
    case 'running':
      return `${service.label}: already running on ${service.address} (pid ${pid ?? '?'})`
    case 'external':
      return `${service.label}: one not started from this checkout answers on ${service.address}; using it, leaving it alone`
  }
}

async function main (command: string | undefined): Promise<void> {
  if (command === 'up') {
    for (const result of await servicesUp()) process.stdout.write(describe(result) + '\n')
    process.stdout.write('KAFKA_BROKERS=127.0.0.1:9092 ES_URL=http://127.0.0.1:9200\n')
  } else if (command === 'down') {
    for (const { name, pid } of await servicesDown()) {
      process.stdout.write(pid === undefined ? `${name}: not running\n` : `${name}: stopped (pid ${pid}), data removed\n`)
    }
  } else {
    process.stderr.write(USAGE + '\n')
    process.exitCode = 2
  }
}

try {
  await main(process.argv[2])
} catch (err) {
  if (!(err instanceof ServicesError)) throw err
  process.stderr.write(`services: ${err.message}\n  (${err.code})\n`)
  process.exitCode = 1
}

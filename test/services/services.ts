import { mkdirSync } from 'node:fs'
import { ensureArtifacts } from './artifacts.js'
import { elasticsearchService, esAnswers } from './elasticsearch.js'
import { ServicesError, ServicesErrorCode } from './errors.js'
import { kafkaAnswers, kafkaService } from './kafka.js'
import { ensureService, interruptService, stopService, type EnsureResult, type ManagedService, type StartContext } from './managed-service.js'
import { DEFAULT_ES_URL, DEFAULT_KAFKA_BROKERS, servicePaths, type ServicePaths } from './paths.js'
import { waitOrFail, withLock } from './processes.js'
import { findJdk } from './toolchain.js'

export { ServicesError, ServicesErrorCode } from './errors.js'
export type { EnsureResult, EnsureState } from './managed-service.js'

export type ServiceName = ManagedService['name']

export interface ServicesOptions {
  // Progress lines (downloads, starts); stderr by default.
  readonly log?: (line: string) => void
  readonly env?: NodeJS.ProcessEnv
}

export interface EnsureOptions extends ServicesOptions {
  // The services wanted; both by default. A benchmark wants only its own, so the other's CPU does not skew it.
  readonly only?: readonly ServiceName[]
}

// A first run downloads ~170 MB before starting anything; a second `up` waits that long for it.
const LOCK_TIMEOUT_MS = 20 * 60_000
// docker compose up -d returns before Elasticsearch is ready; give servers we were handed time.
const GIVEN_SERVER_TIMEOUT_MS = 180_000

function defaultLog (line: string): void {
  process.stderr.write(line + '\n')
}

function allServices (paths: ServicePaths): ManagedService[] {
  return [kafkaService(paths), elasticsearchService(paths)]
}

function selected (paths: ServicePaths, names: readonly ServiceName[]): ManagedService[] {
  return allServices(paths).filter((service) => names.includes(service.name))
}

// Starts each named service unless ours already runs or a real one already answers on its port;
// returns once all answer. If one cannot be started, those this call started are stopped again.
export async function servicesUp (
  names: readonly ServiceName[] = ['kafka', 'elasticsearch'],
  options: ServicesOptions = {},
): Promise<EnsureResult[]> {
  const log = options.log ?? defaultLog
  const paths = servicePaths(options.env)
  mkdirSync(paths.cacheDir, { recursive: true })
  return withLock(paths.lockDir, LOCK_TIMEOUT_MS, async () => {
    // Java and the artifacts are needed only to start something: servers that already answer
    // (ours from an earlier `up`, or docker compose's) need neither.
    let prepared: Promise<StartContext> | undefined
    const prepare = (): Promise<StartContext> =>
      (prepared ??= (async () => {
        const jdk = await findJdk(options.env)
        await ensureArtifacts(paths, jdk, log)
        return { paths, jdk, log }
      })())
    const services = selected(paths, names)
    const outcomes = await Promise.allSettled(services.map((service) => ensureService(service, prepare)))
    const results = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []))
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []))
    if (failures.length === 0) return results
    for (const result of results) if (result.state === 'started') await stopService(result.service)
    // Both servers failing (two ports taken, say) is worth one message naming both.
    const explained = failures.filter((failure): failure is ServicesError => failure instanceof ServicesError)
    const [first] = explained
    if (first === undefined || explained.length < failures.length) throw failures[0]
    // Both may also carry one shared failure (the download): say it once.
    throw new ServicesError(first.code, [...new Set(explained.map((failure) => failure.message))].join('\n'))
  })
}

// Java and Kafka's jars (resolved once, under the lock every `up` takes) for the tests that run
// brokers of their own next to the shared one: the secure broker, the 3-broker cluster.
export async function prepareKafka (options: ServicesOptions = {}): Promise<StartContext> {
  const log = options.log ?? defaultLog
  const paths = servicePaths(options.env)
  mkdirSync(paths.cacheDir, { recursive: true })
  return await withLock(paths.lockDir, LOCK_TIMEOUT_MS, async () => {
    const jdk = await findJdk(options.env)
    await ensureArtifacts(paths, jdk, log)
    return { paths, jdk, log }
  })
}

export interface StopResult {
  readonly name: ServiceName
  // The pid that was stopped; undefined when none of ours was running.
  readonly pid: number | undefined
}

// Stops what `up` recorded (by pid, only if it is still ours) and removes its data.
export async function servicesDown (
  names: readonly ServiceName[] = ['kafka', 'elasticsearch'],
  options: ServicesOptions = {},
): Promise<StopResult[]> {
  const paths = servicePaths(options.env)
  mkdirSync(paths.cacheDir, { recursive: true })
  return withLock(paths.lockDir, LOCK_TIMEOUT_MS, async () => {
    const services = selected(paths, names)
    const pids = await Promise.all(services.map((service) => stopService(service)))
    return services.map((service, index) => ({ name: service.name, pid: pids[index] }))
  })
}

// Stops the named server (keeping its data) for `downMs`, then starts it again on the same data:
// the backend outage the sinks must ride out. Resolves once it answers again.
export async function interruptServer (name: ServiceName, downMs: number, options: ServicesOptions = {}): Promise<void> {
  const log = options.log ?? defaultLog
  const paths = servicePaths(options.env)
  const [service] = selected(paths, [name])
  if (service === undefined) throw new Error(`no service named ${name}`)
  const jdk = await findJdk(options.env)
  // Held for the whole outage: another run's ensureServices would otherwise find the recorded pid
  // dead, wipe the run directory and start a fresh node, which then holds the data lock our
  // restart needs (seen with two test runs sharing LOGRELAY_SERVICES_DIR).
  await withLock(paths.lockDir, LOCK_TIMEOUT_MS, () => interruptService(service, { paths, jdk, log }, downMs))
}

async function waitForGiven (label: string, envVar: string, value: string, answers: () => Promise<boolean>): Promise<void> {
  await waitOrFail(`${envVar}=${value} to answer`, answers, GIVEN_SERVER_TIMEOUT_MS, () => new ServicesError(
    ServicesErrorCode.NOT_ANSWERING,
    `${envVar}=${value} is set, but no ${label} answered there within ${GIVEN_SERVER_TIMEOUT_MS / 1000} s; ` +
      `start it, or unset ${envVar} to let the tests start their own`,
  ))
}

// The servers the tests and benchmarks use. KAFKA_BROKERS and ES_URL, when set, name servers of
// one's own (each is awaited, never stopped); the rest are started here unless already running,
// through the same code as `npm run services:up`. stop() stops only what this call started.
export async function ensureServices (
  options: EnsureOptions = {},
): Promise<{ kafkaBrokers: string; esUrl: string; stop: () => Promise<void> }> {
  const env = options.env ?? process.env
  const wanted = options.only ?? ['kafka', 'elasticsearch']
  const givenKafka = env['KAFKA_BROKERS'] !== undefined && env['KAFKA_BROKERS'] !== '' ? env['KAFKA_BROKERS'] : undefined
  const givenEs = env['ES_URL'] !== undefined && env['ES_URL'] !== '' ? env['ES_URL'] : undefined
  const toStart: ServiceName[] = []
  if (givenKafka === undefined && wanted.includes('kafka')) toStart.push('kafka')
  if (givenEs === undefined && wanted.includes('elasticsearch')) toStart.push('elasticsearch')

  const [results] = await Promise.all([
    toStart.length === 0 ? Promise.resolve([]) : servicesUp(toStart, options),
    givenKafka === undefined || !wanted.includes('kafka')
      ? undefined
      : waitForGiven('Kafka broker', 'KAFKA_BROKERS', givenKafka, () => kafkaAnswers(givenKafka)),
    givenEs === undefined || !wanted.includes('elasticsearch') ? undefined : waitForGiven('Elasticsearch', 'ES_URL', givenEs, () => esAnswers(givenEs)),
  ])
  const started = results.filter((result) => result.state === 'started').map((result) => result.service.name)
  return {
    kafkaBrokers: givenKafka ?? DEFAULT_KAFKA_BROKERS,
    esUrl: givenEs ?? DEFAULT_ES_URL,
    stop: async () => {
      if (started.length > 0) await servicesDown(started, options)
    },
  }
}

import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { ServicesError, ServicesErrorCode } from './errors.js'
import type { ServicePaths } from './paths.js'
import { stopPid } from '../helpers/process.js'
import { isOurs, portInUse, readPid, waitOrFail } from './processes.js'
import type { Jdk } from './toolchain.js'

export interface StartContext {
  readonly paths: ServicePaths
  readonly jdk: Jdk
  readonly log: (line: string) => void
}

// What Kafka and Elasticsearch each tell the shared up/down logic about themselves.
export interface ManagedService {
  readonly name: 'kafka' | 'elasticsearch'
  readonly label: string
  // The environment variable that points the tests at a server of one's own instead.
  readonly envVar: 'KAFKA_BROKERS' | 'ES_URL'
  readonly address: string
  // Ports it binds, all on 127.0.0.1; each must be free (or already serve this very service).
  readonly ports: readonly number[]
  readonly runDir: string
  readonly stopGraceMs: number
  // Whether a real server of this kind answers at `address` right now.
  answers: () => Promise<boolean>
  // Starts it in the (empty) run directory; resolves with its pid once it answers.
  start: (context: StartContext) => Promise<number>
}

export type EnsureState = 'started' | 'running' | 'external'

export interface EnsureResult {
  readonly service: ManagedService
  readonly state: EnsureState
  readonly pid?: number
}

export function pidFileOf (service: ManagedService): string {
  return join(service.runDir, 'pid')
}

// Put on the JVM's command line so that a recorded pid is recognised as ours (see isOurs): the
// run directory names this checkout's cache, so two checkouts never mistake each other's servers.
export function markerOf (service: ManagedService): string {
  return `-Dlogrelay.test.service=${service.runDir}`
}

const ALREADY_RUNNING_ANSWER_MS = 60_000

// `prepare` finds Java and fills the artifact cache; it is called only when a start is needed.
export async function ensureService (service: ManagedService, prepare: () => Promise<StartContext>): Promise<EnsureResult> {
  const recorded = readPid(pidFileOf(service))
  if (recorded !== undefined && isOurs(recorded, markerOf(service))) {
    await waitOrFail(`${service.label} to answer`, () => service.answers(), ALREADY_RUNNING_ANSWER_MS, () => new ServicesError(
      ServicesErrorCode.NOT_ANSWERING,
      `${service.label} (pid ${recorded}, started earlier from ${service.runDir}) is running but does not answer ` +
        `on ${service.address}; run \`npm run services:down\` and try again (its log is in ${service.runDir})`,
    ))
    return { service, state: 'running', pid: recorded }
  }
  // Whatever a dead run left behind (data, a stale pid file) would only confuse the next start.
  rmSync(service.runDir, { recursive: true, force: true })

  for (const port of service.ports) {
    if (!(await portInUse(port))) continue
    if (await service.answers()) return { service, state: 'external' }
    throw new ServicesError(
      ServicesErrorCode.PORT_TAKEN,
      `port ${port} on 127.0.0.1 is taken by a process that is not ${service.label} (\`ss -ltnp 'sport = :${port}'\` ` +
        `shows which): stop it, or run ${service.label} elsewhere and set ${service.envVar}`,
    )
  }

  const pid = await service.start(await prepare())
  return { service, state: 'started', pid }
}

// An outage as a backend really has one: the process stops (its data kept), stays down for
// `downMs`, and starts again on the same data. Only a server these tests started can be
// interrupted; one named by KAFKA_BROKERS or ES_URL belongs to someone else.
export async function interruptService (service: ManagedService, context: StartContext, downMs: number): Promise<void> {
  const recorded = readPid(pidFileOf(service))
  if (recorded === undefined || !isOurs(recorded, markerOf(service))) {
    throw new ServicesError(
      ServicesErrorCode.NOT_OURS,
      `this test stops and restarts ${service.label}, which only works with the server the tests start themselves: ` +
        `unset ${service.envVar}`,
    )
  }
  await stopPid(recorded, service.stopGraceMs)
  await new Promise((resolve) => setTimeout(resolve, downMs))
  await service.start(context)
}

// Stops the service recorded in its run directory, if it is ours and alive, then removes its data.
export async function stopService (service: ManagedService): Promise<number | undefined> {
  const recorded = readPid(pidFileOf(service))
  let stopped: number | undefined
  if (recorded !== undefined && isOurs(recorded, markerOf(service))) {
    await stopPid(recorded, service.stopGraceMs)
    stopped = recorded
  }
  rmSync(service.runDir, { recursive: true, force: true })
  return stopped
}

import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { exec, isAlive, spawnDetached, stopPid } from '../helpers/process.js'
import { ServicesError, ServicesErrorCode } from './errors.js'
import { markerOf, pidFileOf, type ManagedService, type StartContext } from './managed-service.js'
import { DEFAULT_ES_URL, ES_PORT, type ServicePaths } from './paths.js'
import { readPid, tailFile, waitOrFail } from './processes.js'

// The launcher returns once the node has started; the first start of a node takes ~25 s on 2 cores.
const LAUNCH_TIMEOUT_MS = 240_000
const READY_TIMEOUT_MS = 60_000

// GET path on an Elasticsearch URL; fetch refuses user:password in a URL, so they become a header.
async function esGet (url: string, path: string, timeoutMs: number): Promise<Response> {
  const target = new URL(path, url)
  const headers: Record<string, string> = {}
  if (target.username !== '' || target.password !== '') {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`
    headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`
    target.username = ''
    target.password = ''
  }
  const response = await fetch(target, { headers, signal: AbortSignal.timeout(timeoutMs) })
  await response.arrayBuffer()
  return response
}

// Whether a real Elasticsearch answers GET / (clients check the product header, so do we).
export async function esAnswers (url: string): Promise<boolean> {
  try {
    const response = await esGet(url, '/', 3000)
    return response.ok && response.headers.get('x-elastic-product') === 'Elasticsearch'
  } catch {
    return false
  }
}

async function clusterUsable (url: string): Promise<boolean> {
  try {
    return (await esGet(url, '/_cluster/health?wait_for_status=yellow&timeout=5s', 10_000)).ok
  } catch {
    return false
  }
}

interface RunAs {
  // Arguments to setpriv that precede the command it runs.
  readonly setprivArgs: readonly string[]
  readonly uid: number
  readonly gid: number
}

async function idOf (flag: '-u' | '-g', user: string): Promise<number> {
  const result = await exec('id', [flag, user])
  const id = Number.parseInt(result.output.trim(), 10)
  if (result.code !== 0 || !Number.isSafeInteger(id)) throw new Error(`id ${flag} ${user}: ${result.output}`)
  return id
}

// Elasticsearch refuses to start as root, and CI runs as root: then the node runs as nobody,
// which must own its run directory and be able to read the cached distribution.
async function runAsForRoot (paths: ServicePaths): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const uid = await idOf('-u', 'nobody')
  const gid = await idOf('-g', 'nobody')
  const setprivArgs = [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--']
  const jar = join(paths.esHome, 'lib', `elasticsearch-${paths.esVersion}.jar`)
  let readable
  try {
    readable = await exec('setpriv', [...setprivArgs, 'test', '-r', jar])
  } catch (err) {
    throw new ServicesError(
      ServicesErrorCode.START_FAILED,
      'Elasticsearch refuses to run as root, so the test node runs as user nobody through setpriv, ' +
        'which is missing: install util-linux',
      { cause: err },
    )
  }
  if (readable.code !== 0) {
    throw new ServicesError(
      ServicesErrorCode.NOT_READABLE,
      `Elasticsearch refuses to run as root, so the test node runs as user nobody, who cannot read ${jar} ` +
        '(a parent directory is closed to other users): set LOGRELAY_SERVICES_DIR to a directory others can ' +
        'read, e.g. /var/tmp/logrelay-services',
    )
  }
  return { setprivArgs, uid, gid }
}

function startFailed (what: string, runDir: string): ServicesError {
  const launcher = tailFile(join(runDir, 'launcher.log'), 10)
  const server = tailFile(join(runDir, 'logs', 'logrelay-test.log'), 10)
  return new ServicesError(
    ServicesErrorCode.START_FAILED,
    `Elasticsearch ${what}; logs are in ${runDir}.` +
      (launcher === '' ? '' : `\nlauncher.log:\n${launcher}`) +
      (server === '' ? '' : `\nlogs/logrelay-test.log:\n${server}`),
  )
}

function writeConfig (paths: ServicePaths, runDir: string): string {
  const configDir = join(runDir, 'config')
  mkdirSync(configDir, { recursive: true })
  for (const dir of ['data', 'logs', 'tmp']) mkdirSync(join(runDir, dir), { recursive: true })
  for (const file of ['jvm.options', 'log4j2.properties', 'jvm.options.d']) {
    const from = join(paths.esHome, 'config', file)
    if (existsSync(from)) cpSync(from, join(configDir, file), { recursive: true })
  }
  const template = readFileSync(join(paths.sourceDir, 'elasticsearch', 'elasticsearch.yml'), 'utf8')
  writeFileSync(join(configDir, 'elasticsearch.yml'), template.replaceAll('@RUN_DIR@', runDir))
  return configDir
}

export function elasticsearchService (paths: ServicePaths): ManagedService {
  const runDir = paths.esRunDir
  const service: ManagedService = {
    name: 'elasticsearch',
    label: 'Elasticsearch',
    envVar: 'ES_URL',
    address: DEFAULT_ES_URL,
    ports: [ES_PORT],
    runDir,
    stopGraceMs: 30_000,
    answers: () => esAnswers(DEFAULT_ES_URL),
    async start ({ jdk, log }: StartContext): Promise<number> {
      const configDir = writeConfig(paths, runDir)
      const runAs = await runAsForRoot(paths)
      if (runAs !== undefined) await exec('chown', ['-R', `${runAs.uid}:${runAs.gid}`, runDir])

      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ES_PATH_CONF: configDir,
        ES_TMPDIR: join(runDir, 'tmp'),
        ES_JAVA_HOME: jdk.home,
        ES_JAVA_OPTS: `-Xms1g -Xmx1g ${markerOf(service)}`,
      }
      // The launcher warns about JAVA_HOME and uses ES_JAVA_HOME anyway.
      delete env['JAVA_HOME']
      const launcher = join(paths.esHome, 'bin', 'elasticsearch')
      const launcherArgs = ['-d', '-p', pidFileOf(service)]
      log(`services: starting Elasticsearch ${paths.esVersion} on ${DEFAULT_ES_URL}`)
      // With -d the launcher forks the node, waits until it has started, and exits.
      const [program, args] =
        runAs === undefined ? [launcher, launcherArgs] : ['setpriv', [...runAs.setprivArgs, launcher, ...launcherArgs]]
      const child = await spawnDetached(program, args, {
        env,
        cwd: runDir,
        logFile: join(runDir, 'launcher.log'),
      })
      // The timer is cancelled once the launcher exits, or it would hold this process open for minutes.
      const timer = new AbortController()
      const timedOut = sleep(LAUNCH_TIMEOUT_MS, undefined, { signal: timer.signal }).catch(() => undefined)
      const launched = await Promise.race([child.exited, timedOut])
      timer.abort()
      const pid = readPid(pidFileOf(service))
      if (launched === undefined) {
        await stopPid(child.pid, 5000)
        if (pid !== undefined) await stopPid(pid, service.stopGraceMs)
        throw startFailed(`did not start within ${LAUNCH_TIMEOUT_MS / 1000} s`, runDir)
      }
      if (launched.code !== 0 || pid === undefined) {
        if (pid !== undefined && isAlive(pid)) await stopPid(pid, service.stopGraceMs)
        throw startFailed(`failed to start (launcher exit ${launched.code ?? launched.signal})`, runDir)
      }
      const usable = async (): Promise<boolean> => {
        if (!isAlive(pid)) throw startFailed('exited after starting', runDir)
        return (await esAnswers(DEFAULT_ES_URL)) && await clusterUsable(DEFAULT_ES_URL)
      }
      await waitOrFail('Elasticsearch to answer', usable, READY_TIMEOUT_MS, async () => {
        await stopPid(pid, service.stopGraceMs)
        return startFailed(`started but did not answer on ${DEFAULT_ES_URL} within ${READY_TIMEOUT_MS / 1000} s`, runDir)
      })
      return pid
    },
  }
  return service
}
